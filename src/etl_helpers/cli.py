"""``run_pipeline.py``: parse and validate the command line, then hand over to the runner.

Exit codes: 0 success, 1 a handled failure (bad input data, failed notebook, database
unreachable, another run in progress), 2 a usage error (nothing was run or written).
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, timedelta
from pathlib import Path

from etl_helpers import db, runner
from etl_helpers.settings import load_settings
from etl_helpers.sources import SOURCE_NAMES, SourceOptions

log = logging.getLogger("run_pipeline")
SCALES = ("small", "medium", "large")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_pipeline.py",
        description="Load the raw extracts and run the analysis notebooks for a run date.",
        epilog="Steps: " + ", ".join(s.notebook for s in runner.STEPS),
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--date", help="run date YYYY-MM-DD (default: today)")
    when.add_argument("--start", help="first date of a backfill range (with --end)")
    parser.add_argument("--end", help="last date of a backfill range (with --start)")
    parser.add_argument("--source", choices=SOURCE_NAMES, default="demo", help="where the raw data comes from")
    parser.add_argument("--raw", type=Path, help="canonical source: folder of extracts in the contract's layout")
    parser.add_argument("--scale", choices=SCALES, default="small", help="demo source size (default small)")
    parser.add_argument("--seed", type=int, default=42, help="demo source seed (default 42)")
    parser.add_argument("--points-rate", type=float, default=0.10,
                        help="superstore source: loyalty points per unit of amount (default 0.10)")
    parser.add_argument("--only", action="append", metavar="STEP", help="run only this step (repeatable)")
    parser.add_argument("--from", dest="start_from", metavar="STEP", help="run from this step onwards")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
                        help="override a notebook parameter (passed to the notebooks that declare it)")
    parser.add_argument("--dry-run", action="store_true", help="print what would run, run nothing")
    parser.add_argument("--jobs", type=int, default=2, help="mart notebooks run in parallel (default 2)")
    parser.add_argument("--cell-timeout", type=int, default=3600, help="seconds a notebook cell may run")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long for another run's lock instead of refusing at once")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--reset-database", action="store_true",
                        help="drop the pipeline's schemas in the configured database, then exit")
    return parser


def run_dates(args: argparse.Namespace) -> list[date]:
    if args.start or args.end:
        if not (args.start and args.end):
            raise runner.UsageError("--start and --end go together")
        first, last = runner.parse_run_date(args.start), runner.parse_run_date(args.end)
        if last < first:
            raise runner.UsageError(f"--end {last} is before --start {first}")
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [runner.parse_run_date(args.date) if args.date is not None else date.today()]


def parameter_value(text: str):
    """Notebook parameters given on the command line: int, float, bool or string."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(runner.RedactingFormatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("papermill", "traitlets", "nbconvert", "asyncio", "blib2to3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        dates = run_dates(args)
        steps = runner.select_steps(args.only, args.start_from)
        if args.source == "canonical" and not args.raw:
            raise runner.UsageError("--source canonical needs --raw PATH")
        if args.raw and not args.raw.is_dir():
            raise runner.UsageError(f"--raw {args.raw}: no such folder")
    except runner.UsageError as error:
        print(f"run_pipeline.py: error: {error}", file=sys.stderr)
        return 2

    configure_logging(args.log_level)
    settings = load_settings()
    if args.reset_database:
        from etl_helpers import schema

        with db.connection(settings) as conn:
            schema.drop_pipeline_schemas(conn)
        log.info("dropped the pipeline's schemas")
        return 0

    request = runner.RunRequest(
        run_dates=dates,
        source=args.source,
        options=SourceOptions(scale=args.scale, seed=args.seed, raw=args.raw, points_rate=args.points_rate),
        steps=steps,
        overrides={name: parameter_value(value) for name, value in args.parameter},
        cell_timeout=args.cell_timeout,
        jobs=max(args.jobs, 1),
        lock_wait=args.wait,
        progress=runner.is_interactive(),
    )
    if args.dry_run:
        for run_date in dates:
            for number, step in enumerate(steps, start=1):
                target = settings.export_dir(step.mart, run_date.isoformat()) / f"{step.notebook}.ipynb"
                print(f"{run_date} [{number}/{len(steps)}] {step.notebook} -> {target}")
        return 0
    try:
        runner.run(request, settings)
    except (runner.StepFailed, runner.RunLocked, db.DatabaseUnavailable) as error:
        log.error("run failed: %s", db.redact(str(error)))
        return 1
    log.info("run succeeded: %s", ", ".join(str(d) for d in dates))
    return 0
