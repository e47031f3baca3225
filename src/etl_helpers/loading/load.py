"""Load a raw folder into the warehouse, one file per transaction.

For each contract file dated <= the run date: skip it if the ledger has it unchanged;
otherwise stream it into ``staging.<entity>_raw`` with COPY, check it with
``sql/staging/<entity>.sql``, quarantine what fails, merge the rest with
``sql/warehouse/<table>.sql``, and record the counts, checking read = loaded + rejected.
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
from etl_helpers.contract import (LOAD_ORDER, MAX_POINTS, MAX_QUANTITY, MAX_TEXT_LENGTH, MAX_UNIT_PRICE,
                                  RawFile, RawFormat, list_raw_files)
from etl_helpers.loading import ledger
from etl_helpers.loading.reader import FileRejected, iter_chunks, read_header
from etl_helpers.settings import PROJECT_ROOT, Settings
from etl_helpers.writing import atomic_path

log = logging.getLogger(__name__)

SQL_DIR = PROJECT_ROOT / "sql"
TARGET_TABLE = {
    "regions": "dim_region", "stores": "dim_magasin", "products": "dim_produit",
    "customers": "dim_client", "sales": "fact_ventes", "loyalty": "fact_fidelite",
}
FACT_DATE_COLUMN = {"sales": "sale_date", "loyalty": "event_date"}
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


def _copy_file(conn: psycopg.Connection, raw: RawFile, file_id: int, fmt: RawFormat,
               reject_spool) -> tuple[int, int]:
    """COPY one file's parsed rows into staging; spool its malformed lines. Returns (read, rejected)."""
    with raw.path.open("rb") as stream:
        header = read_header(stream, raw.path, raw.entity, fmt)
        table = sql.Identifier("staging", f"{raw.entity.name}_raw")
        columns = sql.SQL(", ").join(map(sql.Identifier, ["file_id", "line_no", *header.loaded]))
        read = rejected = 0
        writer = csv.writer(reject_spool)
        with conn.cursor().copy(sql.SQL("copy {} ({}) from stdin (format csv)").format(table, columns)) as copy:
            for chunk in iter_chunks(stream, raw.path, header, fmt):
                read += chunk.lines_read
                rejected += len(chunk.rejects)
                writer.writerows((file_id, r.line_number, r.reason, r.raw_text) for r in chunk.rejects)
                if chunk.table.num_rows:
                    batch = chunk.table.add_column(0, "file_id", pa.array([file_id] * chunk.table.num_rows, pa.int64()))
                    copy.write(_csv_bytes(batch))
    if read == 0:
        log.warning("%s: header only, no rows", raw.path.name)
    return read, rejected


def _csv_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue().to_pybytes()


def _copy_rejects(conn: psycopg.Connection, reject_spool) -> None:
    reject_spool.seek(0)
    with conn.cursor().copy("copy etl.rejected_rows (file_id, line_number, reason, raw_text) from stdin") as copy:
        for file_id, line_number, reason, raw_text in csv.reader(reject_spool):
            copy.write_row((int(file_id), int(line_number), reason, raw_text))


def _refuse_unparseable_dates(conn: psycopg.Connection, entity: str, paths: dict[int, Path], fmt: RawFormat) -> None:
    """A date like 03/04/2026 is never guessed: without a declared format the file is refused."""
    column = {"sales": "sold_at", "loyalty": "occurred_at"}.get(entity)
    if column is None or fmt.date_format:
        return
    row = conn.execute(sql.SQL(
        "select file_id, line_no, {col} from {tbl} where etl.looks_like_date(btrim({col})) "
        "and not etl.is_iso_timestamp(btrim({col})) order by file_id, line_no limit 1"
    ).format(col=sql.Identifier(column), tbl=sql.Identifier("staging", f"{entity}_raw"))).fetchone()
    if row:
        raise FileRejected(paths[row[0]], f"date {row[2]!r} is not ISO 8601 and its day/month order cannot be "
                                          "guessed: declare date_format in format.json", row[1])


def _ensure_partitions(conn: psycopg.Connection, entity: str) -> None:
    """Monthly partitions for every month the batch's valid rows fall in."""
    date_column = FACT_DATE_COLUMN[entity]
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


def _quarantine_checked(conn: psycopg.Connection, entity, fmt: RawFormat) -> None:
    """Move the rows the SQL checks refused into etl.rejected_rows, with their raw text."""
    raw_text = sql.SQL("concat_ws({}, {})").format(
        sql.Literal(fmt.delimiter),
        sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in entity.column_names))
    conn.execute(sql.SQL(
        "insert into etl.rejected_rows (file_id, line_number, reason, raw_text) "
        "select c.file_id, c.line_no, c.reason, {raw_text} "
        "from {checked} c join {raw} r using (file_id, line_no) where c.reason is not null"
    ).format(raw_text=raw_text,
             checked=sql.Identifier("staging", f"{entity.name}_checked"),
             raw=sql.Identifier("staging", f"{entity.name}_raw")))


def _counts_by_file(conn: psycopg.Connection, entity: str) -> dict[int, tuple[int, int]]:
    """file_id -> (rows loaded, rows rejected by the SQL checks)."""
    rows = conn.execute(sql.SQL(
        "select file_id, count(*) filter (where reason is null), count(*) filter (where reason is not null) "
        "from {} group by file_id"
    ).format(sql.Identifier("staging", f"{entity}_checked"))).fetchall()
    return {file_id: (loaded, rejected) for file_id, loaded, rejected in rows}


def _check_facts_landed(conn: psycopg.Connection, entity: str, expected: dict[int, int]) -> None:
    rows = conn.execute(sql.SQL("select file_id, count(*) from {} where file_id = any(%s) group by file_id").format(
        sql.Identifier("warehouse", TARGET_TABLE[entity])), (list(expected),)).fetchall()
    landed = dict(rows)
    for file_id, count in expected.items():
        if landed.get(file_id, 0) != count:
            raise AssertionError(f"file {file_id}: {count} valid rows but {landed.get(file_id, 0)} "
                                 f"in {TARGET_TABLE[entity]}")


def load_batch(conn: psycopg.Connection, files: list[RawFile], fmt: RawFormat, run_date: date,
               run_id: int | None, progress: bool | None = None) -> list[FileResult]:
    """Load files of one entity in the caller's open transaction (the caller commits).

    Unchanged files are skipped; the others are staged together and checked and merged
    with one set-based statement each, so a batch of daily files costs little more than one.
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

    for table in (f"{entity.name}_raw", f"{entity.name}_checked", "load_files", "load_context"):
        conn.execute(sql.SQL("truncate {}").format(sql.Identifier("staging", table)))
    paths: dict[int, Path] = {}
    with tempfile.TemporaryFile("w+", newline="", encoding="utf-8") as reject_spool:
        for raw, result in tqdm(todo, desc=f"staging {entity.name}", unit="file",
                                disable=None if progress is None else not progress):
            if result.previous:
                ledger.retire(conn, result.previous)
                if entity.name in FACT_DATE_COLUMN:
                    conn.execute(sql.SQL("delete from {} where file_id = %s").format(
                        sql.Identifier("warehouse", TARGET_TABLE[entity.name])), (result.previous.file_id,))
                result.status = "replaced"
            result.file_id = ledger.register(conn, raw, result.sha256, run_id)
            paths[result.file_id] = raw.path
            conn.execute("insert into staging.load_files values (%s, %s)", (result.file_id, raw.business_date))
            result.rows_read, result.rows_rejected = _copy_file(conn, raw, result.file_id, fmt, reject_spool)
        _copy_rejects(conn, reject_spool)
    _refuse_unparseable_dates(conn, entity.name, paths, fmt)

    conn.execute(
        "insert into staging.load_context values (%s, %s, %s, %s, %s, %s, %s)",
        (run_date, fmt.decimal, fmt.date_format, MAX_QUANTITY, MAX_UNIT_PRICE, MAX_POINTS, MAX_TEXT_LENGTH),
    )
    conn.execute(sql.SQL("analyze {}").format(sql.Identifier("staging", f"{entity.name}_raw")))
    conn.execute(_sql_file("staging", f"{entity.name}.sql"))
    _quarantine_checked(conn, entity, fmt)
    if entity.name in FACT_DATE_COLUMN:
        _ensure_partitions(conn, entity.name)
    conn.execute(_sql_file("warehouse", f"{TARGET_TABLE[entity.name]}.sql"))

    counts = _counts_by_file(conn, entity.name)
    for _, result in todo:
        loaded, sql_rejected = counts.get(result.file_id, (0, 0))
        result.rows_loaded = loaded
        result.rows_rejected += sql_rejected
        ledger.finish(conn, result.file_id, result.rows_read, result.rows_loaded, result.rows_rejected)
    if entity.name in FACT_DATE_COLUMN:
        _check_facts_landed(conn, entity.name, {r.file_id: r.rows_loaded for _, r in todo})
    return results


def write_rejects_file(conn: psycopg.Connection, result: FileResult, rejects_dir: Path) -> Path | None:
    """``data/processed/<date>/rejects/<file>``: source file, line, reason, raw text."""
    if not result.rows_rejected or result.file_id is None:
        return None
    rejects_dir.mkdir(parents=True, exist_ok=True)
    target = rejects_dir / Path(result.path).name
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
