"""Skip what has not changed: a step whose inputs are those of its last execution is not
run again; its results are kept and its manifest entry says ``reused`` and which run made them.

A step's inputs, digested into its *fingerprint*:

- the warehouse's data version: the ledger's current raw files (``etl.loaded_files``: id,
  path, sha256, rows loaded and rejected), read when the step is about to start, i.e. after
  the loading steps of the run; a new file or a late correction changes it;
- its parameters as resolved for this run (run date, overrides, currency, source options),
  without those that only name the run (its ids, its export folder);
- its code: the notebook file, the package's source files and the SQL files.

Only steps that read no raw file can be reused: the mart notebooks (their published exports
of that date are kept) and the pipeline steps whose result is the database itself
(``00_schema``, ``30_views``: their last fingerprint is kept in ``etl.step_inputs``). The
loading steps always run, since only they can see a new or corrected raw file; they skip the
files the ledger already holds, so a rerun that loads nothing spends little time in them.
``--force`` recomputes every step.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from etl_helpers import db
from etl_helpers.run.execute import StepRecord
from etl_helpers.run.params import StepJob
from etl_helpers.run.steps import Step
from etl_helpers.settings import PROJECT_ROOT, Settings
from etl_helpers.writing import sha256_of

log = logging.getLogger(__name__)

# pipeline steps that read no raw file: their result is the database's state, made from the SQL
# files (00_schema, which the runner also applies at every start) and the loaded warehouse (30_views)
DATABASE_STEPS = frozenset({"00_schema", "30_views"})
RUN_NAMING = frozenset({"run_id", "export_dir"})  # parameters that name the run, not its inputs
CODE_FOLDERS: tuple[tuple[Path, str], ...] = (  # (folder, file pattern) of the code every step runs
    (PROJECT_ROOT / "src" / "etl_helpers", "*.py"),
    (PROJECT_ROOT / "sql", "*.sql"),
)
REUSABLE_STATUSES = ("succeeded", "reused")


def is_reusable(step: Step) -> bool:
    return step.mart != "pipeline" or step.notebook in DATABASE_STEPS


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


@dataclass
class Reuse:
    """The reuse decisions of one run: ``kept`` before a step starts, ``note`` after it ran."""

    settings: Settings
    run_id: str
    context: dict  # what every step depends on beside its parameters: source, currency, options
    published: dict | None  # the date's published manifest: where a mart step's last results are
    force: bool = False

    def __post_init__(self) -> None:
        self.code = code_digest()

    def fingerprint(self, job: StepJob) -> str:
        inputs = {
            "notebook": job.step.notebook,
            "mart": job.step.mart,
            "notebook_sha256": sha256_of(job.source),
            "code": self.code,
            "data": data_version(self.settings),
            "context": self.context,
            "parameters": {k: v for k, v in sorted(job.parameters.items()) if k not in RUN_NAMING},
        }
        return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()

    def kept(self, job: StepJob) -> tuple[StepRecord | None, str | None]:
        """The step's reused record if its inputs are those of its last results (else None),
        and its fingerprint (None for a step that cannot be reused)."""
        if not is_reusable(job.step):
            return None, None
        fingerprint = self.fingerprint(job)
        if self.force:
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

    def note(self, record: StepRecord, fingerprint: str | None) -> StepRecord:
        """An executed step's record, with what it was computed from."""
        record.made_in_run = self.run_id
        if fingerprint is None or record.status != "succeeded":
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
