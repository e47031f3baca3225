from pathlib import Path

import nbformat

from etl_helpers.notebook_hygiene import problems, strip
from etl_helpers.settings import PROJECT_ROOT

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


def test_committed_notebooks_are_clean_and_parameterised():
    assert len(NOTEBOOKS) >= 4
    assert {p.name: problems(p) for p in NOTEBOOKS} == {p.name: [] for p in NOTEBOOKS}


def test_strip_removes_outputs(tmp_path: Path):
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 + 1", metadata={"tags": ["parameters"]})
    cell.execution_count = 3
    cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=3)]
    notebook.cells = [cell]
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    assert "has outputs or execution counts" in problems(path)
    nbformat.write(strip(nbformat.read(path, as_version=4)), path)
    assert "has outputs or execution counts" not in problems(path)


def test_a_notebook_on_another_kernel_or_with_an_unbounded_number_is_flagged(tmp_path: Path):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(
        'run_date: str = "2026-11-30"  # ISO date\nmin_support: float = 0.01  # share\nmystery: int = 7  # ?',
        metadata={"tags": ["parameters"]})]
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    found = problems(path)
    assert "kernelspec is 'python3': use the project kernel 'etl-helpers'" in found
    assert "parameter(s) ['mystery'] need a declaration in etl_helpers.parameters.PARAMETERS" in found
