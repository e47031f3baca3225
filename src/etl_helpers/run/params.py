"""The parameters each notebook receives: the runner's own (run date, ids, source, folders)
and the ``-p NAME VALUE`` overrides, checked against the notebooks' parameters cells and the
parameters' declarations (:mod:`etl_helpers.parameters`) before anything starts."""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import papermill

from etl_helpers.parameters import RUNNER_SET, ParameterError, parse_value
from etl_helpers.run.execute import header_markdown
from etl_helpers.run.steps import RunRequest, Step, UsageError
from etl_helpers.settings import Settings


@cache
def _declared(path: str, mtime_ns: int) -> dict[str, object]:
    declared = {}
    for name, info in papermill.inspect_notebook(path).items():
        try:
            declared[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            declared[name] = info["default"]
    return declared


def declared_parameters(notebook: Path) -> dict[str, object]:
    """Name -> default of each parameter the notebook's ``parameters`` cell declares."""
    return dict(_declared(str(notebook), notebook.stat().st_mtime_ns))


def resolve_overrides(pairs: list[tuple[str, str]], steps: list[Step], notebooks_dir: Path) -> dict[str, object]:
    """``-p NAME VALUE`` pairs as typed values; raises UsageError for a name no selected
    notebook declares (naming the closest valid one), a parameter the runner sets, or a
    value of the wrong type or out of its bounds."""
    declared: dict[str, object] = {}
    marts: dict[str, tuple[str, ...]] = {}  # name -> the marts of the notebooks declaring it
    for step in steps:
        for name, default in declared_parameters(notebooks_dir / f"{step.notebook}.ipynb").items():
            declared.setdefault(name, default)
            marts[name] = marts.get(name, ()) + (step.mart,)
    settable = sorted(n for n in declared if n not in RUNNER_SET)
    overrides: dict[str, object] = {}
    for name, text in pairs:
        if name in RUNNER_SET:
            raise UsageError(
                f"-p {name}: set by the runner itself (use the command's options, "
                "e.g. --date, --source, --scale, --seed, --raw, --points-rate)"
            )
        if name not in declared:
            close = difflib.get_close_matches(name, settable, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UsageError(
                f"-p {name}: no selected notebook declares it; {hint}valid names: {', '.join(settable) or '(none)'}"
            )
        try:
            overrides[name] = parse_value(name, text, declared[name], marts[name])
        except ParameterError as error:
            raise UsageError(str(error)) from None
    return overrides


def step_parameters(notebook: Path, available: dict[str, object]) -> dict[str, object]:
    """The values of ``available`` that the notebook declares."""
    declared = declared_parameters(notebook)
    return {name: value for name, value in available.items() if name in declared}


@dataclass(frozen=True)
class StepJob:
    """Everything one step needs."""

    step: Step
    source: Path
    executed: Path
    parameters: dict
    header: str
    title: str
    cell_timeout: float
    progress: bool


def step_jobs(
    run_date: date,
    manifest: dict,
    out_dirs: dict[str, Path],
    request: RunRequest,
    settings: Settings,
    notebooks_dir: Path,
) -> list[StepJob]:
    """Each step's notebook, where it is saved, the parameters it gets (the runner's and the
    overrides, those it declares) and the header of its report."""
    jobs = []
    overrides = ", ".join(f"{k} = {v}" for k, v in manifest["overrides"].items()) or "none"
    for step in request.steps:
        source = notebooks_dir / f"{step.notebook}.ipynb"
        out = out_dirs[step.mart]
        shown = settings.export_dir(step.mart, run_date.isoformat()) if step.mart != "pipeline" else out
        available = {
            "run_date": run_date.isoformat(),
            "run_id": manifest["ledger_run_id"],
            "source": request.source,
            "scale": request.options.scale,
            "seed": request.options.seed,
            "profile": request.options.profile,
            "raw_path": str(request.options.raw) if request.options.raw else "",
            "points_rate": request.options.points_rate,
            "export_dir": str(out),
            "currency": manifest["currency"],
            **request.overrides,
        }
        header = header_markdown(
            step.notebook,
            {
                "run date": run_date.isoformat(),
                "source": f"{request.source} ({manifest['currency']})",
                "overrides": overrides,
                "run id": manifest["run_id"],
                "code version": manifest["code_version"] or "unknown",
                "export folder": _shown_path(shown, settings),
            },
        )
        jobs.append(
            StepJob(
                step,
                source,
                out / f"{step.notebook}.ipynb",
                step_parameters(source, available),
                header,
                f"{step.notebook} — {run_date.isoformat()}",
                request.cell_timeout,
                request.progress,
            )
        )
    return jobs


def _shown_path(path: Path, settings: Settings) -> str:
    try:
        return path.relative_to(settings.workdir).as_posix()
    except ValueError:
        return str(path)
