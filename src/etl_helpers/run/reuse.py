"""Skip what has not changed: a step whose inputs are those of its last execution is not
run again; its results are kept and its manifest entry says ``reused`` and which run made them.

A step's inputs, digested into its *fingerprint*:

- its data, read when the step is about to start:

  - a loading step (``10_dimensions``, ``20_facts``): the raw files it would read (the files of
    its entities, and of those loaded before them, dated <= the run date) as the ledger holds
    them (``etl.loaded_files``: key, id, sha256), each unchanged since (same size and
    modification time, as the loader checks), and the folder's ``format.json``. A file new to
    the ledger or changed, or a folder the source must prepare first (a demo day to generate),
    means there is something to load: the step runs. Its fingerprint is recorded as the ledger
    is once it ran, so that the next run with nothing new finds it;
  - ``00_schema``: none (its result is the SQL files' schema; nor does it depend on the run date);
  - ``10_dimensions`` depends on the run date only through the snapshots dated on or before it,
    which its raw files name: a later date with no new snapshot reuses it (the calendar, which
    grows with the date, is extended by ``20_facts``);
  - the other steps: the warehouse's data version, the ledger's current raw files (id, path,
    sha256, rows loaded and rejected), read after the run's loading steps;

- its parameters as resolved for this run (run date, overrides, currency, source options),
  without those that only name the run (its ids, its export folder);
- its code: the notebook file, the package's source files and the SQL files.

The mart notebooks' results are their published exports of that date; the pipeline steps'
result is the database itself, so their last fingerprint is kept in ``etl.step_inputs``.
A run whose every step is reused starts no kernel. ``--force`` recomputes every step.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from etl_helpers import db
from etl_helpers.contract import ENTITIES, LOAD_ORDER, list_raw_files
from etl_helpers.loading import ledger
from etl_helpers.run.execute import StepRecord
from etl_helpers.run.params import StepJob
from etl_helpers.run.steps import Step
from etl_helpers.settings import PROJECT_ROOT, Settings
from etl_helpers.sources import SourceOptions, ready_raw
from etl_helpers.writing import sha256_of

log = logging.getLogger(__name__)

# pipeline steps that read no raw file: their result is the database's state, made from the SQL
# files (00_schema, which the runner also applies at every start) and the loaded warehouse (30_views)
DATABASE_STEPS = frozenset({"00_schema", "30_views"})
SCHEMA_STEP = "00_schema"  # its result depends on no data and on no run date (the date is in its report only)
# steps whose results depend on the run date only through the raw files their data names
DATE_FREE_STEPS = frozenset({SCHEMA_STEP, "10_dimensions"})
_REFERENCE = tuple(name for name in LOAD_ORDER if ENTITIES[name].kind == "reference")
# the loading steps and the entities whose raw files each reads or depends on: the facts' load reads
# the reference snapshots' ledger entries too (a sale refused for an unknown store is read again
# once a snapshot brings the store)
LOADING_STEPS: dict[str, tuple[str, ...]] = {"10_dimensions": _REFERENCE, "20_facts": LOAD_ORDER}
RUN_NAMING = frozenset({"run_id", "export_dir"})  # parameters that name the run, not its inputs
CODE_FOLDERS: tuple[tuple[Path, str], ...] = (  # (folder, file pattern) of the code every step runs
    (PROJECT_ROOT / "src" / "etl_helpers", "*.py"),
    (PROJECT_ROOT / "sql", "*.sql"),
)
REUSABLE_STATUSES = ("succeeded", "reused")


def is_reusable(step: Step) -> bool:
    return step.mart != "pipeline" or step.notebook in DATABASE_STEPS or step.notebook in LOADING_STEPS


def code_digest() -> str:
    """The digest of the package's source and SQL files (names and bytes)."""
    digest = hashlib.sha256()
    for folder, pattern in CODE_FOLDERS:
        for path in sorted(folder.rglob(pattern)):
            digest.update(f"{path.relative_to(folder).as_posix()}\0{sha256_of(path)}\n".encode())
    return digest.hexdigest()


def data_version(settings: Settings) -> str:
    """The digest of the ledger's current raw files: what the warehouse was loaded from."""
    with db.connection(settings) as conn:
        rows = conn.execute(
            "select file_id, path, sha256, rows_loaded, rows_rejected from etl.loaded_files "
            "where is_current order by file_id"
        ).fetchall()
    return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()


def raw_state(
    settings: Settings, source: str, options: SourceOptions, run_date: date, entities: tuple[str, ...]
) -> dict | None:
    """The raw files of ``entities`` dated <= ``run_date`` that a load would read, as the ledger
    holds them; None if there is something to load (or to prepare first): a file the ledger does
    not hold, or holds with another size or modification time (the loader's own test of a
    changed file), or a source folder not prepared for this date."""
    raw_dir = ready_raw(source, settings, run_date, options)
    if raw_dir is None:
        return None
    files = [f for f in list_raw_files(raw_dir, run_date) if f.entity.name in entities]
    keys = [ledger.ledger_key(f.path) for f in files]
    with db.connection(settings) as conn:
        held = ledger.current_entries(conn, keys)
    state = []
    for raw, key in zip(files, keys):
        entry = held.get(key)
        if entry is None or not entry.same_file(raw.path):
            return None
        state.append((key, entry.file_id, entry.sha256))
    fmt = raw_dir / "format.json"
    extra = options.superstore_csv if source == "superstore" else None
    return {
        "files": state,
        "format": sha256_of(fmt) if fmt.is_file() else None,
        "superstore_csv": sha256_of(extra) if extra and extra.is_file() else None,
    }


@dataclass
class Reuse:
    """The reuse decisions of one run: ``kept`` before a step starts, ``note`` after it ran."""

    settings: Settings
    run_id: str
    context: dict  # what every step depends on beside its parameters: source, currency, options
    published: dict | None  # the date's published manifest: where a mart step's last results are
    force: bool = False
    source: str = "demo"  # where the loading steps read their raw files
    options: SourceOptions = field(default_factory=SourceOptions)

    def __post_init__(self) -> None:
        self.code = code_digest()

    def _data(self, step: Step) -> object | None:
        """What the step's results are made of (see the module's doc); None: something to load."""
        if step.notebook == SCHEMA_STEP:
            return "schema"
        if step.mart == "pipeline" and step.notebook in LOADING_STEPS:
            run_date = date.fromisoformat(self.context["run_date"])
            return raw_state(self.settings, self.source, self.options, run_date, LOADING_STEPS[step.notebook])
        return data_version(self.settings)

    def fingerprint(self, job: StepJob) -> str | None:
        """The digest of the step's inputs; None when there is something new to load."""
        data = self._data(job.step)
        if data is None:
            return None
        context, parameters = dict(self.context), dict(job.parameters)
        if job.step.notebook in DATE_FREE_STEPS:
            context.pop("run_date", None)
            parameters.pop("run_date", None)
        inputs = {
            "notebook": job.step.notebook,
            "mart": job.step.mart,
            "notebook_sha256": sha256_of(job.source),
            "code": self.code,
            "data": data,
            "context": context,
            "parameters": {k: v for k, v in sorted(parameters.items()) if k not in RUN_NAMING},
        }
        return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()

    def kept(self, job: StepJob) -> tuple[StepRecord | None, str | None]:
        """The step's reused record if its inputs are those of its last results (else None),
        and its fingerprint (None for a step that cannot be reused, or one with something to load)."""
        if not is_reusable(job.step):
            return None, None
        fingerprint = self.fingerprint(job)
        if self.force or fingerprint is None:
            return None, fingerprint
        last = self._last_results(job.step)
        if not last or last.get("fingerprint") != fingerprint:
            return None, fingerprint
        record = StepRecord(
            job.step.notebook,
            job.step.mart,
            status="reused",
            seconds=0.0,
            executed_notebook=last.get("executed_notebook"),
            html_report=last.get("html_report"),
        )
        record.fingerprint, record.made_in_run = fingerprint, last["made_in_run"]
        log.info("%s: inputs unchanged, results of run %s reused", job.step.notebook, record.made_in_run)
        return record, fingerprint

    def starting(self, job: StepJob) -> None:
        """A database step about to change the database: its previous results stop being valid."""
        if job.step.mart == "pipeline" and is_reusable(job.step):
            with db.connection(self.settings) as conn:
                conn.execute("delete from etl.step_inputs where notebook = %s", (job.step.notebook,))

    def note(self, record: StepRecord, job: StepJob, fingerprint: str | None) -> StepRecord:
        """An executed step's record, with what it was computed from: for a loading step, the
        ledger as the step left it (the files it loaded are inputs the next run will find)."""
        record.made_in_run = self.run_id
        if record.status != "succeeded" or not is_reusable(job.step):
            return record
        if job.step.mart == "pipeline" and job.step.notebook in LOADING_STEPS:
            fingerprint = self.fingerprint(job)
        if fingerprint is None:
            return record
        record.fingerprint = fingerprint
        if record.mart == "pipeline":
            with db.connection(self.settings) as conn:
                conn.execute(
                    """
                    insert into etl.step_inputs (notebook, fingerprint, made_in_run, executed_notebook, html_report)
                    values (%s, %s, %s, %s, %s)
                    on conflict (notebook) do update set fingerprint = excluded.fingerprint,
                        made_in_run = excluded.made_in_run, executed_notebook = excluded.executed_notebook,
                        html_report = excluded.html_report, recorded_at = now()
                    """,
                    (record.notebook, fingerprint, self.run_id, record.executed_notebook, record.html_report),
                )
        return record

    def _last_results(self, step: Step) -> dict | None:
        if step.mart == "pipeline":
            with db.connection(self.settings) as conn:
                row = conn.execute(
                    "select fingerprint, made_in_run, executed_notebook, html_report from etl.step_inputs "
                    "where notebook = %s",
                    (step.notebook,),
                ).fetchone()
            keys = ("fingerprint", "made_in_run", "executed_notebook", "html_report")
            return dict(zip(keys, row)) if row else None
        if not self.published or self.published.get("status") != "succeeded" or not self._files_intact(step.mart):
            return None
        for entry in self.published.get("steps", []):
            if (
                (entry.get("notebook"), entry.get("mart")) == (step.notebook, step.mart)
                and entry.get("status") in REUSABLE_STATUSES
                and entry.get("made_in_run")
            ):
                return entry
        return None

    def _files_intact(self, mart: str) -> bool:
        """The published files of the mart are those its manifest lists (none edited or removed)."""
        listed = [f for f in (self.published or {}).get("files", []) if f["path"].split("/", 1)[0] == mart]
        return bool(listed) and all(
            (path := self.settings.exports_dir / f["path"]).is_file() and sha256_of(path) == f["sha256"] for f in listed
        )
