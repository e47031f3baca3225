"""Every parameter declared once (etl_helpers.parameters): the marts, the rule search, the
command line and the notebook hygiene check all read that one declaration and check values
with the one Parameter.check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from etl_helpers import marts, parameters
from etl_helpers.marts import rules
from etl_helpers.notebook_hygiene import problems
from etl_helpers.parameters import PARAMETERS, ParameterError, parse_value


def test_the_marts_and_the_rule_search_read_the_one_declaration():
    assert marts.PARAMETERS is PARAMETERS and marts.Parameter is parameters.Parameter
    fidelite = PARAMETERS[marts.FIDELITE]
    assert rules.WINDOW_DAYS == fidelite["window_days"].default
    assert (rules.MIN_SUPPORT, rules.MIN_CONFIDENCE) == (fidelite["min_support"].default,
                                                         fidelite["min_confidence"].default)
    assert (rules.CATEGORY_MIN_SUPPORT, rules.CATEGORY_MIN_CONFIDENCE) == (
        fidelite["category_min_support"].default, fidelite["category_min_confidence"].default)
    assert (rules.DEFAULT_MAX_LEN, rules.MAX_LEN) == (fidelite["max_len"].default, fidelite["max_len"].high)


def _edges(parameter: parameters.Parameter) -> list[int | float]:
    """Values on and around a parameter's bounds, of its type."""
    if isinstance(parameter.default, int):
        return [int(parameter.low) - 1, int(parameter.low), int(parameter.high), int(parameter.high) + 1]
    return [parameter.low, parameter.low + 1e-9, parameter.high, parameter.high + 1e-9]


def _accepted_by_the_marts(mart: str, name: str, value) -> bool:
    try:
        marts.parameters(mart, (name,), {name: value})
    except ValueError:
        return False
    return True


def _accepted_by_the_command_line(mart: str, name: str, value) -> bool:
    try:
        parse_value(name, repr(value), PARAMETERS[mart][name].default, (mart,))
    except ParameterError:
        return False
    return True


@pytest.mark.parametrize("mart, name", [(m, n) for m, params in PARAMETERS.items() for n in params])
def test_the_command_line_and_the_marts_accept_the_same_values(mart, name):
    parameter = PARAMETERS[mart][name]
    for value in _edges(parameter):
        assert _accepted_by_the_command_line(mart, name, value) == _accepted_by_the_marts(mart, name, value), value
    assert _accepted_by_the_marts(mart, name, parameter.default)


def test_the_bounds_once_disagreeing_are_one_now():
    assert not _accepted_by_the_command_line(marts.VENTE, "top_n", 5000)       # once 10 000 on the command line
    assert not _accepted_by_the_command_line(marts.FIDELITE, "top_rules", 500)  # once 1 000
    assert not _accepted_by_the_marts(marts.FIDELITE, "min_confidence", 0.0)    # once [0, 1] in the marts
    with pytest.raises(ParameterError, match=r"-p top_n 5000: out of range, top_n must lie in \[1, 1000\]"):
        parse_value("top_n", "5000", 20, (marts.VENTE,))


def test_the_parameters_module_stays_light():
    imported = subprocess.run([sys.executable, "-c", "import sys, etl_helpers.parameters; "
                               "print(sorted(m for m in ('pandas', 'matplotlib', 'pyarrow') if m in sys.modules))"],
                              capture_output=True, text=True, check=True).stdout.strip()
    assert imported == "[]"


def test_a_notebook_literal_default_other_than_the_declared_one_is_flagged(tmp_path: Path):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "etl-helpers", "display_name": "Python (etl-helpers)",
                                       "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(
        'run_date: str = "2026-11-30"  # ISO date\ntop_n: int = 10  # products kept\ndaily_days: int = 90  # days',
        metadata={"tags": ["parameters"]})]
    path = tmp_path / "50_vente_products.ipynb"  # a vente notebook: its top_n defaults to 20, not fidelite's 10
    nbformat.write(notebook, path)
    assert problems(path) == ["parameter top_n = 10: its declared default is 20 (etl_helpers.parameters.PARAMETERS)"]
    elsewhere = tmp_path / "scratch.ipynb"  # outside the steps: any mart's declaration will do
    nbformat.write(notebook, elsewhere)
    assert problems(elsewhere) == []
