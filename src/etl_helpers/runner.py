"""Run the notebooks in order with papermill for one run date, and record the run.

Each executed notebook is saved next to the exports it produced (pipeline notebooks under
``exports/pipeline/<date>/``, mart notebooks under ``exports/<mart>/<date>/``) and rendered
to HTML beside it; ``exports/pipeline/<date>/manifest.json`` lists every step and every
export file with its row count and sha256. Notebooks get the run date as an ISO string and
never a credential: they connect through the same settings (environment or ``.env``).
"""

from __future__ import annotations

import atexit
import json
import logging
import re
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Iterator

import nbformat
import papermill
import pyarrow.parquet as pq
from nbconvert import HTMLExporter

from etl_helpers import db, warehouse
from etl_helpers.kernels import KERNEL_NAME, StartedKernel, WarmKernels, new_kernel
from etl_helpers.loading import ledger
from etl_helpers.settings import MART_NAMES, PROJECT_ROOT, Settings
from etl_helpers.sources import SourceOptions
from etl_helpers.writing import sha256_of, write_text_atomic

log = logging.getLogger(__name__)

RUN_LOCK_KEY = db.RUN_LOCK_KEY  # session-level advisory lock: one pipeline run writes at a time (declared in db)
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Step:
    notebook: str   # file stem in notebooks/
    mart: str       # "pipeline" or the mart whose export folder receives it

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


class UsageError(ValueError):
    """Bad command-line input: reported in one line, exit code 2, nothing run."""


class StepFailed(RuntimeError):
    """A notebook failed; the message names the notebook and the cell."""


class RunLocked(RuntimeError):
    """Another run holds the pipeline lock on this database."""


def parse_run_date(text: str) -> date:
    """A strict ISO calendar date (YYYY-MM-DD), checked before anything else runs."""
    if not ISO_DATE.match(text or ""):
        raise UsageError(f"invalid date {text!r}: expected YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise UsageError(f"invalid date {text!r}: {error}") from None


def select_steps(only: list[str] | None = None, start_from: str | None = None,
                 steps: tuple[Step, ...] = STEPS) -> list[Step]:
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
        return list(steps[find(start_from):])
    return list(steps)


@dataclass
class RunRequest:
    run_dates: list[date]
    source: str = "demo"
    options: SourceOptions = field(default_factory=SourceOptions)
    steps: list[Step] = field(default_factory=lambda: list(STEPS))
    overrides: dict[str, str] = field(default_factory=dict)
    cell_timeout: int = 3600
    lock_wait: float = 0.0
    progress: bool = False
    jobs: int = 2                 # mart notebooks run in parallel on this many processes


@dataclass
class StepRecord:
    notebook: str
    mart: str
    status: str = "pending"       # pending | succeeded | failed | skipped
    seconds: float | None = None
    executed_notebook: str | None = None
    html_report: str | None = None
    error: str | None = None


def code_version(root: Path = PROJECT_ROOT) -> str | None:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def notebook_parameters(path: Path) -> set[str]:
    return set(papermill.inspect_notebook(str(path)).keys())


def step_parameters(path: Path, run_date: date, run_id: int, request: RunRequest) -> dict:
    """The parameters a notebook declares, filled from the request. Never a credential."""
    available = {
        "run_date": run_date.isoformat(),
        "run_id": run_id,
        "source": request.source,
        "scale": request.options.scale,
        "seed": request.options.seed,
        "raw_path": str(request.options.raw) if request.options.raw else "",
        "points_rate": request.options.points_rate,
        **request.overrides,
    }
    declared = notebook_parameters(path)
    unknown = set(request.overrides) - declared
    if unknown:
        log.debug("%s does not declare %s", path.name, ", ".join(sorted(unknown)))
    return {name: value for name, value in available.items() if name in declared}


def render_html(executed: Path) -> Path:
    """HTML report beside the executed notebook: inputs hidden, outputs (charts) shown."""
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    target = executed.with_suffix(".html")
    write_text_atomic(target, body)
    return target


def _failure_message(step: Step, error: Exception) -> str:
    if isinstance(error, papermill.PapermillExecutionError):
        return (f"notebook {step.notebook}.ipynb failed in cell {error.cell_index} "
                f"(execution count {error.exec_count}): {error.ename}: {db.redact(str(error.evalue))}")
    return f"notebook {step.notebook}.ipynb failed: {type(error).__name__}: {db.redact(str(error))}"


def execute_step(step: Step, run_date: date, run_id: int, request: RunRequest, settings: Settings,
                 notebooks_dir: Path, kernel: StartedKernel | None = None) -> StepRecord:
    """Run one notebook with papermill in ``kernel`` (started now if not given), stopped after."""
    record = StepRecord(step.notebook, step.mart)
    source = notebooks_dir / f"{step.notebook}.ipynb"
    out_dir = settings.export_dir(step.mart, run_date.isoformat())
    executed = out_dir / f"{step.notebook}.ipynb"
    started = time.perf_counter()
    try:
        kernel = kernel or new_kernel(notebooks_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        papermill.execute_notebook(
            str(source), str(executed),
            parameters=step_parameters(source, run_date, run_id, request),
            kernel_name=KERNEL_NAME,
            cwd=str(notebooks_dir),
            progress_bar=request.progress,
            execution_timeout=request.cell_timeout,
            log_output=False,
            km=kernel,
        )
        record.status = "succeeded"
    except Exception as error:  # papermill errors, cell timeouts, dead kernels
        record.status, record.error = "failed", _failure_message(step, error)
    finally:
        if kernel:
            kernel.stop()
    record.seconds = round(time.perf_counter() - started, 3)
    if executed.exists():
        record.executed_notebook = str(executed.relative_to(settings.exports_dir))
        record.html_report = str(render_html(executed).relative_to(settings.exports_dir))
    return record


def export_files(settings: Settings, run_date: date) -> list[dict]:
    """Every file the run left under its dated export folders, with rows and sha256."""
    files = []
    for mart in ("pipeline", *MART_NAMES):
        folder = settings.export_dir(mart, run_date.isoformat())
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
            if path.name in ("manifest.json", "run.log"):
                continue
            files.append({
                "path": str(path.relative_to(settings.exports_dir)),
                "bytes": path.stat().st_size,
                "rows": _row_count(path),
                "sha256": sha256_of(path),
            })
    return files


def _row_count(path: Path) -> int | None:
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    if path.suffix == ".csv":
        with path.open("rb") as stream:
            return max(sum(1 for _ in stream) - 1, 0)
    return None


@contextmanager
def run_lock(settings: Settings, wait_seconds: float) -> Iterator[None]:
    """Hold the pipeline's advisory lock for the whole run; refuse (or wait) if taken."""
    conn = db.connect(settings, autocommit=True)
    try:
        deadline = time.monotonic() + wait_seconds
        while not conn.execute("select pg_try_advisory_lock(%s)", (RUN_LOCK_KEY,)).fetchone()[0]:
            if time.monotonic() >= deadline:
                raise RunLocked("another pipeline run is writing to this database; "
                                "try again when it ends (or pass --wait SECONDS)")
            time.sleep(0.5)
        yield
    finally:
        conn.close()


@contextmanager
def run_log(path: Path) -> Iterator[None]:
    """Also log to ``run.log`` beside the manifest (passwords redacted)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return db.redact(super().format(record))


def run_one_date(run_date: date, request: RunRequest, settings: Settings,
                 notebooks_dir: Path | None = None) -> dict:
    """Run the selected steps for one date; returns the manifest (also written to disk)."""
    notebooks_dir = notebooks_dir or settings.notebooks_dir
    pipeline_dir = settings.export_dir("pipeline", run_date.isoformat())
    manifest = {
        "run_date": run_date.isoformat(),
        "source": request.source,
        "source_options": {"scale": request.options.scale, "seed": request.options.seed,
                           "raw": str(request.options.raw) if request.options.raw else None,
                           "points_rate": request.options.points_rate},
        "code_version": code_version(settings.root),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "finished_at": None,
        "status": "running",
        "steps": [asdict(StepRecord(s.notebook, s.mart)) for s in request.steps],
        "loads": [],
        "files": [],
    }
    with run_log(pipeline_dir / "run.log"):
        try:
            records, failed = _run_steps(run_date, request, settings, notebooks_dir, manifest)
        except Exception as error:
            log.error("run for %s failed: %s", run_date, db.redact(str(error)))
            raise
    manifest["steps"] = [asdict(r) for r in records]
    manifest["files"] = export_files(settings, run_date)
    manifest["status"] = "failed" if failed else "succeeded"
    manifest["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_text_atomic(pipeline_dir / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    if failed:
        raise StepFailed(failed.error)
    return manifest


def _run_steps(run_date: date, request: RunRequest, settings: Settings, notebooks_dir: Path,
               manifest: dict) -> tuple[list[StepRecord], StepRecord | None]:
    """Under the run lock: record the run, execute the steps in order, stop at a failure."""
    with run_lock(settings, request.lock_wait):
        warehouse.create_schema(settings)
        with db.connection(settings) as conn:
            run_id = ledger.start_run(conn, run_date, request.source)
        manifest["run_id"] = run_id
        records = _execute_steps(run_date, run_id, request, settings, notebooks_dir)
        failed = next((r for r in records if r.status == "failed"), None)
        with db.connection(settings) as conn:
            ledger.end_run(conn, run_id, succeeded=failed is None)
            manifest["loads"] = _loads_of_run(conn, run_id)
    return records, failed


def _execute_steps(run_date: date, run_id: int, request: RunRequest, settings: Settings,
                   notebooks_dir: Path) -> list[StepRecord]:
    """Pipeline steps one after the other, then the mart notebooks (independent of each
    other) on ``request.jobs`` processes. After a failure, nothing new starts."""
    total = len(request.steps)
    numbered = list(enumerate(request.steps, start=1))
    concurrent = [(n, s) for n, s in numbered if s.mart != "pipeline" and request.jobs > 1]
    in_order = [(n, s) for n, s in numbered if (n, s) not in concurrent]
    records: dict[int, StepRecord] = {}

    def started(number: int, step: Step) -> None:
        log.info("[%d/%d] %s for %s", number, total, step.notebook, run_date)

    def finished(number: int, record: StepRecord) -> None:
        records[number] = record
        if record.status == "failed":
            log.error("%s", record.error)
        else:
            log.info("[%d/%d] %s done in %.1f s", number, total, record.notebook, record.seconds)

    def failed() -> bool:
        return any(r.status == "failed" for r in records.values())

    kernels = WarmKernels(notebooks_dir)
    with _mart_pool(min(request.jobs, len(concurrent)), notebooks_dir) as pool:
        try:
            for index, (number, step) in enumerate(in_order):
                if failed():
                    break
                started(number, step)
                kernel = kernels.take()
                if index + 1 < len(in_order):
                    kernels.prepare()  # the next step's kernel boots while this one runs
                finished(number, execute_step(step, run_date, run_id, request, settings, notebooks_dir, kernel))
        finally:
            kernels.close()
        if pool and not failed():
            futures = {}
            for number, step in concurrent:
                futures[pool.submit(_execute_mart_step, step, run_date, run_id, request, settings,
                                     notebooks_dir)] = number
                started(number, step)
            for future in as_completed(futures):
                if future.cancelled():
                    continue
                finished(futures[future], future.result())
                if failed():
                    for pending in futures:
                        pending.cancel()
    return [records.get(n, StepRecord(s.notebook, s.mart, status="skipped")) for n, s in numbered]


@contextmanager
def _mart_pool(workers: int, notebooks_dir: Path) -> Iterator[ProcessPoolExecutor | None]:
    """The processes the mart notebooks run on, started at once so that they import papermill
    and start their first kernel while the pipeline steps run (``workers`` 0: none)."""
    if not workers:
        yield None
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                             initializer=_start_worker, initargs=(notebooks_dir,)) as pool:
        for _ in range(workers):  # a worker process starts with the first task it is given
            pool.submit(_ready)
        yield pool


_worker_kernels: WarmKernels | None = None  # a mart worker's kernels (in its own process)


def _start_worker(notebooks_dir: Path) -> None:
    global _worker_kernels
    _worker_kernels = WarmKernels(notebooks_dir)
    _worker_kernels.prepare()
    atexit.register(_worker_kernels.close)


def _ready() -> None:
    """A no-op: submitting it makes the pool start a worker."""


def _execute_mart_step(*args) -> StepRecord:
    """:func:`execute_step` in a mart worker, with the kernel it started ahead."""
    return execute_step(*args, kernel=_worker_kernels.take() if _worker_kernels else None)


def _loads_of_run(conn, run_id: int) -> list[dict]:
    rows = conn.execute(
        """
        select path, entity, business_date, sha256, rows_read, rows_loaded, rows_rejected
        from etl.loaded_files where run_id = %s order by entity, business_date, path
        """,
        (run_id,),
    ).fetchall()
    keys = ("path", "entity", "business_date", "sha256", "rows_read", "rows_loaded", "rows_rejected")
    return [dict(zip(keys, (str(v) if isinstance(v, date) else v for v in row))) for row in rows]


def run(request: RunRequest, settings: Settings) -> list[dict]:
    """Run every requested date in order; stops at the first failure."""
    return [run_one_date(d, request, settings) for d in request.run_dates]


def is_interactive() -> bool:
    return sys.stderr.isatty()
