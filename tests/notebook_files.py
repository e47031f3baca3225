"""Hand-made notebooks for the runner's tests: a parameters cell, then code cells, on the project's kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat

from etl_helpers.kernels import KERNEL_NAME


def write_notebook(path: Path, params: str, *cells: str) -> None:
    notebook = nbformat.v4.new_notebook()
    kernelspec = {"name": KERNEL_NAME, "display_name": "Python (etl-helpers)", "language": "python"}
    notebook.metadata["kernelspec"] = kernelspec
    notebook.cells = [nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]})]
    notebook.cells += [nbformat.v4.new_code_cell(cell) for cell in cells]
    nbformat.write(notebook, path)
