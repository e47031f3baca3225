"""Keep committed notebooks clean: no outputs, no execution counts, one literal parameters cell
(each parameter set by the runner or declared in ``etl_helpers.parameters``, with the declared
default), the project kernel.

``python -m etl_helpers.notebook_hygiene --check notebooks/*.ipynb`` lists offenders (exit 1);
``--strip FILE...`` cleans files in place; ``--strip-stdin`` is the git clean filter that
``make install`` registers for ``*.ipynb``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat
import papermill

from etl_helpers.kernels import KERNEL_NAME
from etl_helpers.parameters import PARAMETERS, RUNNER_SET, declared
from etl_helpers.run.steps import STEPS


def strip(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    notebook.metadata.pop("papermill", None)
    return notebook


def problems(path: Path) -> list[str]:
    """What is wrong with a committed notebook (empty list when it is clean)."""
    notebook = nbformat.read(path, as_version=4)
    found = []
    code = [c for c in notebook.cells if c.cell_type == "code"]
    if any(c.outputs or c.execution_count for c in code):
        found.append("has outputs or execution counts")
    parameter_cells = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    if len(parameter_cells) != 1:
        found.append(f"needs exactly one cell tagged 'parameters' (has {len(parameter_cells)})")
    else:
        for node in ast.parse(parameter_cells[0].source).body:
            if not isinstance(node, ast.AnnAssign) or not isinstance(node.value, ast.Constant):
                found.append(f"parameters cell line {node.lineno}: expected 'name: type = literal  # comment'")
        lines = [line for line in parameter_cells[0].source.splitlines() if line.strip()]
        if any("#" not in line for line in lines):
            found.append("every parameter needs a comment")
        try:
            understood = set(papermill.inspect_notebook(str(path)))
        except ValueError as error:  # e.g. no kernelspec to tell the language
            return found + [f"papermill cannot read the notebook: {error}"]
        assignments = [
            n
            for n in ast.parse(parameter_cells[0].source).body
            if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
        ]
        declared = {n.target.id for n in assignments if isinstance(n.target, ast.Name)}
        if declared - understood:
            found.append(
                f"papermill cannot read parameter(s) {sorted(declared - understood)}: avoid '=' in their comments"
            )
        literals: dict[str, object] = {
            n.target.id: n.value.value
            for n in assignments
            if isinstance(n.target, ast.Name) and isinstance(n.value, ast.Constant)
        }
        found += _undeclared(path.stem, literals)
    kernel = notebook.metadata.get("kernelspec", {}).get("name")
    if kernel != KERNEL_NAME:
        found.append(f"kernelspec is {kernel!r}: use the project kernel {KERNEL_NAME!r}")
    return found


def _undeclared(notebook: str, literals: dict[str, object]) -> list[str]:
    """The parameters of a notebook that are neither set by the runner nor declared in
    :mod:`etl_helpers.parameters` (for its mart: a notebook outside the pipeline's steps may
    take those of any mart), and the literal defaults that differ from the declared ones."""
    mart = next((step.mart for step in STEPS if step.notebook == notebook), None)
    found, missing = [], []
    for name, value in literals.items():
        if name in RUNNER_SET:
            continue
        if mart is None:
            declarations = declared(name)
        else:
            declarations = [PARAMETERS[mart][name]] if name in PARAMETERS.get(mart, {}) else []
        if not declarations:
            missing.append(name)
        elif not any(value == d.default and type(value) is type(d.default) for d in declarations):
            defaults = " or ".join(repr(d.default) for d in declarations)
            found.append(
                f"parameter {name} = {value!r}: its declared default is {defaults} (etl_helpers.parameters.PARAMETERS)"
            )
    if missing:
        found.append(f"parameter(s) {sorted(missing)} need a declaration in etl_helpers.parameters.PARAMETERS")
    return found


def main(argv: list[str]) -> int:
    if argv[:1] == ["--strip-stdin"]:
        notebook = nbformat.read(sys.stdin, as_version=4)
        nbformat.write(strip(notebook), sys.stdout)
        return 0
    if argv[:1] == ["--strip"]:
        for name in argv[1:]:
            nbformat.write(strip(nbformat.read(name, as_version=4)), name)
        return 0
    if argv[:1] == ["--check"]:
        bad = {name: problems(Path(name)) for name in argv[1:]}
        for name, issues in bad.items():
            for issue in issues:
                print(f"{name}: {issue}")
        return 1 if any(bad.values()) else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
