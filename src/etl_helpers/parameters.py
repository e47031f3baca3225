"""Every parameter of the pipeline, declared once: its default, what it means, its bounds.

A mart notebook repeats its parameters in its ``parameters`` cell (papermill needs literals
there): the notebook hygiene check and the tests hold those literal defaults equal to the
ones declared here. Everything that checks a value (the command line's ``-p NAME VALUE``,
:func:`etl_helpers.marts.open_run`, :func:`etl_helpers.marts.compute`) checks it with
:meth:`Parameter.check`. The parameters the runner sets itself (:data:`RUNNER_SET`) are never
overridden with ``-p``; the run dates it accepts lie between :data:`FIRST_RUN_DATE` and
:data:`LAST_RUN_DATE`.

This module stays light (no pandas, no matplotlib): the command line imports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from etl_helpers.settings import MART_NAMES

# Parameters the runner fills itself: the run's date, its ids, its source and its folders.
RUNNER_SET = frozenset(
    {"run_date", "run_id", "source", "scale", "seed", "profile", "raw_path", "points_rate", "export_dir", "currency"}
)

# The run dates the pipeline accepts (calendar tables, partitions and windows stay sane).
FIRST_RUN_DATE = date(2000, 1, 1)
LAST_RUN_DATE = date(2100, 12, 31)
# A backfill of more days than this asks for --yes (each day is a whole run).
MAX_BACKFILL_DAYS = 31


class ParameterError(ValueError):
    """A parameter value that no notebook can take (wrong type or out of its bounds)."""


@dataclass(frozen=True)
class Parameter:
    """A mart parameter: its default, what it means, and its bounds (``low`` < value when
    ``low_open``, else ``low`` <= value; value <= ``high``). The type of the default is the
    parameter's type."""

    default: int | float
    help: str
    low: float = 1
    high: float = math.inf
    low_open: bool = False

    @property
    def bounds(self) -> str:
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"

    def check(self, name: str, value: Any) -> int | float:
        """``value`` itself when it has the parameter's type and lies in its bounds; otherwise
        a :class:`ParameterError` naming the parameter and its bounds."""
        kind = type(self.default)
        wrong_kind = kind is int and not isinstance(value, int)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or wrong_kind:
            raise ParameterError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
        too_low = value <= self.low if self.low_open else value < self.low
        if too_low or value > self.high or value != value:
            raise ParameterError(f"{name} must lie in {self.bounds}, got {value!r}")
        return value


def _share(default: float, help: str) -> Parameter:
    """A share of baskets or of a count: in (0, 1]."""
    return Parameter(default, help, low=0, high=1, low_open=True)


FIDELITE, VENTE = MART_NAMES

# mart -> name -> its declaration. max_len's high bound is the bound on the rule search (case 51).
PARAMETERS: dict[str, dict[str, Parameter]] = {
    FIDELITE: {
        "window_days": Parameter(
            365,
            "trailing window (days, run date included) for frequency, monetary, activity, baskets and purchase days",
            high=3660,
        ),
        "kpi_months": Parameter(
            12, "calendar months in loyalty_kpis, the run date's month (partial) included", high=120
        ),
        "top_n": Parameter(10, "customers kept per store in top_loyal_clients_by_store", high=1000),
        "min_support": _share(0.01, "product rules: an itemset is frequent if in at least this share of baskets"),
        "min_confidence": _share(
            0.2, "product rules: keep X -> y when count(X + y) is at least this share of count(X)"
        ),
        "max_len": Parameter(
            3, "largest itemset (left-hand side + right-hand side) mined; 2 means pairs only", low=2, high=5
        ),
        "category_min_support": _share(0.05, "category rules: minimum support"),
        "category_min_confidence": _share(0.3, "category rules: minimum confidence"),
        "top_rules": Parameter(15, "rules shown in the charts", high=200),
        "target_top_n": Parameter(3, "categories flagged as targets per segment (if over-indexed)", high=100),
    },
    VENTE: {
        "top_n": Parameter(20, "products kept in top_products_by_quantity", high=1000),
        "group_top_n": Parameter(10, "products kept per category, per region and per year", high=1000),
        "daily_days": Parameter(90, "days in sales_daily, the run date included", high=3660),
    },
}


def declared(name: str) -> list[Parameter]:
    """The declarations of ``name`` in every mart (``top_n`` has one per mart)."""
    return [params[name] for params in PARAMETERS.values() if name in params]


def parse_value(name: str, text: str, default: object, marts: tuple[str, ...] = MART_NAMES) -> object:
    """``text`` (a ``-p NAME VALUE``) as the type of the notebook's ``default``, checked by
    :meth:`Parameter.check` against the declaration of ``name`` in each of ``marts``."""
    kind = type(default)
    try:
        if kind is bool:
            value: object = {"true": True, "false": False}[text.strip().lower()]
        elif kind is int:
            value = int(text)
        elif kind is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
        else:
            value = text
    except (KeyError, ValueError):
        raise ParameterError(f"-p {name} {text!r}: expected {kind.__name__} (default {default!r})") from None
    for mart in marts:
        parameter = PARAMETERS.get(mart, {}).get(name)
        if parameter is not None:
            try:
                parameter.check(name, value)
            except ParameterError as error:
                raise ParameterError(f"-p {name} {text}: out of range, {error}") from None
    return value
