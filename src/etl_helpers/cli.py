"""``run_pipeline.py`` (console script ``loyalty-pipeline``): parse and check the command line,
then hand over to the runner.

Exit codes: 0 success, 1 a run failure (bad input data, failed notebook, database
unreachable, another run in progress, any unexpected error), 2 a usage error (a bad option or
parameter, checked before anything starts: nothing was run or written).

Every error reaches the console as one redacted line; a traceback goes to the run's
``run.log`` only (redacted too).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from datetime import date
from pathlib import Path

from etl_helpers import db, runner, schema
from etl_helpers.contract import list_raw_files
from etl_helpers.kernels import quiet_jupyter_paths
from etl_helpers.parameters import FIRST_RUN_DATE, LAST_RUN_DATE, MAX_BACKFILL_DAYS
from etl_helpers.run.manifest import RUN_ID
from etl_helpers.settings import Settings, SettingsError, load_settings
from etl_helpers.sources import SOURCE_NAMES, SourceOptions

log = logging.getLogger("run_pipeline")
PROG = "run_pipeline.py"
SCALES = ("small", "medium", "large")
# options --reset-database accepts beside itself
RESET_OPTIONS = {"reset_database", "dry_run", "yes", "wait", "log_level"}


def _finite(kind, minimum: float, strict: bool):
    def parse(text: str):
        value = kind(text)
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected a finite number {'>' if strict else '>='} {minimum:g}"
            )
        return value

    parse.__name__ = kind.__name__
    return parse


def _run_id(text: str) -> str:
    if not RUN_ID.match(text):
        raise argparse.ArgumentTypeError(f"{text!r}: expected letters, digits and ._:+- (at most 128)")
    return text


def _number(
    parser: argparse.ArgumentParser,
    flag: str,
    default: float,
    help: str,
    kind: type = float,
    minimum: float = 0,
    strict: bool = False,
    metavar: str | None = None,
) -> None:
    """An option taking a finite number >= minimum (> minimum when strict)."""
    parser.add_argument(flag, type=_finite(kind, minimum, strict), default=default, metavar=metavar, help=help)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Load the raw extracts and run the analysis notebooks for a run date.",
        epilog=f"Steps: {', '.join(s.notebook for s in runner.STEPS)}. Run dates: {FIRST_RUN_DATE} "
        f"to {LAST_RUN_DATE}. Exit codes: 0 success, 1 run failure, 2 usage error.",
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--date", help="run date YYYY-MM-DD (default: today)")
    when.add_argument("--start", help="first date of a backfill range (with --end)")
    parser.add_argument("--end", help="last date of a backfill range (with --start)")
    parser.add_argument(
        "--yes", action="store_true", help=f"confirm: a backfill over {MAX_BACKFILL_DAYS} days, --reset-database"
    )
    parser.add_argument("--source", choices=SOURCE_NAMES, default="demo", help="where the raw data comes from")
    parser.add_argument("--raw", type=Path, help="canonical source: folder of extracts in the contract's layout")
    parser.add_argument("--scale", choices=SCALES, default="small", help="demo source size (default small)")
    parser.add_argument("--seed", type=int, default=42, help="demo source seed (default 42)")
    parser.add_argument(
        "--profile",
        choices=("retail", "wholesale"),
        default="retail",
        help="demo source basket shape (default retail; wholesale: ~25 lines per ticket, a tail past 1,000)",
    )
    _number(parser, "--points-rate", 0.10, "superstore source: loyalty points per unit of amount (default 0.10)")
    parser.add_argument("--only", action="append", metavar="STEP", help="run only this step (repeatable)")
    parser.add_argument("--from", dest="start_from", metavar="STEP", help="run from this step onwards")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        default=[],
        help="override a notebook parameter (checked against the notebooks that declare it)",
    )
    parser.add_argument(
        "--run-id",
        type=_run_id,
        metavar="ID",
        help="join (or create) this run: several --only invocations with one id are one run",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="recompute every step, even those whose inputs are unchanged since their last run",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would run, with each notebook's parameters; run nothing"
    )
    _number(parser, "--jobs", 2, "mart notebooks run in parallel (default 2)", kind=int, minimum=1)
    _number(parser, "--cell-timeout", 3600.0, "seconds a notebook cell may run (default 3600)", strict=True)
    _number(
        parser, "--wait", 0.0, "wait this long for another run's lock instead of refusing at once", metavar="SECONDS"
    )
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--history", action="store_true", help="list past runs, then exit")
    parser.add_argument("--json", action="store_true", help="with --history: print the runs as JSON")
    parser.add_argument(
        "--reset-database",
        action="store_true",
        help="drop the pipeline's schemas (under the run lock; --dry-run shows what), then exit",
    )
    return parser


def run_dates(args: argparse.Namespace) -> list[date]:
    if args.start or args.end:
        if not (args.start and args.end):
            raise runner.UsageError("--start and --end go together")
        first, last = runner.parse_run_date(args.start), runner.parse_run_date(args.end)
        return runner.date_range(first, last, confirmed=args.yes)
    return [runner.parse_run_date(args.date) if args.date is not None else date.today()]


def check_raw_folder(raw: Path, up_to: date) -> None:
    """A --raw folder must hold at least one file of the contract dated on or before the run."""
    if not raw.is_dir():
        raise runner.UsageError(f"--raw {raw}: no such folder")
    try:
        found = list_raw_files(raw, up_to)
    except ValueError:
        return  # a misnamed file: the load names it, as a data error
    if not found:
        raise runner.UsageError(
            f"--raw {raw}: no raw file of the contract (e.g. sales/sales_YYYY-MM-DD.csv) dated on or before {up_to}"
        )


class ConsoleFormatter(runner.RedactingFormatter):
    """One line per record on the console: tracebacks go to run.log only."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text
        record.exc_info = record.exc_text = None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text = saved


class CurrentStderrHandler(logging.StreamHandler):
    """A console handler writing to ``sys.stderr`` as it is when a record comes, not as it was
    when the handler was made: a caller that swaps it (a test capturing output, say) gets the
    records, and one that closed it leaves no handler writing to a closed stream."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # StreamHandler sets it; always the current stderr
        pass


def configure_logging(level: str) -> None:
    handler = CurrentStderrHandler()
    handler.setFormatter(ConsoleFormatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    handler.setLevel(level)
    logging.basicConfig(level=min(logging.INFO, logging.getLevelName(level)), handlers=[handler], force=True)
    for noisy in ("papermill", "traitlets", "nbconvert", "asyncio", "blib2to3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _error(message: str) -> None:
    print(f"{PROG}: error: {db.redact(message)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """The command; any error ends as one redacted line on stderr, never a traceback."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        _error("interrupted")
        return 1
    except Exception as error:  # the one top-level handler (case 46)
        _error(f"{type(error).__name__}: {str(error).strip()}".splitlines()[0])
        return 1


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.reset_database:
            _check_reset_alone(args)
        elif args.history:
            pass
        else:
            request = _request(args)
    except runner.UsageError as error:
        _error(str(error))
        return 2

    try:
        settings = load_settings()
    except SettingsError as error:
        _error(str(error))
        return 2
    quiet_jupyter_paths()
    if args.history:
        return show_history(settings, as_json=args.json)
    configure_logging(args.log_level)
    if args.reset_database:
        return reset_database(settings, args)
    if args.dry_run:
        return dry_run(request, settings)
    try:
        runner.run(request, settings)
    except schema.SourceMismatch as error:
        _error(str(error))
        return 2
    except (runner.RunLocked, runner.RecordUnwritable) as error:
        _error(str(error))
        return 1
    except (runner.StepFailed, db.DatabaseUnavailable) as error:
        log.error("run failed: %s", db.redact(str(error)))
        return 1
    return 0


def _request(args: argparse.Namespace) -> runner.RunRequest:
    """The run the command asks for, every option checked (UsageError otherwise)."""
    if args.json:
        raise runner.UsageError("--json goes with --history")
    dates = run_dates(args)
    steps = runner.select_steps(args.only, args.start_from)
    if args.source == "canonical" and not args.raw:
        raise runner.UsageError("--source canonical needs --raw PATH")
    raw = args.raw.resolve() if args.raw else None  # the notebooks run in notebooks/, not here
    if raw:
        check_raw_folder(raw, max(dates))
    settings = Settings()
    overrides = runner.resolve_overrides([tuple(p) for p in args.parameter], steps, settings.notebooks_dir)
    return runner.RunRequest(
        run_dates=dates,
        source=args.source,
        options=SourceOptions(
            scale=args.scale, seed=args.seed, profile=args.profile, raw=raw, points_rate=args.points_rate
        ),
        steps=steps,
        overrides=overrides,
        cell_timeout=args.cell_timeout,
        jobs=args.jobs,
        lock_wait=args.wait,
        progress=runner.is_interactive(),
        run_id=args.run_id,
        force=args.force,
    )


def dry_run(request: runner.RunRequest, settings: Settings) -> int:
    """Each step that would run, where its report would go, and the parameters it would get."""
    from etl_helpers.run.manifest import staging_dir
    from etl_helpers.run.params import step_jobs  # the very parameters a run would pass

    run_id = request.run_id or "<new run id>"
    for run_date in request.run_dates:
        folder = runner.run_dir(settings, run_date, run_id)
        out_dirs = {"pipeline": folder}
        out_dirs.update(
            {mart: staging_dir(folder, mart) for mart in {s.mart for s in request.steps} if mart != "pipeline"}
        )
        manifest = {
            "overrides": request.overrides,
            "ledger_run_id": 0,
            "run_id": run_id,
            "currency": "",
            "code_version": None,
        }
        jobs = step_jobs(run_date, manifest, out_dirs, request, settings, settings.notebooks_dir)
        for number, job in enumerate(jobs, start=1):
            target = folder if job.step.mart == "pipeline" else settings.export_dir(job.step.mart, run_date.isoformat())
            shown = {k: v for k, v in job.parameters.items() if k not in ("run_id", "export_dir")}
            print(
                f"{run_date} [{number}/{len(jobs)}] {job.step.notebook} -> {target}  "
                + " ".join(f"{k}={v!r}" for k, v in shown.items())
            )
    return 0


def show_history(settings: Settings, as_json: bool) -> int:
    runs = runner.history(settings)
    if as_json:
        print(json.dumps(runs, indent=2))
        return 0
    if not runs:
        print("no recorded run under", settings.exports_dir / "pipeline")
        return 0
    print(f"{'run date':<10}  {'status':<9}  {'seconds':>8}  {'loaded':>9}  {'rejected':>8}  run id / reports")
    for entry in runs:
        seconds = "" if entry["seconds"] is None else f"{entry['seconds']:.0f}"
        print(
            f"{entry['run_date']:<10}  {entry['status']:<9}  {seconds:>8}  {entry['rows_loaded']:>9}  "
            f"{entry['rows_rejected']:>8}  {entry['run_id']}  {entry['report_folder']}"
        )
    return 0


def _check_reset_alone(args: argparse.Namespace) -> None:
    defaults = vars(build_parser().parse_args([]))
    others = sorted(
        f"--{k.replace('_', '-')}" for k, v in vars(args).items() if k not in RESET_OPTIONS and v != defaults[k]
    )
    if others:
        raise runner.UsageError(
            f"--reset-database goes alone (with --dry-run, --yes or --wait), not with {', '.join(others)}"
        )
    if not args.dry_run and not args.yes and not sys.stdin.isatty():
        raise runner.UsageError("--reset-database drops every table of the pipeline: pass --yes to confirm")


def reset_database(settings: Settings, args: argparse.Namespace) -> int:
    """Drop the pipeline's schemas under the run lock (``--dry-run``: only list them)."""
    from etl_helpers import schema

    try:
        with runner.run_lock(settings, args.wait), db.connection(settings) as conn:
            tables = schema.existing_tables(conn)
            listing = ", ".join(f"{s}.{t}" for s, t in tables) or "no table"
            if args.dry_run:
                print(f"would drop the schemas {', '.join(schema.PIPELINE_SCHEMAS)} ({len(tables)} tables: {listing})")
                return 0
            if not args.yes:
                answer = input(
                    f"Drop the schemas {', '.join(schema.PIPELINE_SCHEMAS)} and their {len(tables)} tables? [y/N] "
                )
                if answer.strip().lower() not in ("y", "yes"):
                    print("nothing dropped")
                    return 1
            schema.drop_pipeline_schemas(conn)
    except (runner.RunLocked, runner.RecordUnwritable) as error:
        _error(str(error))
        return 1
    log.info("dropped the pipeline's schemas (%d tables)", len(tables))
    return 0
