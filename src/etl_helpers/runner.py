"""The runner's public face (``from etl_helpers import runner``); the work is done in
:mod:`etl_helpers.run`, split by job."""

from etl_helpers.run.execute import StepRecord, render_html
from etl_helpers.run.manifest import history, new_run_id, published_manifest_path, run_dir
from etl_helpers.run.params import declared_parameters, resolve_overrides
from etl_helpers.run.pipeline import (
    RUN_LOCK_KEY,
    RecordUnwritable,
    RedactingFormatter,
    RunLocked,
    StepFailed,
    code_version,
    is_interactive,
    run,
    run_lock,
    run_one_date,
)
from etl_helpers.run.steps import STEPS, RunRequest, Step, UsageError, date_range, parse_run_date, select_steps

__all__ = [
    "RUN_LOCK_KEY",
    "STEPS",
    "RecordUnwritable",
    "RedactingFormatter",
    "RunLocked",
    "RunRequest",
    "Step",
    "StepFailed",
    "StepRecord",
    "UsageError",
    "code_version",
    "date_range",
    "declared_parameters",
    "history",
    "is_interactive",
    "new_run_id",
    "parse_run_date",
    "published_manifest_path",
    "render_html",
    "resolve_overrides",
    "run",
    "run_dir",
    "run_lock",
    "run_one_date",
    "select_steps",
]
