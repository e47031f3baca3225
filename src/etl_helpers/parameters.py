"""The documented bounds of the notebooks' parameters, declared once.

A notebook declares each parameter (name, type, default) in its ``parameters`` cell; this
module adds what a cell cannot say: the range a value must fall in, and which parameters the
runner sets itself (never overridden with ``-p``). The runner checks every ``-p`` against
both before anything starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

# Parameters the runner fills itself: the run's date, its ids, its source and its folders.
RUNNER_SET = frozenset({"run_date", "run_id", "source", "scale", "seed", "profile", "raw_path", "points_rate",
                        "export_dir", "currency"})

# The run dates the pipeline accepts (calendar tables, partitions and windows stay sane).
FIRST_RUN_DATE = date(2000, 1, 1)
LAST_RUN_DATE = date(2100, 12, 31)
# A backfill of more days than this asks for --yes (each day is a whole run).
MAX_BACKFILL_DAYS = 31


@dataclass(frozen=True)
class Bound:
    low: float
    high: float
    low_inclusive: bool = True

    def contains(self, value: float) -> bool:
        above = value >= self.low if self.low_inclusive else value > self.low
        return above and value <= self.high

    def __str__(self) -> str:
        return f"{'[' if self.low_inclusive else '('}{_fmt(self.low)}, {_fmt(self.high)}]"


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


SHARE = Bound(0, 1, low_inclusive=False)  # a share of baskets or of a count: (0, 1]

# name -> bound. max_len bounds the rule search (case 51): 5 items at most per rule.
BOUNDS: dict[str, Bound] = {
    "min_support": SHARE,
    "min_confidence": SHARE,
    "category_min_support": SHARE,
    "category_min_confidence": SHARE,
    "max_len": Bound(2, 5),
    "window_days": Bound(1, 3660),
    "kpi_months": Bound(1, 120),
    "daily_days": Bound(1, 3660),
    "top_n": Bound(1, 10_000),
    "group_top_n": Bound(1, 10_000),
    "top_rules": Bound(1, 1_000),
    "target_top_n": Bound(1, 100),
}


class ParameterError(ValueError):
    """A ``-p NAME VALUE`` that no notebook can take."""


def parse_value(name: str, text: str, default: object):
    """``text`` as the type of the parameter's ``default``, checked against its bound."""
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
    bound = BOUNDS.get(name)
    if bound is not None and not bound.contains(value):  # type: ignore[arg-type]
        raise ParameterError(f"-p {name} {text}: out of range, {name} must be in {bound}")
    return value
