"""Daily ticket lines and loyalty events: checked in pyarrow, COPYed into the fact table.

The rows are checked against the calendar and the dimensions (``events``) and COPYed straight
into the fact table while the next batch is being read: a month the fact table has no
partition for yet goes to a table of its own, indexed once and attached at the end. Keys are
the database's: if a line repeats one of the load or of the warehouse (a unique violation),
the batch starts again through ``staging.<entity>_checked``, where
``sql/staging/repeated_keys.sql`` refuses every copy after the first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO, TypeVar

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from etl_helpers import citus
from etl_helpers.contract import Entity, RawFile, RawFormat
from etl_helpers.loading.batches import in_background, typed_batches
from etl_helpers.loading.events import FACT_COLUMNS, Dimensions, check_events
from etl_helpers.loading.shared import (
    FACT_DATE,
    TARGET_TABLE,
    FileResult,
    arrow_schema,
    as_columns,
    binary_bytes,
    copy_into,
    csv_bytes,
    reject_writer,
    sql_file,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


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
                copy_into(self.conn, sql.Identifier("warehouse", self.table), self.columns, data, binary=True)
            else:
                if name not in self.new:
                    self._create_detached(name, month_number)
                copy_into(
                    self.conn,
                    sql.Identifier("warehouse", name),
                    self.columns,
                    data,
                    binary=True,
                    freeze=name not in self.distributed,
                )
        if months:
            newest = max(month_number for month_number, _ in months)
            self._attach([name for name, month_number in self.new.items() if month_number < newest])

    def _create_detached(self, name: str, month_number: int) -> None:
        column = sql.Identifier(FACT_DATE[self.entity])
        self.conn.execute(
            sql.SQL(
                "create table {part} (like {parent} including defaults including constraints, "
                "constraint {range} check ({col} >= {lo} and {col} < {hi}))"
            ).format(
                part=sql.Identifier("warehouse", name),
                parent=sql.Identifier("warehouse", self.table),
                range=sql.Identifier(f"{name}_range"),
                col=column,
                lo=sql.Literal(_month_start(month_number)),
                hi=sql.Literal(_month_start(month_number + 1)),
            )
        )
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
            self.conn.execute(
                sql.SQL("alter table {parent} attach partition {part} for values from ({lo}) to ({hi})").format(
                    parent=sql.Identifier("warehouse", self.table),
                    part=sql.Identifier("warehouse", name),
                    lo=sql.Literal(_month_start(month_number)),
                    hi=sql.Literal(_month_start(month_number + 1)),
                )
            )
            self.attached.add(name)


def _partitions(conn: psycopg.Connection, entity: str) -> set[str]:
    rows = conn.execute(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = %s::regclass",
        (f"warehouse.{TARGET_TABLE[entity]}",),
    ).fetchall()
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
        months = {
            _partition(entity, m)
            for r in results
            if r.entity == entity and r.status != "unchanged" and r.first_date and r.last_date
            for m in range(_month_number(r.first_date), _month_number(r.last_date) + 1)
        }
        if not months:
            continue
        written = months & _partitions(conn, entity)
        with_statistics = {
            name
            for (name,) in conn.execute(
                "select distinct tablename from pg_stats where schemaname = 'warehouse' and tablename = any(%s)",
                (sorted(written),),
            ).fetchall()
        }
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
    rows = as_columns(checked, schema).sort_by([(name, "ascending") for name in (FACT_DATE[entity.name], *entity.key)])
    day = rows[FACT_DATE[entity.name]]
    month_numbers = pc.add(pc.multiply(pc.year(day), 12), pc.subtract(pc.month(day), 1))
    blocks, start = [], 0
    for month in pc.value_counts(month_numbers).to_pylist():  # ascending: the rows are in date order
        blocks.append((month["values"], binary_bytes(rows.slice(start, month["counts"]))))
        start += month["counts"]
    return blocks


@dataclass(frozen=True)
class EventFiles:
    """The daily files of one event entity that a load reads, and how: what
    :func:`load_events` and each of its passes over the files share."""

    entity: Entity
    todo: list[tuple[RawFile, FileResult]]
    fmt: RawFormat
    run_date: date
    reject_spool: IO[str]
    progress: bool | None


def _checked_batches(
    dims: Dimensions, files: EventFiles, shape: Callable[[pa.Table], T], with_raw_text: bool = False
) -> Iterator[T]:
    """Each batch's valid rows, shaped for the database by ``shape``; the refused rows go to
    the spool; each file's counts and event dates are kept up to date."""
    entity, todo, fmt = files.entity, files.todo, files.fmt
    business_dates = {result.file_id: raw.business_date for raw, result in todo}
    results = {result.file_id: result for _, result in todo}
    writer = reject_writer(files.reject_spool)
    date_column = FACT_DATE[entity.name]
    for raw, typed in typed_batches(todo, fmt, files.reject_spool, files.progress):
        checked, refused = check_events(typed, raw, entity, fmt, dims, business_dates, files.run_date, with_raw_text)
        writer.writerows(zip(*(refused[c].to_pylist() for c in ("file_id", "line_no", "reason", "raw_text"))))
        for count in refused["file_id"].value_counts().to_pylist():
            results[count["values"]].rows_rejected += count["counts"]
        per_file = (
            checked.group_by("file_id")
            .aggregate([(date_column, "count"), (date_column, "min"), (date_column, "max")])
            .to_pylist()
        )
        for row in per_file:
            result = results[row["file_id"]]
            result.rows_loaded += row[f"{date_column}_count"]
            result.first_date = min(filter(None, (result.first_date, row[f"{date_column}_min"])))
            result.last_date = max(filter(None, (result.last_date, row[f"{date_column}_max"])))
        yield shape(checked)


MonthBlocks = list[tuple[int, list[bytes]]]  # a batch's rows: (month number, binary COPY pieces) per month


def fact_blocks(conn: psycopg.Connection, dims: Dimensions, files: EventFiles) -> Iterator[MonthBlocks]:
    """Each batch of ``files``' valid rows as binary COPY blocks, one per calendar month."""
    schema = arrow_schema(conn, TARGET_TABLE[files.entity.name], FACT_COLUMNS[files.entity.name])
    return _checked_batches(dims, files, lambda checked: _by_month(checked, files.entity, schema))


def write_facts(conn: psycopg.Connection, entity: str, batches: Iterable[MonthBlocks]) -> None:
    """COPY each batch's month blocks into ``entity``'s fact table; a new month's table is
    attached once the batches have moved past it, the last ones at the end."""
    writer = _FactWriter(conn, entity)
    for months in batches:
        writer.write(months)
    writer.finish()


def load_events(conn: psycopg.Connection, files: EventFiles) -> None:
    """Straight into the fact table; through staging if a key repeats (see the module's doc)."""
    dims = Dimensions.read(conn)
    entity, todo, reject_spool = files.entity, files.todo, files.reject_spool
    try:
        with conn.transaction():  # a savepoint: a repeated key undoes the direct load only
            write_facts(conn, entity.name, in_background(fact_blocks(conn, dims, files)))
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
    staged = _checked_batches(dims, files, lambda checked: csv_bytes(checked.select(columns)), with_raw_text=True)
    for data in in_background(staged):
        copy_into(conn, checked_table, columns, data)
    conn.execute(sql.SQL("analyze {}").format(checked_table))
    _refuse_repeated_keys(conn, entity)
    _ensure_partitions(conn, entity.name)
    fact_columns = sql.SQL(", ").join(map(sql.Identifier, FACT_COLUMNS[entity.name]))
    conn.execute(
        sql.SQL("insert into {fact} ({cols}) select {cols} from {checked} where reason is null").format(
            fact=sql.Identifier("warehouse", TARGET_TABLE[entity.name]), cols=fact_columns, checked=checked_table
        )
    )
    conn.execute(
        sql.SQL(
            "insert into etl.rejected_rows (file_id, line_number, reason, raw_text) "
            "select file_id, line_no, reason, raw_text from {} where reason is not null"
        ).format(checked_table)
    )
    refused = conn.execute(
        sql.SQL("select file_id, count(*) from {} where reason is not null group by file_id").format(checked_table)
    ).fetchall()
    results = {result.file_id: result for _, result in todo}
    for file_id, count in refused:
        result = results[file_id]
        result.rows_loaded -= count
        result.rows_rejected += count


def _ensure_partitions(conn: psycopg.Connection, entity: str) -> None:
    """Monthly partitions for every month the staged valid rows fall in."""
    table = TARGET_TABLE[entity]
    months = conn.execute(
        sql.SQL(
            "select distinct (extract(year from {col}) * 12 + extract(month from {col}) - 1)::int "
            "from {checked} where reason is null"
        ).format(col=sql.Identifier(FACT_DATE[entity]), checked=sql.Identifier("staging", f"{entity}_checked"))
    ).fetchall()
    for (month_number,) in months:
        lo, hi = _month_start(month_number), _month_start(month_number + 1)
        conn.execute(
            sql.SQL("create table if not exists {part} partition of {parent} for values from ({lo}) to ({hi})").format(
                part=sql.Identifier("warehouse", _partition(entity, month_number)),
                parent=sql.Identifier("warehouse", table),
                lo=sql.Literal(lo),
                hi=sql.Literal(hi),
            )
        )


KEY_MESSAGES = {
    "sales": (
        "duplicate ticket line (first on line {})",
        "ticket line also in an earlier file of this load",
        "ticket line already loaded from another file",
    ),
    "loyalty": (
        "duplicate event_id (first on line {})",
        "event also in an earlier file of this load",
        "event already loaded from another file",
    ),
}


def _refuse_repeated_keys(conn: psycopg.Connection, entity: Entity) -> None:
    """Give ``sql/staging/repeated_keys.sql``'s reason to every copy of a key after the first
    (by file, then line) and to every row whose key the warehouse already holds."""
    key = [FACT_DATE[entity.name], *entity.key]
    repeated_in_file, repeated_in_load, already_loaded = KEY_MESSAGES[entity.name]
    before, after = repeated_in_file.split("{}")
    statement = sql.SQL(sql_file("staging", "repeated_keys.sql")).format(
        checked=sql.Identifier("staging", f"{entity.name}_checked"),
        fact=sql.Identifier("warehouse", TARGET_TABLE[entity.name]),
        key=sql.SQL(", ").join(map(sql.Identifier, key)),
        key_match=sql.SQL(" and ").join(sql.SQL("f.{c} = c.{c}").format(c=sql.Identifier(c)) for c in key),
    )
    conn.execute(
        statement,
        {
            "in_file_before": before,
            "in_file_after": after,
            "in_load": repeated_in_load,
            "already_loaded": already_loaded,
        },
    )
