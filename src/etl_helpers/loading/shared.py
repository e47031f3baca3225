"""What the loader's pieces share: the target tables, a file's result, SQL files, COPY.

Rows go to PostgreSQL with COPY: CSV for staging, PostgreSQL's binary format for the facts
(cast first to the target's own types with :func:`as_columns`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from pgpq import ArrowToPostgresBinaryEncoder
from psycopg import sql

from etl_helpers.loading import ledger
from etl_helpers.settings import PROJECT_ROOT

SQL_DIR = PROJECT_ROOT / "sql"
TARGET_TABLE = {
    "regions": "dim_region",
    "stores": "dim_magasin",
    "products": "dim_produit",
    "customers": "dim_client",
    "sales": "fact_ventes",
    "loyalty": "fact_fidelite",
}
FACT_DATE = {"sales": "sale_date", "loyalty": "event_date"}


@dataclass
class FileResult:
    path: str
    entity: str
    business_date: str
    status: str  # loaded | replaced | unchanged
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    file_id: int = 0  # set when the file is registered in the ledger
    sha256: str = ""
    first_date: date | None = None  # event dates of the rows loaded (daily files)
    last_date: date | None = None
    previous: ledger.LedgerEntry | None = field(default=None, repr=False)


def sql_file(*parts: str) -> str:
    return (SQL_DIR.joinpath(*parts)).read_text(encoding="utf-8")


def csv_bytes(table: pa.Table) -> bytes:
    """CSV for COPY. Instants are written as UTC wall times, which the load's session (time
    zone UTC) reads back exactly: pyarrow writes those twenty times faster than with a zone."""
    for i, column in enumerate(table.columns):
        if pa.types.is_timestamp(column.type) and column.type.tz:
            table = table.set_column(i, table.field(i).name, pc.cast(column, pa.timestamp(column.type.unit)))
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue().to_pybytes()


def as_columns(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` cast to ``schema``: the target's own types, decimals rounded half away from
    zero, as PostgreSQL rounds numeric input."""
    columns = [
        _decimal(table[t.name], t.type) if pa.types.is_decimal(t.type) else pc.cast(table[t.name], t.type)
        for t in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def binary_bytes(typed: pa.Table) -> list[bytes]:
    """PostgreSQL's binary COPY format of rows already cast (:func:`as_columns`), in pieces
    to write one after the other. The server then only copies bytes where CSV would have it
    parse every date, number and timestamp again."""
    encoder = ArrowToPostgresBinaryEncoder(typed.schema)
    return [encoder.write_header(), *(encoder.write_batch(b) for b in typed.to_batches()), encoder.finish()]


def _decimal(number: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """A decimal as ``target``, rounded half away from zero (as PostgreSQL rounds numeric
    input) when a value has more decimals than the column keeps."""
    try:
        return pc.cast(number, target)  # the usual case, exact: a third of the cost of rounding
    except pa.ArrowInvalid:
        return pc.cast(pc.round(pc.cast(number, pa.decimal128(38, 12)), target.scale, "half_towards_infinity"), target)


PG_TO_ARROW = {
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "date": pa.date32(),
    "text": pa.string(),
    "boolean": pa.bool_(),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
}


def arrow_schema(conn: psycopg.Connection, table: str, columns: list[str]) -> pa.Schema:
    """The Arrow types of ``warehouse.<table>``'s columns, read from the database."""
    types: dict[str, str] = dict(
        conn.execute(
            "select attname, format_type(atttypid, atttypmod) from pg_attribute "
            "where attrelid = %s::regclass and attnum > 0 and not attisdropped",
            (f"warehouse.{table}",),
        ).fetchall()
    )

    def arrow(pg_type: str) -> pa.DataType:
        if pg_type.startswith("numeric("):
            precision, scale = pg_type[len("numeric(") : -1].split(",")
            return pa.decimal128(int(precision), int(scale))
        return PG_TO_ARROW[pg_type]

    return pa.schema([(name, arrow(types[name])) for name in columns])


def copy_into(
    conn: psycopg.Connection,
    table: sql.Composable,
    columns: list[str],
    data: bytes | list[bytes],
    binary: bool = False,
    freeze: bool = False,
) -> None:
    """COPY ``data`` (CSV, or PostgreSQL's binary format; whole or in pieces) into ``table``;
    ``freeze``, for a table created in this transaction, writes the rows already frozen and
    visible to all, so no later reader or vacuum has to rewrite every page to say so."""
    options = sql.SQL(", ").join(
        sql.SQL(o) for o in ("format binary" if binary else "format csv", *(["freeze"] if freeze else []))
    )
    statement = sql.SQL("copy {} ({}) from stdin ({})").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns)), options
    )
    with conn.cursor().copy(statement) as copy:
        for piece in [data] if isinstance(data, bytes) else data:
            copy.write(memoryview(piece))  # psycopg sends it in slices: views, not copies


def copy_rejects(conn: psycopg.Connection, reject_spool) -> None:
    """Stream the spooled rejects (CSV: file id, line, reason, raw text) into etl.rejected_rows."""
    reject_spool.seek(0)
    with conn.cursor().copy(
        "copy etl.rejected_rows (file_id, line_number, reason, raw_text) from stdin (format csv)"
    ) as copy:
        while block := reject_spool.read(1 << 20):
            copy.write(block)


def reject_writer(reject_spool):
    """Strings always quoted, so an empty raw text stays an empty string, not a null."""
    return csv.writer(reject_spool, quoting=csv.QUOTE_NONNUMERIC)
