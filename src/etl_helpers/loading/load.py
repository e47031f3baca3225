"""Load a raw folder into the warehouse: new and changed files only, atomically.

For each contract file dated <= the run date: skip it if the ledger has it unchanged;
otherwise stream it (``reader``), type and check its values (``values``) and COPY them into
``staging.<entity>``; check keys, lookups and dates with ``sql/staging/<entity>.sql``,
quarantine what fails, merge the rest with ``sql/warehouse/<table>.sql``, and record the
counts, checking read = loaded + rejected.
A changed file first removes the rows its previous version loaded. Reference snapshots
load one per transaction, the new daily files of an entity together in one: any error
rolls that transaction back, so the warehouse is always as it was before it.
"""

from __future__ import annotations

import csv
import logging
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Iterable

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql
from tqdm.auto import tqdm

from etl_helpers import db
from etl_helpers.contract import LOAD_ORDER, Entity, RawFile, RawFormat, list_raw_files
from etl_helpers.loading import ledger
from etl_helpers.loading.reader import iter_chunks, read_header
from etl_helpers.loading.values import staging_columns, type_chunk
from etl_helpers.settings import PROJECT_ROOT, Settings
from etl_helpers.writing import atomic_path

log = logging.getLogger(__name__)

SQL_DIR = PROJECT_ROOT / "sql"
TARGET_TABLE = {
    "regions": "dim_region", "stores": "dim_magasin", "products": "dim_produit",
    "customers": "dim_client", "sales": "fact_ventes", "loyalty": "fact_fidelite",
}
FACT_DATE = {"sales": "sale_date", "loyalty": "event_date"}
TYPING_BATCH_ROWS = 200_000
LOAD_LOCK_KEY = 7_262_001  # transaction-level advisory lock: one load at a time


@dataclass
class FileResult:
    path: str
    entity: str
    business_date: str
    status: str          # loaded | replaced | unchanged
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    file_id: int | None = None
    sha256: str = ""
    previous: ledger.LedgerEntry | None = field(default=None, repr=False)


def _sql_file(*parts: str) -> str:
    return (SQL_DIR.joinpath(*parts)).read_text(encoding="utf-8")


class _StagingWriter:
    """Buffers parsed chunks across files and types them in batches of about
    ``TYPING_BATCH_ROWS`` rows (pyarrow compute calls cost per call, not per row), then
    writes them to the open COPY of ``staging.<entity>``."""

    def __init__(self, copy, entity: Entity, fmt: RawFormat):
        self.copy, self.entity, self.fmt = copy, entity, fmt
        self.pending: list[tuple[pa.Table, RawFile, int]] = []
        self.rows = 0

    def add(self, table: pa.Table, raw: RawFile, file_id: int) -> None:
        self.pending.append((table, raw, file_id))
        self.rows += table.num_rows
        if self.rows >= TYPING_BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        first_raw = self.pending[0][1]
        # a batch spans several files of one entity: per-file values (file id, business date
        # for the customers' birth-year bound) travel as columns or stay constant per batch
        tables = [t.append_column("file_id", pa.array([fid] * t.num_rows, pa.int64())) for t, _, fid in self.pending]
        paths = {fid: raw.path for _, raw, fid in self.pending}
        combined = pa.concat_tables(tables, promote_options="default")
        typed = type_chunk(combined, self.entity, self.fmt, first_raw.business_date, paths)
        self.copy.write(_csv_bytes(typed))
        self.pending, self.rows = [], 0


def _stage_files(conn: psycopg.Connection, entity: Entity, todo: list[tuple[RawFile, "FileResult"]],
                 fmt: RawFormat, reject_spool, progress: bool | None) -> None:
    """One COPY into ``staging.<entity>`` for all the batch's files: read, screen, type.
    Fills each result's rows_read and rows_rejected (lines refused before typing)."""
    table = sql.Identifier("staging", entity.name)
    columns = sql.SQL(", ").join(sql.Identifier(name) for name, _ in staging_columns(entity))
    writer = csv.writer(reject_spool)
    statement = sql.SQL("copy {} ({}) from stdin (format csv)").format(table, columns)
    with conn.cursor().copy(statement) as copy:
        staging = _StagingWriter(copy, entity, fmt)
        for raw, result in tqdm(todo, desc=f"loading {entity.name}", unit="file",
                                disable=None if progress is None else not progress):
            with raw.path.open("rb") as stream:
                header = read_header(stream, raw.path, entity, fmt)
                for chunk in iter_chunks(stream, raw.path, header, fmt):
                    result.rows_read += chunk.lines_read
                    result.rows_rejected += len(chunk.rejects)
                    writer.writerows((result.file_id, r.line_number, r.reason, r.raw_text) for r in chunk.rejects)
                    if chunk.table.num_rows:
                        staging.add(chunk.table, raw, result.file_id)
            if result.rows_read == 0:
                log.warning("%s: header only, no rows", raw.path.name)
            if entity.kind == "reference":
                staging.flush()  # one snapshot's business date per typing batch
        staging.flush()


def _csv_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue().to_pybytes()


def _copy_rejects(conn: psycopg.Connection, reject_spool) -> None:
    reject_spool.seek(0)
    with conn.cursor().copy("copy etl.rejected_rows (file_id, line_number, reason, raw_text) from stdin") as copy:
        for file_id, line_number, reason, raw_text in csv.reader(reject_spool):
            copy.write_row((int(file_id), int(line_number), reason, raw_text))


def _ensure_partitions(conn: psycopg.Connection, entity: str) -> None:
    """Monthly partitions for every month the batch's valid rows fall in."""
    date_column = FACT_DATE[entity]
    table = TARGET_TABLE[entity]
    months = conn.execute(sql.SQL(
        "select distinct date_trunc('month', {col})::date from {checked} where reason is null"
    ).format(col=sql.Identifier(date_column), checked=sql.Identifier("staging", f"{entity}_checked"))).fetchall()
    for (month,) in months:
        next_month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        conn.execute(sql.SQL(
            "create table if not exists {part} partition of {parent} for values from ({lo}) to ({hi})"
        ).format(part=sql.Identifier("warehouse", f"{table}_{month:%Y_%m}"),
                 parent=sql.Identifier("warehouse", table), lo=sql.Literal(month), hi=sql.Literal(next_month)))


def _quarantine_checked(conn: psycopg.Connection, entity: Entity, fmt: RawFormat) -> None:
    """Move the rows the checks refused into etl.rejected_rows, with their raw text (as read
    when typing failed; rebuilt from the typed values when a relational check failed)."""
    rebuilt = sql.SQL("concat_ws({}, {})").format(
        sql.Literal(fmt.delimiter),
        sql.SQL(", ").join(sql.SQL("coalesce(s.{}::text, s.{}::text, '')").format(
            sql.Identifier(c.name), sql.Identifier(f"{c.name}_local" if c.type == "timestamptz" else c.name))
            for c in entity.columns))
    conn.execute(sql.SQL(
        "insert into etl.rejected_rows (file_id, line_number, reason, raw_text) "
        "select c.file_id, c.line_no, c.reason, coalesce(s.raw_text, {rebuilt}) "
        "from {checked} c join {staged} s using (file_id, line_no) where c.reason is not null"
    ).format(rebuilt=rebuilt, checked=sql.Identifier("staging", f"{entity.name}_checked"),
             staged=sql.Identifier("staging", entity.name)))


def _counts_by_file(conn: psycopg.Connection, entity: str) -> dict[int, tuple]:
    """file_id -> (rows loaded, rows rejected by the checks after reading, first and last
    event date loaded: null for reference snapshots)."""
    dates = (sql.SQL("min({col}) filter (where reason is null), max({col}) filter (where reason is null)")
             .format(col=sql.Identifier(FACT_DATE[entity])) if entity in FACT_DATE else sql.SQL("null, null"))
    rows = conn.execute(sql.SQL(
        "select file_id, count(*) filter (where reason is null), count(*) filter (where reason is not null), {} "
        "from {} group by file_id"
    ).format(dates, sql.Identifier("staging", f"{entity}_checked"))).fetchall()
    return {file_id: tuple(rest) for file_id, *rest in rows}


def load_batch(conn: psycopg.Connection, files: list[RawFile], fmt: RawFormat, run_date: date,
               run_id: int | None, progress: bool | None = None) -> list[FileResult]:
    """Load files of one entity in the caller's open transaction (the caller commits).

    Unchanged files are skipped; the others are staged together with one COPY, checked with
    one set-based statement and merged with another, so a batch of daily files costs little
    more than one.
    """
    if not files:
        return []
    entity = files[0].entity
    conn.execute("select pg_advisory_xact_lock(%s)", (LOAD_LOCK_KEY,))
    results: list[FileResult] = []
    todo: list[tuple[RawFile, FileResult]] = []
    for raw in files:
        result = FileResult(str(raw.path), entity.name, raw.business_date.isoformat(), "loaded")
        result.sha256 = ledger.file_sha256(raw.path)
        previous = ledger.current_entry(conn, raw.path)
        if previous and previous.sha256 == result.sha256:
            result.status, result.file_id = "unchanged", previous.file_id
        else:
            result.previous = previous
            todo.append((raw, result))
        results.append(result)
    if not todo:
        return results

    for table in (entity.name, f"{entity.name}_checked", "load_files", "load_context"):
        conn.execute(sql.SQL("truncate {}").format(sql.Identifier("staging", table)))
    for raw, result in todo:
        if result.previous:
            ledger.retire(conn, result.previous)
            if entity.name in FACT_DATE:
                conn.execute(sql.SQL("delete from {} where file_id = %s").format(
                    sql.Identifier("warehouse", TARGET_TABLE[entity.name])), (result.previous.file_id,))
            result.status = "replaced"
        result.file_id = ledger.register(conn, raw, result.sha256, run_id)
        conn.execute("insert into staging.load_files values (%s, %s)", (result.file_id, raw.business_date))
    conn.execute("insert into staging.load_context values (%s)", (run_date,))

    with tempfile.TemporaryFile("w+", newline="", encoding="utf-8") as reject_spool:
        _stage_files(conn, entity, todo, fmt, reject_spool, progress)
        _copy_rejects(conn, reject_spool)
    for table in (entity.name, "load_files", "load_context"):
        conn.execute(sql.SQL("analyze {}").format(sql.Identifier("staging", table)))
    conn.execute(_sql_file("staging", f"{entity.name}.sql"))
    if entity.name in FACT_DATE:
        _ensure_partitions(conn, entity.name)
    conn.execute(_sql_file("warehouse", f"{TARGET_TABLE[entity.name]}.sql"))
    _quarantine_checked(conn, entity, fmt)

    counts = _counts_by_file(conn, entity.name)
    for _, result in todo:
        loaded, rejected, first_date, last_date = counts.get(result.file_id, (0, 0, None, None))
        result.rows_loaded = loaded
        result.rows_rejected += rejected
        ledger.finish(conn, result.file_id, result.rows_read, result.rows_loaded, result.rows_rejected,
                      first_date, last_date)
    return results


def write_rejects_file(conn: psycopg.Connection, result: FileResult, rejects_dir: Path) -> Path | None:
    """``data/processed/<date>/rejects/<file>``: source file, line, reason, raw text.

    A file loaded without rejects has none: a rejects file left by its previous version goes.
    """
    target = rejects_dir / Path(result.path).name
    if not result.rows_rejected or result.file_id is None:
        target.unlink(missing_ok=True)
        return None
    rejects_dir.mkdir(parents=True, exist_ok=True)
    query = sql.SQL(
        "copy (select {src} as source_file, line_number, reason, raw_text from etl.rejected_rows "
        "where file_id = {fid} order by line_number) to stdout (format csv, header)"
    ).format(src=sql.Literal(result.path), fid=sql.Literal(result.file_id))
    with atomic_path(target) as tmp, tmp.open("wb") as out, conn.cursor().copy(query) as copy:
        for block in copy:
            out.write(block)
    return target


def load_raw_folder(settings: Settings, raw_dir: Path, run_date: date, *, run_id: int | None = None,
                    entities: Iterable[str] = LOAD_ORDER, progress: bool | None = None) -> list[FileResult]:
    """Load every new or changed contract file dated <= ``run_date`` from ``raw_dir``.

    ``progress``: a progress bar; None shows it only on a terminal.
    """
    fmt = RawFormat.read(raw_dir)
    wanted = set(entities)
    files = [f for f in list_raw_files(raw_dir, run_date) if f.entity.name in wanted]
    results: list[FileResult] = []
    conn = db.connect(settings)
    try:
        conn.execute("set timezone to 'UTC'")
        conn.execute("set work_mem to '256MB'")  # duplicate checks hash a whole batch's keys in memory
        conn.execute("set synchronous_commit to off")  # a crash may lose the last load, ledger with it: rerun
        conn.execute("set jit = off")  # compiling the checks costs more than it saves, even on 1 M rows
        conn.commit()
        for batch in _batches(files):
            label = f"{batch[0].entity.name} ({len(batch)} file{'s' if len(batch) > 1 else ''})"
            log.info("loading %s", label)
            with conn.transaction():
                batch_results = load_batch(conn, batch, fmt, run_date, run_id, progress)
            results.extend(batch_results)
            for result in batch_results:
                if result.status != "unchanged":
                    write_rejects_file(conn, result, settings.rejects_dir(run_date.isoformat()))
        conn.commit()
    finally:
        conn.close()
    return results


def _batches(files: list[RawFile]) -> list[list[RawFile]]:
    """Reference snapshots one file at a time (their order matters for store history);
    the daily files of an event entity all together, in one transaction."""
    batches: list[list[RawFile]] = []
    for raw in files:
        if raw.entity.kind == "event" and batches and batches[-1][0].entity is raw.entity:
            batches[-1].append(raw)
        else:
            batches.append([raw])
    return batches


def summarize(results: list[FileResult]):
    """Per-entity totals as a DataFrame, for notebooks."""
    import pandas as pd

    columns = ["path", "entity", "business_date", "status", "rows_read", "rows_loaded", "rows_rejected"]
    frame = pd.DataFrame([{k: getattr(r, k) for k in columns} for r in results], columns=columns)
    return (frame.groupby(["entity", "status"], sort=False)
            [["rows_read", "rows_loaded", "rows_rejected"]].sum().assign(files=frame.groupby(
                ["entity", "status"], sort=False).size()).reset_index())
