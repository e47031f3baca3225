"""Load a raw folder into the warehouse: new and changed files only, atomically.

For each contract file dated <= the run date: skip it if the ledger has it unchanged;
otherwise stream it (``reader``) and type and check its values (``values``), then:

- a reference snapshot is COPYed into ``staging.<entity>``, checked against the other
  dimensions with ``sql/staging/<entity>.sql`` and merged with ``sql/warehouse/<table>.sql``;
- daily ticket lines and loyalty events are checked against the calendar and the dimensions
  in pyarrow (``events``) and COPYed straight into the fact table, while the next batch is
  being read: a month the fact table has no partition for yet goes to a table of its own,
  indexed once and attached at the end. Keys are the database's: if a line repeats one of
  the load or of the warehouse (a unique violation), the batch starts again through
  ``staging.<entity>_checked``, where ``sql/staging/repeated_keys.sql`` refuses every copy
  after the first.

What fails is quarantined; the counts are recorded, checking read = loaded + rejected.
A changed file first removes the rows its previous version loaded. Reference snapshots
load one per transaction, the new daily files of an entity together in one: any error
rolls that transaction back, so the warehouse is always as it was before it.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import queue
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, TypeVar

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from pgpq import ArrowToPostgresBinaryEncoder
from psycopg import sql
from tqdm.auto import tqdm

from etl_helpers import citus, db
from etl_helpers.contract import LOAD_ORDER, Entity, RawFile, RawFormat, list_raw_files
from etl_helpers.loading import ledger
from etl_helpers.loading.events import FACT_COLUMNS, Dimensions, check_events
from etl_helpers.loading.reader import Block, Header, Reject, iter_blocks, parse_blocks, read_header
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
TYPING_BATCH_ROWS = 50_000  # large enough per call
FIRST_BATCH_ROWS = 10_000   # small, so that the database starts its first COPY early
PARSE_BYTES = 4 * 1024 * 1024  # small files are parsed together, up to this much
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
    first_date: date | None = None   # event dates of the rows loaded (daily files)
    last_date: date | None = None
    previous: ledger.LedgerEntry | None = field(default=None, repr=False)


def _sql_file(*parts: str) -> str:
    return (SQL_DIR.joinpath(*parts)).read_text(encoding="utf-8")


class _HashedStream:
    """A binary file hashed as it is read (to its end, by the reader): a file new to the
    ledger is then read once, not once to hash it and again to load it."""

    def __init__(self, file: BinaryIO):
        self.file, self.digest = file, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(size)
        self.digest.update(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        line = self.file.readline(size)
        self.digest.update(line)
        return line


def _typed_batches(todo: list[tuple[RawFile, FileResult]], fmt: RawFormat, reject_spool,
                   progress: bool | None) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Read, screen and type the files: (rows as read, typed rows) of about ``TYPING_BATCH_ROWS``
    rows (the first of ``FIRST_BATCH_ROWS``), several daily files each (pyarrow calls cost per
    call, not per row), one per reference snapshot (its business date bounds the customers'
    birth years). Counts each file's lines read and spools the lines refused before typing."""
    entity = todo[0][0].entity
    results = {result.file_id: result for _, result in todo}
    writer = _reject_writer(reject_spool)
    blocks: list[Block] = []           # screened, waiting to be parsed together
    block_header: Header | None = None
    pending_bytes = pending_rows = 0
    parsed: list[pa.Table] = []        # parsed, waiting to be typed together
    rows = 0
    batch_rows = FIRST_BATCH_ROWS

    def refuse(file_id: int, rejects: list[Reject]) -> None:
        results[file_id].rows_rejected += len(rejects)
        writer.writerows((file_id, r.line_number, r.reason, r.raw_text) for r in rejects)

    def parse() -> None:
        nonlocal blocks, rows, pending_bytes, pending_rows
        pending_bytes = pending_rows = 0
        if blocks:
            table, rejects = parse_blocks(blocks, block_header, fmt)
            for file_id, reject in rejects:
                refuse(file_id, [reject])
            parsed.append(table)
            rows += table.num_rows
            blocks = []

    def typed() -> tuple[pa.Table, pa.Table]:
        nonlocal parsed, rows
        combined = pa.concat_tables(parsed, promote_options="default")
        paths = {file_id: Path(results[file_id].path) for file_id in set(combined["file_id"].to_pylist())}
        first_file = results[combined["file_id"][0].as_py()]
        parsed, rows = [], 0
        return combined, type_chunk(combined, entity, fmt, date.fromisoformat(first_file.business_date), paths)

    for raw, result in tqdm(todo, desc=f"loading {entity.name}", unit="file",
                            disable=None if progress is None else not progress):
        with raw.path.open("rb") as file:
            stream = _HashedStream(file)
            header = read_header(stream, raw.path, entity, fmt)
            if block_header is not None and header.columns != block_header.columns:
                parse()
            block_header = header
            for block in iter_blocks(stream, raw.path, header, fmt, result.file_id):
                result.rows_read += block.lines_read
                refuse(result.file_id, block.rejects)
                if len(block.numbers):
                    blocks.append(block)
                    pending_bytes += len(block.kept)
                    pending_rows += len(block.numbers)
                    if pending_bytes >= PARSE_BYTES:
                        parse()
        result.sha256 = stream.digest.hexdigest()  # of the bytes loaded
        if result.rows_read == 0:
            log.warning("%s: header only, no rows", raw.path.name)
        # one reference snapshot per typing batch: its business date bounds birth years
        if entity.kind == "reference" or rows + pending_rows >= batch_rows:
            parse()
            if rows:
                yield typed()
                batch_rows = TYPING_BATCH_ROWS
    parse()
    if rows:
        yield typed()


T = TypeVar("T")


def _in_background(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Produce ``items`` in a thread, ``depth`` ahead of the consumer: reading and checking
    the next batch (pyarrow, numpy: off the GIL) overlaps the database's COPY of this one."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                ready.put(item)
        except BaseException as error:  # handed to the consumer, raised there
            ready.put(error)
        ready.put(done)

    thread = threading.Thread(target=produce, name="load-reader", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                ready.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()


def _csv_bytes(table: pa.Table) -> bytes:
    """CSV for COPY. Instants are written as UTC wall times, which the load's session (time
    zone UTC) reads back exactly: pyarrow writes those twenty times faster than with a zone."""
    for i, column in enumerate(table.columns):
        if pa.types.is_timestamp(column.type) and column.type.tz:
            table = table.set_column(i, table.field(i).name, pc.cast(column, pa.timestamp(column.type.unit)))
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue().to_pybytes()


def _as_columns(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` cast to ``schema``: the target's own types, decimals rounded half away from
    zero, as PostgreSQL rounds numeric input."""
    columns = [_decimal(table[t.name], t.type) if pa.types.is_decimal(t.type) else pc.cast(table[t.name], t.type)
               for t in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def _binary_bytes(typed: pa.Table) -> list[bytes]:
    """PostgreSQL's binary COPY format of rows already cast (:func:`_as_columns`), in pieces
    to write one after the other. The server then only copies bytes where CSV would have it
    parse every date, number and timestamp again."""
    encoder = ArrowToPostgresBinaryEncoder(typed.schema)
    return [encoder.write_header(), *(encoder.write_batch(b) for b in typed.to_batches()), encoder.finish()]


def _decimal(text: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """Decimal text as ``target``, rounded half away from zero (as PostgreSQL rounds numeric
    input) when a value has more decimals than the column keeps."""
    try:
        return pc.cast(text, target)  # the usual case, exact: a third of the cost of rounding
    except pa.ArrowInvalid:
        return pc.cast(pc.round(pc.cast(text, pa.decimal128(38, 12)), target.scale, "half_towards_infinity"), target)


PG_TO_ARROW = {"integer": pa.int32(), "bigint": pa.int64(), "date": pa.date32(), "text": pa.string(),
               "boolean": pa.bool_(), "timestamp with time zone": pa.timestamp("us", tz="UTC")}


def _arrow_schema(conn: psycopg.Connection, table: str, columns: list[str]) -> pa.Schema:
    """The Arrow types of ``warehouse.<table>``'s columns, read from the database."""
    types = dict(conn.execute(
        "select attname, format_type(atttypid, atttypmod) from pg_attribute "
        "where attrelid = %s::regclass and attnum > 0 and not attisdropped", (f"warehouse.{table}",)).fetchall())

    def arrow(pg_type: str) -> pa.DataType:
        if pg_type.startswith("numeric("):
            precision, scale = pg_type[len("numeric("):-1].split(",")
            return pa.decimal128(int(precision), int(scale))
        return PG_TO_ARROW[pg_type]

    return pa.schema([(name, arrow(types[name])) for name in columns])


def _copy(conn: psycopg.Connection, table: sql.Composable, columns: list[str], data: bytes | list[bytes],
          binary: bool = False, freeze: bool = False) -> None:
    """COPY ``data`` (CSV, or PostgreSQL's binary format; whole or in pieces) into ``table``;
    ``freeze``, for a table created in this transaction, writes the rows already frozen and
    visible to all, so no later reader or vacuum has to rewrite every page to say so."""
    options = sql.SQL(", ").join(sql.SQL(o) for o in ("format binary" if binary else "format csv",
                                                      *(["freeze"] if freeze else [])))
    statement = sql.SQL("copy {} ({}) from stdin ({})").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns)), options)
    with conn.cursor().copy(statement) as copy:
        for piece in [data] if isinstance(data, bytes) else data:
            copy.write(memoryview(piece))  # psycopg sends it in slices: views, not copies


def _copy_rejects(conn: psycopg.Connection, reject_spool) -> None:
    """Stream the spooled rejects (CSV: file id, line, reason, raw text) into etl.rejected_rows."""
    reject_spool.seek(0)
    with conn.cursor().copy("copy etl.rejected_rows (file_id, line_number, reason, raw_text) "
                            "from stdin (format csv)") as copy:
        while block := reject_spool.read(1 << 20):
            copy.write(block)


def _reject_writer(reject_spool):
    """Strings always quoted, so an empty raw text stays an empty string, not a null."""
    return csv.writer(reject_spool, quoting=csv.QUOTE_NONNUMERIC)


# --- reference snapshots: staged, checked and merged in SQL -----------------------------------

def _load_reference(conn: psycopg.Connection, entity: Entity, todo: list[tuple[RawFile, FileResult]],
                    fmt: RawFormat, reject_spool, progress: bool | None) -> None:
    columns = [name for name, _ in staging_columns(entity)]
    for _, typed in _typed_batches(todo, fmt, reject_spool, progress):
        _copy(conn, sql.Identifier("staging", entity.name), columns, _csv_bytes(typed))
    for table in (entity.name, "load_files"):
        conn.execute(sql.SQL("analyze {}").format(sql.Identifier("staging", table)))
    conn.execute(_sql_file("staging", f"{entity.name}.sql"))
    conn.execute(_sql_file("warehouse", f"{TARGET_TABLE[entity.name]}.sql"))
    _quarantine_checked(conn, entity, fmt)
    counts = _counts_by_file(conn, entity.name)
    for _, result in todo:
        loaded, rejected = counts.get(result.file_id, (0, 0))
        result.rows_loaded, result.rows_rejected = loaded, result.rows_rejected + rejected


def _quarantine_checked(conn: psycopg.Connection, entity: Entity, fmt: RawFormat) -> None:
    """Move the rows the checks refused into etl.rejected_rows, with their raw text."""
    conn.execute(sql.SQL(
        "insert into etl.rejected_rows (file_id, line_number, reason, raw_text) "
        "select c.file_id, c.line_no, c.reason, s.raw_text "
        "from {checked} c join {staged} s using (file_id, line_no) where c.reason is not null"
    ).format(checked=sql.Identifier("staging", f"{entity.name}_checked"),
             staged=sql.Identifier("staging", entity.name)))


def _counts_by_file(conn: psycopg.Connection, entity: str) -> dict[int, tuple[int, int]]:
    """file_id -> (rows loaded, rows rejected by the checks after reading)."""
    rows = conn.execute(sql.SQL(
        "select file_id, count(*) filter (where reason is null), count(*) filter (where reason is not null) "
        "from {} group by file_id"
    ).format(sql.Identifier("staging", f"{entity}_checked"))).fetchall()
    return {file_id: (loaded, rejected) for file_id, loaded, rejected in rows}


# --- daily facts: checked in pyarrow, COPYed into the fact table ---------------------------------

def _month_start(month_number: int) -> date:
    """Month numbers count months from year 0 (year * 12 + month - 1): consecutive, easy to range."""
    return date(month_number // 12, month_number % 12 + 1, 1)


def _month_number(day: date) -> int:
    return day.year * 12 + day.month - 1


def _partition(entity: str, month_number: int) -> str:
    """A fact table's partition of a month: ``fact_ventes_2026_11``."""
    return f"{TARGET_TABLE[entity]}_{_month_start(month_number):%Y_%m}"


class _FactWriter:
    """COPY checked rows into a fact table, month by month: through the partitioned table
    for months it has a partition for, into a new table of the month's otherwise, which is
    indexed (one sort instead of an index kept up to date row by row) and attached as the
    month's partition once the daily files have moved past it: the database builds that
    index while the next batch is being read. A late row of a month already attached goes
    through the partitioned table."""

    def __init__(self, conn: psycopg.Connection, entity: str):
        self.conn, self.entity, self.table = conn, entity, TARGET_TABLE[entity]
        self.columns = FACT_COLUMNS[entity]
        self.attached = _partitions(conn, entity)
        self.new: dict[str, int] = {}
        self.distributed: set[str] = set()  # new months distributed (Citus): no COPY FREEZE there

    def write(self, months: list[tuple[int, list[bytes]]]) -> None:
        for month_number, data in months:
            name = _partition(self.entity, month_number)
            if name in self.attached:
                _copy(self.conn, sql.Identifier("warehouse", self.table), self.columns, data, binary=True)
            else:
                if name not in self.new:
                    self._create_detached(name, month_number)
                _copy(self.conn, sql.Identifier("warehouse", name), self.columns, data, binary=True,
                      freeze=name not in self.distributed)
        if months:
            newest = max(month_number for month_number, _ in months)
            self._attach([name for name, month_number in self.new.items() if month_number < newest])

    def _create_detached(self, name: str, month_number: int) -> None:
        column = sql.Identifier(FACT_DATE[self.entity])
        self.conn.execute(sql.SQL(
            "create table {part} (like {parent} including defaults including constraints, "
            "constraint {range} check ({col} >= {lo} and {col} < {hi}))"
        ).format(part=sql.Identifier("warehouse", name), parent=sql.Identifier("warehouse", self.table),
                 range=sql.Identifier(f"{name}_range"), col=column,
                 lo=sql.Literal(_month_start(month_number)), hi=sql.Literal(_month_start(month_number + 1))))
        self.new[name] = month_number
        if citus.distribute_new_partition(self.conn, name, self.table):
            self.distributed.add(name)

    def finish(self) -> None:
        self._attach(list(self.new))

    def _attach(self, names: list[str]) -> None:
        """Attach new months: PostgreSQL builds each one's primary key (a repeated key fails
        here) and trusts the range constraint instead of scanning the rows."""
        for name in names:
            month_number = self.new.pop(name)
            self.conn.execute(sql.SQL("alter table {parent} attach partition {part} for values from ({lo}) to ({hi})")
                              .format(parent=sql.Identifier("warehouse", self.table),
                                      part=sql.Identifier("warehouse", name),
                                      lo=sql.Literal(_month_start(month_number)),
                                      hi=sql.Literal(_month_start(month_number + 1))))
            self.attached.add(name)


def _partitions(conn: psycopg.Connection, entity: str) -> set[str]:
    rows = conn.execute("select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                        "where i.inhparent = %s::regclass", (f"warehouse.{TARGET_TABLE[entity]}",)).fetchall()
    return {name for (name,) in rows}


ANALYZED_COLUMNS = {  # what the marts filter, join and group facts on: statistics worth their cost
    "sales": ("sale_date", "ticket_id", "store_id", "customer_id", "product_id", "quantity", "is_return"),
    "loyalty": ("event_date", "event_id", "customer_id", "store_id"),
}


def analyze_loaded(conn: psycopg.Connection, results: list[FileResult]) -> list[str]:
    """Statistics for what a load changed: the partitions of the months its daily files wrote,
    or the whole fact table (every partition: seconds on a long history) when one of those
    months is new, never analysed. Returns the tables analysed."""
    analysed = []
    for entity, table in ((e, TARGET_TABLE[e]) for e in FACT_DATE):
        months = {_partition(entity, m) for r in results
                  if r.entity == entity and r.status != "unchanged" and r.first_date
                  for m in range(_month_number(r.first_date), _month_number(r.last_date) + 1)}
        if not months:
            continue
        written = months & _partitions(conn, entity)
        with_statistics = {name for (name,) in conn.execute(
            "select distinct tablename from pg_stats where schemaname = 'warehouse' and tablename = any(%s)",
            (sorted(written),)).fetchall()}
        targets = [table] if written - with_statistics else sorted(written)
        columns = sql.SQL(", ").join(map(sql.Identifier, ANALYZED_COLUMNS[entity]))
        for name in targets:
            conn.execute(sql.SQL("analyze {} ({})").format(sql.Identifier("warehouse", name), columns))
        analysed += targets
    return analysed


def _by_month(checked: pa.Table, entity: Entity, schema: pa.Schema) -> list[tuple[int, list[bytes]]]:
    """The fact rows of a checked batch in binary COPY format, one block per calendar month,
    in primary key order: the index built when a new month is attached then finds its rows
    already sorted (a sort here costs less than half of what it saves there)."""
    rows = _as_columns(checked, schema).sort_by([(name, "ascending") for name in (FACT_DATE[entity.name], *entity.key)])
    day = rows[FACT_DATE[entity.name]]
    month_numbers = pc.add(pc.multiply(pc.year(day), 12), pc.subtract(pc.month(day), 1))
    blocks, start = [], 0
    for month in pc.value_counts(month_numbers).to_pylist():  # ascending: the rows are in date order
        blocks.append((month["values"], _binary_bytes(rows.slice(start, month["counts"]))))
        start += month["counts"]
    return blocks


def _checked_batches(dims: Dimensions, entity: Entity, todo: list[tuple[RawFile, FileResult]],
                     fmt: RawFormat, run_date: date, reject_spool, progress: bool | None,
                     shape: Callable[[pa.Table], T], with_raw_text: bool = False) -> Iterator[T]:
    """Each batch's valid rows, shaped for the database by ``shape``; the refused rows go to
    the spool; each file's counts and event dates are kept up to date."""
    business_dates = {result.file_id: raw.business_date for raw, result in todo}
    results = {result.file_id: result for _, result in todo}
    writer = _reject_writer(reject_spool)
    date_column = FACT_DATE[entity.name]
    for raw, typed in _typed_batches(todo, fmt, reject_spool, progress):
        checked, refused = check_events(typed, raw, entity, fmt, dims, business_dates, run_date, with_raw_text)
        writer.writerows(zip(*(refused[c].to_pylist() for c in ("file_id", "line_no", "reason", "raw_text"))))
        for count in refused["file_id"].value_counts().to_pylist():
            results[count["values"]].rows_rejected += count["counts"]
        per_file = checked.group_by("file_id").aggregate(
            [(date_column, "count"), (date_column, "min"), (date_column, "max")]).to_pylist()
        for row in per_file:
            result = results[row["file_id"]]
            result.rows_loaded += row[f"{date_column}_count"]
            result.first_date = min(filter(None, (result.first_date, row[f"{date_column}_min"])))
            result.last_date = max(filter(None, (result.last_date, row[f"{date_column}_max"])))
        yield shape(checked)


def _load_events(conn: psycopg.Connection, entity: Entity, todo: list[tuple[RawFile, FileResult]],
                 fmt: RawFormat, run_date: date, reject_spool, progress: bool | None) -> None:
    """Straight into the fact table; through staging if a key repeats (see the module's doc)."""
    dims = Dimensions.read(conn)

    def batches(shape, with_raw_text=False):
        return _in_background(_checked_batches(dims, entity, todo, fmt, run_date, reject_spool, progress, shape,
                                               with_raw_text))

    try:
        with conn.transaction():  # a savepoint: a repeated key undoes the direct load only
            writer = _FactWriter(conn, entity.name)
            schema = _arrow_schema(conn, TARGET_TABLE[entity.name], FACT_COLUMNS[entity.name])
            for months in batches(lambda checked: _by_month(checked, entity, schema)):
                writer.write(months)
            writer.finish()
        return
    except (psycopg.errors.UniqueViolation, psycopg.errors.InternalError_) as error:
        if not citus.is_unique_violation(error):  # Citus returns a worker's COPY error without its code
            raise
        log.info("%s: %s; checking keys through staging", entity.name, str(error).splitlines()[0])
    for _, result in todo:
        result.rows_read = result.rows_rejected = result.rows_loaded = 0
        result.first_date = result.last_date = None
    reject_spool.seek(0)
    reject_spool.truncate()

    checked_table = sql.Identifier("staging", f"{entity.name}_checked")
    columns = ["line_no", "raw_text", *FACT_COLUMNS[entity.name]]
    for data in batches(lambda checked: _csv_bytes(checked.select(columns)), with_raw_text=True):
        _copy(conn, checked_table, columns, data)
    conn.execute(sql.SQL("analyze {}").format(checked_table))
    _refuse_repeated_keys(conn, entity)
    _ensure_partitions(conn, entity.name)
    fact_columns = sql.SQL(", ").join(map(sql.Identifier, FACT_COLUMNS[entity.name]))
    conn.execute(sql.SQL("insert into {fact} ({cols}) select {cols} from {checked} where reason is null").format(
        fact=sql.Identifier("warehouse", TARGET_TABLE[entity.name]), cols=fact_columns, checked=checked_table))
    conn.execute(sql.SQL(
        "insert into etl.rejected_rows (file_id, line_number, reason, raw_text) "
        "select file_id, line_no, reason, raw_text from {} where reason is not null").format(checked_table))
    refused = conn.execute(sql.SQL("select file_id, count(*) from {} where reason is not null group by file_id")
                           .format(checked_table)).fetchall()
    results = {result.file_id: result for _, result in todo}
    for file_id, count in refused:
        result = results[file_id]
        result.rows_loaded -= count
        result.rows_rejected += count


def _ensure_partitions(conn: psycopg.Connection, entity: str) -> None:
    """Monthly partitions for every month the staged valid rows fall in."""
    table = TARGET_TABLE[entity]
    months = conn.execute(sql.SQL(
        "select distinct (extract(year from {col}) * 12 + extract(month from {col}) - 1)::int "
        "from {checked} where reason is null"
    ).format(col=sql.Identifier(FACT_DATE[entity]),
             checked=sql.Identifier("staging", f"{entity}_checked"))).fetchall()
    for (month_number,) in months:
        lo, hi = _month_start(month_number), _month_start(month_number + 1)
        conn.execute(sql.SQL(
            "create table if not exists {part} partition of {parent} for values from ({lo}) to ({hi})"
        ).format(part=sql.Identifier("warehouse", _partition(entity, month_number)),
                 parent=sql.Identifier("warehouse", table), lo=sql.Literal(lo), hi=sql.Literal(hi)))


KEY_MESSAGES = {
    "sales": ("duplicate ticket line (first on line {})", "ticket line also in an earlier file of this load",
              "ticket line already loaded from another file"),
    "loyalty": ("duplicate event_id (first on line {})", "event also in an earlier file of this load",
                "event already loaded from another file"),
}


def _refuse_repeated_keys(conn: psycopg.Connection, entity: Entity) -> None:
    """Give ``sql/staging/repeated_keys.sql``'s reason to every copy of a key after the first
    (by file, then line) and to every row whose key the warehouse already holds."""
    key = [FACT_DATE[entity.name], *entity.key]
    repeated_in_file, repeated_in_load, already_loaded = KEY_MESSAGES[entity.name]
    before, after = repeated_in_file.split("{}")
    statement = sql.SQL(_sql_file("staging", "repeated_keys.sql")).format(
        checked=sql.Identifier("staging", f"{entity.name}_checked"),
        fact=sql.Identifier("warehouse", TARGET_TABLE[entity.name]),
        key=sql.SQL(", ").join(map(sql.Identifier, key)),
        key_match=sql.SQL(" and ").join(sql.SQL("f.{c} = c.{c}").format(c=sql.Identifier(c)) for c in key))
    conn.execute(statement, {"in_file_before": before, "in_file_after": after, "in_load": repeated_in_load,
                             "already_loaded": already_loaded})


HASH_THREADS = 2  # hashlib and file reads release the GIL: two files at a time


def _sha256s(paths: list[Path]) -> dict[Path, str]:
    with ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
        return dict(zip(paths, pool.map(ledger.file_sha256, paths)))


def load_batch(conn: psycopg.Connection, files: list[RawFile], fmt: RawFormat, run_date: date,
               run_id: int | None, progress: bool | None = None) -> list[FileResult]:
    """Load files of one entity in the caller's open transaction (the caller commits).

    Unchanged files are skipped; the others are read in one stream and checked and written
    set by set, so a batch of daily files costs little more than one.
    """
    if not files:
        return []
    entity = files[0].entity
    conn.execute("select pg_advisory_xact_lock(%s)", (LOAD_LOCK_KEY,))
    results: list[FileResult] = []
    todo: list[tuple[RawFile, FileResult]] = []
    keys = {raw.path: ledger.ledger_key(raw.path) for raw in files}  # resolving a path: a few system calls
    current = ledger.current_entries(conn, list(keys.values()))
    previous_of = {raw.path: current.get(keys[raw.path]) for raw in files}
    # a file new to the ledger is hashed as it is read (_typed_batches); one it has is hashed
    # now, if its size or time moved, to tell whether its bytes changed
    hashes = _sha256s([raw.path for raw in files
                       if previous_of[raw.path] and not previous_of[raw.path].same_file(raw.path)])
    rehashed: list[tuple[int, Path]] = []
    for raw in files:
        result = FileResult(str(raw.path), entity.name, raw.business_date.isoformat(), "loaded")
        previous = previous_of[raw.path]
        if previous:
            result.sha256 = hashes.get(raw.path, previous.sha256)
        if previous and previous.sha256 == result.sha256:
            result.status, result.file_id = "unchanged", previous.file_id
            if raw.path in hashes:
                rehashed.append((previous.file_id, raw.path))
        else:
            result.previous = previous
            todo.append((raw, result))
        results.append(result)
    ledger.record_stat(conn, rehashed)
    if not todo:
        return results

    staged = ["load_files", f"{entity.name}_checked"] + ([entity.name] if entity.kind == "reference" else [])
    conn.execute(sql.SQL("truncate {}").format(sql.SQL(", ").join(sql.Identifier("staging", t) for t in staged)))
    replaced = [result.previous for _, result in todo if result.previous]
    if replaced:
        ledger.retire(conn, replaced)
        if entity.name in FACT_DATE:
            conn.execute(sql.SQL("delete from {} where file_id = any(%s)").format(
                sql.Identifier("warehouse", TARGET_TABLE[entity.name])), ([p.file_id for p in replaced],))
    file_ids = ledger.register(conn, [(raw, result.sha256) for raw, result in todo], run_id,
                               [keys[raw.path] for raw, _ in todo])
    for (raw, result), file_id in zip(todo, file_ids):
        result.file_id = file_id
        result.status = "replaced" if result.previous else "loaded"
    with conn.cursor().copy("copy staging.load_files (file_id, business_date) from stdin") as copy:
        for raw, result in todo:
            copy.write_row((result.file_id, raw.business_date))

    with tempfile.TemporaryFile("w+", newline="", encoding="utf-8") as reject_spool:
        if entity.kind == "event":
            _load_events(conn, entity, todo, fmt, run_date, reject_spool, progress)
        else:
            _load_reference(conn, entity, todo, fmt, reject_spool, progress)
        _copy_rejects(conn, reject_spool)
    ledger.finish(conn, [ledger.FileCounts(r.file_id, r.rows_read, r.rows_loaded, r.rows_rejected, r.sha256,
                                           r.first_date, r.last_date) for _, r in todo])
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


ARROW_DECAY_MS = 100  # a batch's pages go back to the system soon after; at 0 each batch faults them in again


def _arrow_memory_given_back() -> None:
    """Arrow's jemalloc pool, giving freed pages back to the system within ``ARROW_DECAY_MS``:
    the default pool (mimalloc) kept what earlier batches had used (about 50 MB more at
    every scale). Kept as is where pyarrow was built without jemalloc."""
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        return
    pa.jemalloc_set_decay_ms(ARROW_DECAY_MS)
    pa.set_memory_pool(pool)


def load_raw_folder(settings: Settings, raw_dir: Path, run_date: date, *, run_id: int | None = None,
                    entities: Iterable[str] = LOAD_ORDER, progress: bool | None = None) -> list[FileResult]:
    """Load every new or changed contract file dated <= ``run_date`` from ``raw_dir``.

    ``progress``: a progress bar; None shows it only on a terminal.
    """
    _arrow_memory_given_back()
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
        citus.prepare_load_session(conn)
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
