"""A run: the lock, the run's log, its record, the steps in order and the mart notebooks on
a pool of threads (each with its own kernels), then the publication of what it built.

Under the run lock (one run writes to a database at a time) a run closes what killed runs
left open (``abandoned``), ends any database session a killed run's kernels left on the
server, records itself in ``etl.runs``, runs its steps, and publishes its marts only if
every step succeeded. A run refused by the lock writes nothing: its log lines wait in
memory until the lock is held.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import closing, contextmanager, suppress
from dataclasses import asdict
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import TextIO

import psycopg

from etl_helpers import db, schema
from etl_helpers.kernel_server import KernelServer
from etl_helpers.kernels import (
    WRITER_APP_NAME,
    StartedKernel,
    WarmKernels,
    kernel_environment,
    quiet_jupyter_paths,
)
from etl_helpers.loading import ledger
from etl_helpers.run import logs
from etl_helpers.run import manifest as records
from etl_helpers.run.execute import StepRecord, execute_notebook, warm_up_renderer
from etl_helpers.run.params import StepJob, declared_parameters, step_jobs
from etl_helpers.run.reuse import Reuse
from etl_helpers.run.steps import STEPS, RunRequest
from etl_helpers.settings import PROJECT_ROOT, Settings
from etl_helpers.sources import SOURCE_CURRENCY
from etl_helpers.writing import write_bytes_atomic

log = logging.getLogger(__name__)

RUN_LOCK_KEY = db.RUN_LOCK_KEY  # session-level advisory lock: one pipeline run writes at a time (declared in db)
WRITER_EXIT_TIMEOUT_MS = 10_000  # how long a run waits for a killed run's sessions to end
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class StepFailed(RuntimeError):
    """A notebook failed; the message names the notebook and the cell."""


class RunLocked(RuntimeError):
    """Another run holds the pipeline lock on this database."""


class RecordUnwritable(RuntimeError):
    """The run's folder under exports/ cannot be written (read-only, full, not a folder)."""


def code_version(root: Path = PROJECT_ROOT) -> str | None:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return db.redact(super().format(record))


class RunLog(logging.Handler):
    """The run's ``run.log``: lines are kept in memory until :meth:`attach` names the file
    (a run refused by the lock writes nothing), then appended (a joined run adds to its log).
    Counts the warnings, for the run's summary."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(RedactingFormatter(LOG_FORMAT))
        self.pending: list[str] = []
        self.stream: TextIO | None = None
        self.warnings = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING:
            self.warnings += 1
        line = self.format(record) + "\n"
        if self.stream is None:
            self.pending.append(line)
        else:
            self.stream.write(line)
            self.stream.flush()

    def attach(self, path: Path) -> None:
        if self.stream is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.stream = path.open("a", encoding="utf-8")
            self.stream.writelines(self.pending)
            self.stream.flush()
            self.pending = []

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
        super().close()


@contextmanager
def capture_log() -> Iterator[RunLog]:
    handler = RunLog()
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        handler.close()


@contextmanager
def run_lock(settings: Settings, wait_seconds: float) -> Iterator[None]:
    """Hold the pipeline's advisory lock for the whole run; refuse (or wait) if taken."""
    conn = db.connect(settings, autocommit=True)
    try:
        deadline = time.monotonic() + wait_seconds
        while not db.scalar(conn, "select pg_try_advisory_lock(%s)", (RUN_LOCK_KEY,)):
            if time.monotonic() >= deadline:
                raise RunLocked(
                    "another pipeline run is writing to this database; try again when it ends (or pass --wait SECONDS)"
                )
            time.sleep(0.5)
        yield
    finally:
        with suppress(psycopg.Error):  # released now: a closed session's locks go a moment later
            conn.execute("select pg_advisory_unlock_all()")
        conn.close()


def end_orphan_writers(conn) -> int:
    """End the database sessions a killed run's kernels left behind (under the run lock no
    other run's kernel can be working), waiting until each is gone."""
    rows = conn.execute(
        "select pg_terminate_backend(pid, %s) from pg_stat_activity "
        "where application_name = %s and datname = current_database() and pid <> pg_backend_pid()",
        (WRITER_EXIT_TIMEOUT_MS, WRITER_APP_NAME),
    ).fetchall()
    if rows:
        log.warning("ended %d database session(s) left by a killed run", len(rows))
    return len(rows)


def abandon_runs(conn) -> int:
    """Runs left ``running`` in etl.runs by a killed process are closed as ``abandoned``."""
    closed = conn.execute(
        "update etl.runs set status = 'abandoned', finished_at = now() where status = 'running'"
    ).rowcount
    if closed:
        log.warning("%d run(s) left running by a killed process closed as abandoned", closed)
    return closed


def run_one_date(run_date: date, request: RunRequest, settings: Settings, notebooks_dir: Path | None = None) -> dict:
    """Run the selected steps for one date; returns the run's manifest (published when the
    run succeeded). Raises StepFailed, RunLocked or DatabaseUnavailable."""
    notebooks_dir = notebooks_dir or settings.notebooks_dir
    quiet_jupyter_paths()
    run_id = request.run_id or records.new_run_id()
    folder = records.run_dir(settings, run_date, run_id)
    with capture_log() as run_log:
        try:
            with run_lock(settings, request.lock_wait):
                with db.connection(settings) as conn:
                    schema.ensure_run_tables(conn)  # the whole schema is the 00_schema step's
                    schema.claim_source(conn, request.source)  # before any record: a refused run writes nothing
                _open_record(run_log, folder)
                return _run_locked(run_date, run_id, folder, request, settings, notebooks_dir, run_log)
        except (RunLocked, RecordUnwritable, schema.SourceMismatch):
            raise
        except Exception as error:
            log.error("run %s for %s failed: %s", run_id, run_date, db.redact(str(error).strip()), exc_info=True)
            with suppress(OSError):
                _open_record(run_log, folder)
                _close_record(folder, run_id, run_date, request, settings, status="failed")
            raise


def _open_record(run_log: RunLog, folder: Path) -> None:
    try:
        run_log.attach(folder / "run.log")
    except OSError as error:
        raise RecordUnwritable(f"cannot write the run's record in {folder}: {error.strerror}") from None


def _new_manifest(run_id: str, run_date: date, request: RunRequest, settings: Settings) -> dict:
    return {
        "run_id": run_id,
        "run_date": run_date.isoformat(),
        "status": "running",
        "source": request.source,
        "currency": SOURCE_CURRENCY[request.source],
        "source_options": {
            "scale": request.options.scale,
            "seed": request.options.seed,
            "raw": str(request.options.raw) if request.options.raw else None,
            "points_rate": request.options.points_rate,
            "profile": request.options.profile,
        },
        "overrides": dict(request.overrides),
        "code_version": code_version(settings.root),
        "started_at": records.now(),
        "finished_at": None,
        "ledger_run_id": None,
        "steps": [],
        "loads": [],
        "files": [],
    }


def _close_record(
    folder: Path, run_id: str, run_date: date, request: RunRequest, settings: Settings, status: str
) -> None:
    path = folder / records.MANIFEST
    manifest = records.read_manifest(path) or _new_manifest(run_id, run_date, request, settings)
    if manifest["status"] in ("running", status):
        manifest["status"], manifest["finished_at"] = status, records.now()
        records.write_manifest(path, manifest)


def _run_locked(
    run_date: date,
    run_id: str,
    folder: Path,
    request: RunRequest,
    settings: Settings,
    notebooks_dir: Path,
    run_log: RunLog,
) -> dict:
    for stale in records.abandon_stale_runs(settings):
        log.warning("run %s, left running by a killed process, is recorded as abandoned", stale)
    path = folder / records.MANIFEST
    manifest = records.read_manifest(path) or _new_manifest(run_id, run_date, request, settings)
    manifest.update(status="running", finished_at=None, overrides={**manifest["overrides"], **request.overrides})
    records.write_manifest(path, manifest)
    log.info("run %s for %s: record in %s", run_id, run_date, folder)

    with db.connection(settings) as conn:
        end_orphan_writers(conn)
        abandon_runs(conn)
        if manifest["ledger_run_id"] is None:
            manifest["ledger_run_id"] = ledger.start_run(conn, run_date, request.source)
        else:
            conn.execute(
                "update etl.runs set status = 'running', finished_at = null where run_id = %s",
                (manifest["ledger_run_id"],),
            )
    records.write_manifest(path, manifest)

    out_dirs = _output_folders(run_date, folder, request, settings, notebooks_dir)
    with logs.receiving():  # the kernels' log records reach the console and run.log
        step_records = _execute_steps(run_date, manifest, out_dirs, folder, request, settings, notebooks_dir)
    failed = next((r for r in step_records if r.status == "failed"), None)
    with db.connection(settings) as conn:
        ledger.end_run(conn, manifest["ledger_run_id"], succeeded=failed is None)
        manifest["loads"] = _loads_of_run(conn, manifest["ledger_run_id"])

    this_run = {**manifest, "steps": [asdict(r) for r in step_records]}
    order = [s.notebook for s in STEPS]
    manifest["steps"] = records.merged_with_published(this_run, {"steps": manifest["steps"]}, order)["steps"]
    if failed:
        shutil.rmtree(folder / "staging", ignore_errors=True)
        manifest.update(status="failed", finished_at=records.now())
        records.write_manifest(path, manifest)
        raise StepFailed(failed.error)
    manifest.update(status="succeeded", finished_at=records.now())
    staged = [mart for mart, out in out_dirs.items() if out == records.staging_dir(folder, mart)]
    published = records.publish(settings, run_date, folder, manifest, staged, order)
    manifest["files"] = published["files"]
    records.write_manifest(path, manifest)
    rows_loaded = sum(load["rows_loaded"] for load in manifest["loads"])
    rows_rejected = sum(load["rows_rejected"] for load in manifest["loads"])
    log.info(
        "run %s for %s succeeded: %d rows loaded, %d rejected, %d warning(s); reports in %s",
        run_id,
        run_date,
        rows_loaded,
        rows_rejected,
        run_log.warnings,
        folder,
    )
    return manifest


def _output_folders(
    run_date: date, folder: Path, request: RunRequest, settings: Settings, notebooks_dir: Path
) -> dict[str, Path]:
    """Where each selected step's notebook writes: the run folder for the pipeline steps, a
    staging copy of the dated folder for a mart whose notebooks take ``export_dir`` (else, a
    notebook that cannot be told where to write, the dated folder itself)."""
    out = {"pipeline": folder}
    for mart in dict.fromkeys(s.mart for s in request.steps if s.mart != "pipeline"):
        notebooks = [notebooks_dir / f"{s.notebook}.ipynb" for s in request.steps if s.mart == mart]
        if all("export_dir" in declared_parameters(nb) for nb in notebooks):
            out[mart] = records.stage_mart(settings, run_date, folder, mart)
        else:
            out[mart] = settings.export_dir(mart, run_date.isoformat())
    return out


def run_job(job: StepJob, take_kernel: Callable[[], StartedKernel]) -> StepRecord:
    record = execute_notebook(
        job.source,
        job.executed,
        parameters=job.parameters,
        header=job.header,
        title=job.title,
        take_kernel=take_kernel,
        cell_timeout=job.cell_timeout,
        progress=job.progress,
    )
    record.mart = job.step.mart
    return record


def _keep_in_run_folder(record: StepRecord, job: StepJob, folder: Path, settings: Settings) -> StepRecord:
    """The step's executed notebook and report, in the run's own folder (and paths relative
    to exports/ in its record)."""
    for suffix in (".ipynb", ".html"):
        made = job.executed.with_suffix(suffix)
        kept = folder / made.name
        if made.exists():
            if made.parent != folder:
                write_bytes_atomic(kept, made.read_bytes())
            rel = kept.relative_to(settings.exports_dir).as_posix()
            if suffix == ".ipynb":
                record.executed_notebook = rel
            else:
                record.html_report = rel
    return record


def _execute_steps(
    run_date: date,
    manifest: dict,
    out_dirs: dict[str, Path],
    folder: Path,
    request: RunRequest,
    settings: Settings,
    notebooks_dir: Path,
) -> list[StepRecord]:
    """Pipeline steps one after the other, then the mart notebooks (independent of each
    other) on ``request.jobs`` threads. After a failure, nothing new starts."""
    jobs = step_jobs(run_date, manifest, out_dirs, request, settings, notebooks_dir)
    reuse = Reuse(
        settings,
        manifest["run_id"],
        _reuse_context(manifest),
        records.read_manifest(records.published_manifest_path(settings, run_date)),
        request.force,
        request.source,
        request.options,
    )
    total = len(jobs)
    numbered = list(enumerate(jobs, start=1))
    concurrent = [(n, j) for n, j in numbered if j.step.mart != "pipeline" and request.jobs > 1]
    in_order = [(n, j) for n, j in numbered if (n, j) not in concurrent]
    concurrent = _longest_first(concurrent, _last_seconds(settings, run_date))
    done: dict[int, StepRecord] = {}

    def started(number: int, job: StepJob) -> None:
        log.info("[%d/%d] %s for %s", number, total, job.step.notebook, run_date)

    def finished(number: int, job: StepJob, record: StepRecord, fingerprint: str | None = None) -> None:
        if record.status == "reused":
            done[number] = record
            log.info("[%d/%d] %s reused from run %s", number, total, record.notebook, record.made_in_run)
            return
        done[number] = reuse.note(_keep_in_run_folder(record, job, folder, settings), job, fingerprint)
        if record.status == "failed":
            log.error("%s", record.error)
        else:
            log.info("[%d/%d] %s done in %.1f s", number, total, record.notebook, record.seconds)

    def failed() -> bool:
        return any(r.status == "failed" for r in done.values())

    children = db.children_environment(settings)  # the kernels reach the runner's server directly
    server = KernelServer(kernel_environment(children), _preload(j.step for _, j in numbered))
    kernels = WarmKernels(notebooks_dir, children, _preload(j.step for _, j in in_order), server=server)
    renderer = threading.Thread(target=warm_up_renderer, daemon=True)
    with closing(server), _MartPool(min(request.jobs, len(concurrent)), notebooks_dir, children, server) as pool:
        try:
            for index, (number, job) in enumerate(in_order):
                if failed():
                    break
                started(number, job)
                kept, fingerprint = reuse.kept(job)
                if kept:
                    finished(number, job, kept)
                    continue
                if renderer.ident is None:  # a first step runs: the report renderer loads meanwhile
                    renderer.start()
                if index + 1 == len(in_order):  # the last pipeline step runs: the marts' first kernels boot
                    pool.start()  # meanwhile (not before: they would slow the steps before it down)
                wanted = min(len(in_order) - index - 1, 1)  # the next step's kernel boots while this one runs
                reuse.starting(job)
                finished(number, job, run_job(job, partial(kernels.take, wanted)), fingerprint)
        finally:
            kernels.close()
        if pool.workers and not failed():
            to_run = []
            for number, job in concurrent:
                started(number, job)
                kept, fingerprint = reuse.kept(job)
                if kept:
                    finished(number, job, kept)
                    continue
                to_run.append((number, job, fingerprint))
            pool.expect(len(to_run))  # before any is submitted: the workers start no kernel they will not use
            futures = {pool.submit(job): (number, job, fingerprint) for number, job, fingerprint in to_run}
            for future in as_completed(futures):
                if future.cancelled():
                    continue
                number, job, fingerprint = futures[future]
                finished(number, job, future.result(), fingerprint)
                if failed():
                    for pending in futures:
                        pending.cancel()
    return [done.get(n, StepRecord(j.step.notebook, j.step.mart, status="skipped")) for n, j in numbered]


PIPELINE_MODULES = ("etl_helpers.warehouse",)  # what the pipeline notebooks import (a kernel ahead imports it)
MART_MODULES = ("etl_helpers.marts",)  # and the mart notebooks


def _preload(steps) -> tuple[str, ...]:
    kinds = {step.mart == "pipeline" for step in steps}
    return (PIPELINE_MODULES if True in kinds else ()) + (MART_MODULES if False in kinds else ())


def _last_seconds(settings: Settings, run_date: date) -> dict[str, float]:
    """The seconds each step took when it last ran, as the published manifests of this date and of
    the day before say (a daily run's marts take about as long as the day before's)."""
    seconds: dict[str, float] = {}
    for day in (run_date - timedelta(days=1), run_date):
        published = records.read_manifest(records.published_manifest_path(settings, day)) or {}
        for step in published.get("steps", []):
            if step.get("status") == "succeeded" and step.get("seconds"):
                seconds[step["notebook"]] = step["seconds"]
    return seconds


def _longest_first(jobs: list[tuple[int, StepJob]], seconds: dict[str, float]) -> list[tuple[int, StepJob]]:
    """The mart jobs in the order they go to the workers: the longest last time first, so that
    the short ones fill in beside it instead of queueing after it (those never timed first)."""
    return sorted(jobs, key=lambda item: -seconds.get(item[1].step.notebook, float("inf")))


def _reuse_context(manifest: dict) -> dict:
    """What every step's results depend on beside its own parameters (run/reuse.py)."""
    return {key: manifest[key] for key in ("run_date", "source", "currency", "source_options")}


class _MartPool:
    """The threads the mart notebooks run on (``workers`` 0: none), sharing notebook kernels
    started ahead: a thread only waits on its kernel and renders its report, so notebooks side by
    side cost no Python process beside their kernels. Started by :meth:`start` when the last
    pipeline step runs, so that the first kernels (one per thread) boot meanwhile, or by the first
    mart job submitted: a run whose every step is reused starts none. The kernels die with the
    runner.

    As a job takes a kernel, another is started ahead only while the jobs not yet begun outnumber
    the kernels spare or starting: no kernel boots for nothing at the end of a run, on the cores
    the last notebooks need, however the jobs fall to the threads."""

    def __init__(self, workers: int, notebooks_dir: Path, env: dict[str, str], server: KernelServer):
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self.started = False  # asked to start (with no workers too)
        self._kernels = WarmKernels(notebooks_dir, env, MART_MODULES, server=server)
        self._lock = threading.Lock()
        self._waiting = 0  # mart jobs expected and not yet begun

    def start(self) -> None:
        self.started = True
        if self.workers and self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="mart")
            for _ in range(self.workers):
                self._kernels.prepare()  # forked by the kernel server: some 30 ms each

    def expect(self, jobs: int) -> None:
        with self._lock:
            self._waiting += jobs

    def submit(self, job: StepJob) -> Future:
        self.start()
        assert self._pool is not None
        return self._pool.submit(run_job, job, self._take_kernel)

    def _take_kernel(self) -> StartedKernel:
        with self._lock:
            self._waiting -= 1
            wanted = self._waiting
        return self._kernels.take(wanted)

    def __enter__(self) -> _MartPool:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=False)
        self._kernels.close()


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
