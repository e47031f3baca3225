"""The pipeline's steps, and what a run is asked to do: its dates, its steps, its options."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from etl_helpers.parameters import FIRST_RUN_DATE, LAST_RUN_DATE, MAX_BACKFILL_DAYS
from etl_helpers.sources import SourceOptions

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class UsageError(ValueError):
    """Bad command-line input: reported in one line, exit code 2, nothing run."""


@dataclass(frozen=True)
class Step:
    notebook: str  # file stem in notebooks/
    mart: str  # "pipeline" or the mart whose export folder receives it

    @property
    def short_name(self) -> str:
        return self.notebook.split("_", 1)[1]


STEPS: tuple[Step, ...] = (
    Step("00_schema", "pipeline"),
    Step("10_dimensions", "pipeline"),
    Step("20_facts", "pipeline"),
    Step("30_views", "pipeline"),
    Step("40_fidelite_segmentation", "fact_fidelite_mart"),
    Step("41_fidelite_affinity", "fact_fidelite_mart"),
    Step("50_vente_products", "fact_vente_mart"),
    Step("51_vente_geo_time", "fact_vente_mart"),
)


@dataclass
class RunRequest:
    run_dates: list[date]
    source: str = "demo"
    options: SourceOptions = field(default_factory=SourceOptions)
    steps: list[Step] = field(default_factory=lambda: list(STEPS))
    overrides: dict[str, object] = field(default_factory=dict)
    cell_timeout: float = 3600
    lock_wait: float = 0.0
    progress: bool = False
    jobs: int = 2  # mart notebooks run in parallel on this many processes
    run_id: str | None = None  # join (or create) this run; default: a new id per date
    force: bool = False  # recompute every step, even one whose inputs are unchanged


def parse_run_date(text: str) -> date:
    """A strict ISO calendar date (YYYY-MM-DD) within the documented range."""
    if not ISO_DATE.match(text or ""):
        raise UsageError(f"invalid date {text!r}: expected YYYY-MM-DD")
    try:
        value = date.fromisoformat(text)
    except ValueError as error:
        raise UsageError(f"invalid date {text!r}: {error}") from None
    if not FIRST_RUN_DATE <= value <= LAST_RUN_DATE:
        raise UsageError(f"invalid date {text!r}: run dates go from {FIRST_RUN_DATE} to {LAST_RUN_DATE}")
    return value


def date_range(first: date, last: date, confirmed: bool = False) -> list[date]:
    """Every day from ``first`` to ``last``; more than MAX_BACKFILL_DAYS needs ``confirmed``."""
    if last < first:
        raise UsageError(f"--end {last} is before --start {first}")
    days = (last - first).days + 1
    if days > MAX_BACKFILL_DAYS and not confirmed:
        raise UsageError(
            f"a backfill of {days} days (over {MAX_BACKFILL_DAYS}) runs the whole pipeline "
            "once per day: pass --yes to confirm"
        )
    return [first + timedelta(days=n) for n in range(days)]


def select_steps(
    only: list[str] | None = None, start_from: str | None = None, steps: tuple[Step, ...] = STEPS
) -> list[Step]:
    """Steps named by --only (any number) or from --from onwards; names or short names."""

    def find(name: str) -> int:
        for index, step in enumerate(steps):
            if name in (step.notebook, step.short_name):
                return index
        valid = ", ".join(s.notebook for s in steps)
        raise UsageError(f"unknown step {name!r}; valid steps: {valid}")

    if only and start_from:
        raise UsageError("use either --only or --from, not both")
    if only:
        wanted = sorted({find(n) for n in only})
        return [steps[i] for i in wanted]
    if start_from:
        return list(steps[find(start_from) :])
    return list(steps)
