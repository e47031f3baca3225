"""Load a raw folder into the warehouse, one file per transaction.

For each contract file dated <= the run date: skip it if the ledger has it unchanged;
otherwise stream it into ``staging.<entity>_raw`` with COPY, check it with
``sql/staging/<entity>.sql``, quarantine what fails, merge the rest with
``sql/warehouse/<table>.sql``, and record the counts, checking read = loaded + rejected.
A changed file first removes the rows its previous version loaded. Any error rolls the
file's transaction back, so the warehouse is always as it was before that file.
"""

from __future__ import annotations

import csv
import logging
import tempfile
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Iterable

import psycopg
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
LOAD_LOCK_KEY = 7_262_001  # transaction-level advisory lock: one file load at a time


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


def _sql_file(*parts: str) -> str:
    return (SQL_DIR.joinpath(*parts)).read_text(encoding="utf-8")


def _copy_chunks(conn: psycopg.Connection, raw: RawFile, fmt: RawFormat, reject_spool) -> tuple[int, int]:
    """COPY the file's parsed rows into staging; spool the malformed lines. Returns (read, rejected)."""
    with raw.path.open("rb") as stream:
        header = read_header(stream, raw.path, raw.entity, fmt)
        table = sql.Identifier("staging", f"{raw.entity.name}_raw")
        columns = sql.SQL(", ").join(map(sql.Identifier, ["line_no", *header.loaded]))
        read = rejected = 0
        writer = csv.writer(reject_spool)
        with conn.cursor().copy(sql.SQL("copy {} ({}) from stdin (format csv)").format(table, columns)) as copy:
            for chunk in iter_chunks(stream, raw.path, header, fmt):
                read += chunk.lines_read
                rejected += len(chunk.rejects)
                writer.writerows((r.line_number, r.reason, r.raw_text) for r in chunk.rejects)
                if chunk.table.num_rows:
                    sink = pacsv_buffer(chunk.table)
                    copy.write(sink)
    if read == 0:
        log.warning("%s: header only, no rows", raw.path.name)
    return read, rejected


def pacsv_buffer(table) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue().to_pybytes()


def _copy_rejects(conn: psycopg.Connection, file_id: int, reject_spool) -> None:
    reject_spool.seek(0)
    with conn.cursor().copy(
        "copy etl.rejected_rows (file_id, line_number, reason, raw_text) from stdin"
    ) as copy:
        for line_number, reason, raw_text in csv.reader(reject_spool):
            copy.write_row((file_id, int(line_number), reason, raw_text))


def _refuse_unparseable_dates(conn: psycopg.Connection, raw: RawFile, fmt: RawFormat) -> None:
    """A date like 03/04/2026 is never guessed: without a declared format the file is refused."""
    column = {"sales": "sold_at", "loyalty": "occurred_at"}.get(raw.entity.name)
    if column is None or fmt.date_format:
        return
    row = conn.execute(sql.SQL(
        "select line_no, {col} from {tbl} where etl.looks_like_date(btrim({col})) "
        "and not etl.is_iso_timestamp(btrim({col})) order by line_no limit 1"
    ).format(col=sql.Identifier(column), tbl=sql.Identifier("staging", f"{raw.entity.name}_raw"))).fetchone()
    if row:
        raise FileRejected(raw.path, f"date {row[1]!r} is not ISO 8601 and its day/month order cannot be "
                                     "guessed: declare date_format in format.json", row[0])


def _ensure_partitions(conn: psycopg.Connection, entity: str) -> None:
    """Monthly partitions for every month the file's valid rows fall in."""
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


def _quarantine_checked(conn: psycopg.Connection, entity, file_id: int, fmt: RawFormat) -> int:
    """Move the rows the SQL checks refused into etl.rejected_rows; returns how many."""
    raw_text = sql.SQL("concat_ws({}, {})").format(
        sql.Literal(fmt.delimiter),
        sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in entity.column_names))
    return conn.execute(sql.SQL(
        "insert into etl.rejected_rows (file_id, line_number, reason, raw_text) "
        "select {file_id}, c.line_no, c.reason, {raw_text} "
        "from {checked} c join {raw} r using (line_no) where c.reason is not null"
    ).format(file_id=sql.Literal(file_id), raw_text=raw_text,
             checked=sql.Identifier("staging", f"{entity.name}_checked"),
             raw=sql.Identifier("staging", f"{entity.name}_raw"))).rowcount


def load_file(conn: psycopg.Connection, raw: RawFile, fmt: RawFormat, run_date: date,
              run_id: int | None) -> FileResult:
    """Load one raw file in the caller's open transaction (the caller commits)."""
    entity = raw.entity.name
    result = FileResult(str(raw.path), entity, raw.business_date.isoformat(), "loaded")
    conn.execute("select pg_advisory_xact_lock(%s)", (LOAD_LOCK_KEY,))
    sha256 = ledger.file_sha256(raw.path)
    previous = ledger.current_entry(conn, raw.path)
    if previous and previous.sha256 == sha256:
        result.status, result.file_id = "unchanged", previous.file_id
        return result

    for suffix in ("raw", "checked"):
        conn.execute(sql.SQL("truncate {}").format(sql.Identifier("staging", f"{entity}_{suffix}")))
    with tempfile.TemporaryFile("w+", newline="", encoding="utf-8") as reject_spool:
        read, parse_rejected = _copy_chunks(conn, raw, fmt, reject_spool)
        _refuse_unparseable_dates(conn, raw, fmt)
        if previous:
            ledger.retire(conn, previous)
            if entity in FACT_DATE_COLUMN:
                conn.execute(sql.SQL("delete from {} where file_id = %s").format(
                    sql.Identifier("warehouse", TARGET_TABLE[entity])), (previous.file_id,))
            result.status = "replaced"
        file_id = ledger.register(conn, raw, sha256, run_id)
        _copy_rejects(conn, file_id, reject_spool)

    conn.execute("truncate staging.load_context")
    conn.execute(
        "insert into staging.load_context values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (file_id, raw.business_date, run_date, fmt.decimal, fmt.date_format,
         MAX_QUANTITY, MAX_UNIT_PRICE, MAX_POINTS, MAX_TEXT_LENGTH),
    )
    conn.execute(sql.SQL("analyze {}").format(sql.Identifier("staging", f"{entity}_raw")))
    conn.execute(_sql_file("staging", f"{entity}.sql"))
    sql_rejected = _quarantine_checked(conn, raw.entity, file_id, fmt)
    if entity in FACT_DATE_COLUMN:
        _ensure_partitions(conn, entity)
    conn.execute(_sql_file("warehouse", f"{TARGET_TABLE[entity]}.sql"))
    loaded = conn.execute(sql.SQL("select count(*) from {} where reason is null").format(
        sql.Identifier("staging", f"{entity}_checked"))).fetchone()[0]
    if entity in FACT_DATE_COLUMN:
        in_warehouse = conn.execute(sql.SQL("select count(*) from {} where file_id = %s").format(
            sql.Identifier("warehouse", TARGET_TABLE[entity])), (file_id,)).fetchone()[0]
        if in_warehouse != loaded:
            raise AssertionError(f"{raw.path}: {loaded} valid rows but {in_warehouse} in {TARGET_TABLE[entity]}")
    ledger.finish(conn, file_id, read, loaded, parse_rejected + sql_rejected)
    result.rows_read, result.rows_loaded = read, loaded
    result.rows_rejected, result.file_id = parse_rejected + sql_rejected, file_id
    return result


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
                    entities: Iterable[str] = LOAD_ORDER, progress: bool = True) -> list[FileResult]:
    """Load every new or changed contract file dated <= ``run_date`` from ``raw_dir``."""
    fmt = RawFormat.read(raw_dir)
    wanted = set(entities)
    files = [f for f in list_raw_files(raw_dir, run_date) if f.entity.name in wanted]
    results: list[FileResult] = []
    conn = db.connect(settings)
    try:
        conn.execute("set timezone to 'UTC'")
        conn.commit()
        for raw in tqdm(files, desc="loading raw files", unit="file", disable=not progress):
            with conn.transaction():
                result = load_file(conn, raw, fmt, run_date, run_id)
            results.append(result)
            if result.status != "unchanged":
                log.info("%s: %s, read %d, loaded %d, rejected %d", raw.path.name, result.status,
                         result.rows_read, result.rows_loaded, result.rows_rejected)
                write_rejects_file(conn, result, settings.rejects_dir(run_date.isoformat()))
        conn.commit()
    finally:
        conn.close()
    return results


def summarize(results: list[FileResult]):
    """Per-entity totals as a DataFrame, for notebooks."""
    import pandas as pd

    frame = pd.DataFrame([asdict(r) for r in results],
                         columns=[*FileResult.__dataclass_fields__])
    return (frame.groupby(["entity", "status"], sort=False)
            [["rows_read", "rows_loaded", "rows_rejected"]].sum().assign(files=frame.groupby(
                ["entity", "status"], sort=False).size()).reset_index())
