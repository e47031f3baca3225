"""Check typed ticket lines and loyalty events against the calendar and the dimensions, in
pyarrow, and shape the valid ones as fact rows.

The rules, in the order a row's first problem is reported after its typing problem:

- timestamps follow the contract's policy: with a UTC offset they are exact; without one
  they are Europe/Paris local times, refused when the spring gap skips them or the autumn
  fall-back repeats them; the event date is the Europe/Paris date of the instant;
- no event dated after its file's business date, nor after the run date, nor more than
  ``max_event_age_days`` (``format.json``, 366 by default) before its file's business date;
- known codes: the store version valid on the event date (``dim_magasin`` keeps history),
  the product, the customer (a ticket may be anonymous, a loyalty event may not);
- within its store's open dates: not before its ``opened_on``, not after its ``closed_on``
  (the last trading day), when the store version gives them.

Keys (a ticket line or an event once) are the database's business: see ``load``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from etl_helpers.contract import Entity, RawFormat
from etl_helpers.loading.values import Problems, raw_text

PARIS = "Europe/Paris"
NONEXISTENT = "nonexistent Europe/Paris local time (DST gap): give a UTC offset"
AMBIGUOUS = "ambiguous Europe/Paris local time (DST fall-back): give a UTC offset"
FACT_COLUMNS = {
    "sales": [
        "sale_date",
        "ticket_id",
        "line_number",
        "sold_at",
        "store_id",
        "customer_id",
        "product_id",
        "quantity",
        "unit_price",
        "discount",
        "amount",
        "is_return",
        "file_id",
    ],
    "loyalty": [
        "event_date",
        "event_id",
        "occurred_at",
        "customer_id",
        "store_id",
        "ticket_id",
        "points_earned",
        "points_redeemed",
        "file_id",
    ],
}
BEFORE_OPENING = "dated before its store opened (the store's opened_on)"
AFTER_CLOSING = "dated after its store closed (the store's closed_on, its last trading day)"
EVENT_TIME = {"sales": ("sold_at", "sale_date"), "loyalty": ("occurred_at", "event_date")}


class _Codes:
    """A dimension's natural codes -> surrogate ids."""

    def __init__(self, codes: list[str], ids: list[int]):
        self.codes = pa.array(codes, pa.string())
        self.ids = pa.array(ids, pa.int64())

    def ids_of(self, values: pa.Array) -> pa.Array:
        return pc.take(self.ids, pc.index_in(values, value_set=self.codes))


class _StoreVersions:
    """The store version valid on a date: valid_from <= date < valid_to (open-ended if null)."""

    def __init__(self, rows: list[tuple[str, date, date | None, int, date | None, date | None]]):
        rows = sorted(rows, key=lambda r: (r[0], r[1]))
        self.store_ids = pa.array([r[3] for r in rows], pa.int64())
        self.opened_on = pa.array([r[4] for r in rows], pa.date32())
        self.closed_on = pa.array([r[5] for r in rows], pa.date32())
        self.codes = pa.array(sorted({r[0] for r in rows}), pa.string())
        position = {code: i for i, code in enumerate(self.codes.to_pylist())}
        self.code_index = np.array([position[r[0]] for r in rows], dtype=np.int64)
        self.valid_from = np.array([r[1] for r in rows], dtype="datetime64[D]").astype(np.int64)
        self.valid_to = np.array([r[2] if r[2] else date.max for r in rows], dtype="datetime64[D]").astype(np.int64)
        self.ids = np.array([r[3] for r in rows], dtype=np.int64)
        self.keys = self.code_index * (1 << 32) + self.valid_from

    def ids_of(self, codes: pa.Array, days: pa.Array) -> pa.Array:
        index = pc.index_in(codes, value_set=self.codes)
        known = pc.is_valid(index).to_numpy(zero_copy_only=False)
        code = pc.fill_null(index, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        day = pc.fill_null(pc.cast(days, pa.int32()), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        version = np.searchsorted(self.keys, code * (1 << 32) + day, side="right") - 1
        found = known & (version >= 0)
        version = np.maximum(version, 0)
        if len(self.ids):
            found &= (self.code_index[version] == code) & (day < self.valid_to[version])
            ids = self.ids[version]
        else:
            ids = np.zeros(len(code), dtype=np.int64)
        return pa.array(ids, pa.int64(), mask=~found)

    def open_dates_of(self, store_ids: pa.Array) -> tuple[pa.Array, pa.Array]:
        """(opened_on, closed_on) of each store version (null where unknown or not given)."""
        index = pc.index_in(store_ids, value_set=self.store_ids)
        return pc.take(self.opened_on, index), pc.take(self.closed_on, index)


@dataclass
class Dimensions:
    """The dimensions' codes, read once per load."""

    stores: _StoreVersions
    products: _Codes
    customers: _Codes

    @classmethod
    def read(cls, conn: psycopg.Connection) -> Dimensions:
        stores = conn.execute(
            "select store_code, valid_from, valid_to, store_id, opened_on, closed_on from warehouse.dim_magasin"
        ).fetchall()
        products = conn.execute("select product_code, product_id from warehouse.dim_produit").fetchall()
        customers = conn.execute("select customer_code, customer_id from warehouse.dim_client").fetchall()
        return cls(_StoreVersions(stores), _Codes(*_columns(products, 2)), _Codes(*_columns(customers, 2)))


def _columns(rows: list[tuple], width: int) -> list[list]:
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in range(width)]


def place_in_time(exact: pa.Array, local: pa.Array, reasons: Problems) -> pa.Array:
    """The instant of each row: the exact ISO value with its offset, or its Europe/Paris
    local time when that time happens exactly once."""
    instant = pc.cast(exact, pa.timestamp("us", tz="UTC"))
    if pc.any(pc.is_valid(local)).as_py():
        local = pc.cast(local, pa.timestamp("us"))
        earliest = pc.assume_timezone(local, PARIS, ambiguous="earliest", nonexistent="earliest")
        latest = pc.assume_timezone(local, PARIS, ambiguous="latest", nonexistent="latest")
        exists = pc.equal(pc.local_timestamp(earliest), local)
        reasons.flag(pc.invert(exists), NONEXISTENT)
        reasons.flag(pc.not_equal(earliest, latest), AMBIGUOUS)
        placed = pc.if_else(pc.and_(exists, pc.equal(earliest, latest)), earliest, pa.scalar(None, earliest.type))
        instant = pc.coalesce(instant, pc.cast(placed, pa.timestamp("us", tz="UTC")))
    return instant


def paris_date(instant: pa.Array) -> pa.Array:
    return pc.cast(pc.local_timestamp(pc.cast(instant, pa.timestamp("us", tz=PARIS))), pa.date32())


def default_amount(quantity: pa.Array, unit_price: pa.Array, discount: pa.Array) -> pa.Array:
    """round(quantity * unit_price * (1 - discount), 2), ties away from zero, in decimals
    wide enough for any row's (a refused row's too)."""
    price = pc.cast(unit_price, pa.decimal256(18, 6))
    rate = pc.subtract(pa.scalar(1, pa.decimal256(18, 6)), pc.cast(discount, pa.decimal256(18, 6)))
    exact = pc.multiply(pc.multiply(pc.cast(quantity, pa.decimal256(19, 0)), price), rate)
    return pc.round(exact, 2, round_mode="half_towards_infinity")


def check_events(
    typed: pa.Table,
    raw: pa.Table,
    entity: Entity,
    fmt: RawFormat,
    dims: Dimensions,
    business_dates: dict[int, date],
    run_date: date,
    with_raw_text: bool = False,
) -> tuple[pa.Table, pa.Table]:
    """(the valid rows: their fact columns in ``FACT_COLUMNS`` order, then line_no, and
    raw_text if ``with_raw_text``; the refused rows: file_id, line_no, reason, raw_text).
    ``typed`` is ``raw``, the rows as read, typed by ``values.type_chunk``."""
    time_column, date_column = EVENT_TIME[entity.name]
    reasons = Problems(typed.num_rows, typed["problem"].combine_chunks())
    instant = place_in_time(
        typed[time_column].combine_chunks(), typed[f"{time_column}_local"].combine_chunks(), reasons
    )
    day = paris_date(instant)
    file_ids = typed["file_id"].combine_chunks()
    files = pa.array(list(business_dates), pa.int64())
    business = pc.take(pa.array(list(business_dates.values()), pa.date32()), pc.index_in(file_ids, value_set=files))
    reasons.flag(pc.greater(day, business), "dated after its file's business date")
    oldest = pc.subtract(pc.cast(business, pa.int32()), fmt.max_event_age_days)
    reasons.flag(
        pc.less(pc.cast(day, pa.int32()), oldest),
        f"dated more than {fmt.max_event_age_days} days before its file's business date "
        "(format.json max_event_age_days)",
    )
    reasons.flag(pc.greater(day, pa.scalar(run_date, pa.date32())), "dated after the run date")

    column = {name: typed[name].combine_chunks() for name in typed.column_names if name != "raw_text"}
    store_id = dims.stores.ids_of(column["store_code"], day)
    opened_on, closed_on = dims.stores.open_dates_of(store_id)
    customer_id = dims.customers.ids_of(column["customer_code"])
    unknown_customer = pc.and_(pc.is_valid(column["customer_code"]), pc.is_null(customer_id))
    values = {
        date_column: day,
        time_column: instant,
        "store_id": store_id,
        "customer_id": customer_id,
        "file_id": file_ids,
    }
    if entity.name == "sales":
        product_id = dims.products.ids_of(column["product_code"])
        reasons.flag(pc.is_null(store_id), "unknown store_code")
        reasons.flag(pc.is_null(product_id), "unknown product_code")
        reasons.flag(unknown_customer, "unknown customer_code")
        reasons.flag(pc.less(day, opened_on), BEFORE_OPENING)
        reasons.flag(pc.greater(day, closed_on), AFTER_CLOSING)
        quantity = column["quantity"]
        amount = column["amount"]
        if amount.null_count:
            computed = default_amount(quantity, column["unit_price"], column["discount"])
            amount = pc.coalesce(pc.cast(amount, computed.type), computed)
        values |= {"product_id": product_id, "is_return": pc.less(quantity, 0), "amount": amount}
    else:
        reasons.flag(unknown_customer, "unknown customer_code")
        reasons.flag(pc.is_null(store_id), "unknown store_code")
        reasons.flag(pc.less(day, opened_on), BEFORE_OPENING)
        reasons.flag(pc.greater(day, closed_on), AFTER_CLOSING)

    valid = pc.is_null(reasons.reason)
    refused = pc.invert(valid)
    text = raw_text(raw, entity, fmt, None if with_raw_text else refused)
    values |= {"line_no": column["line_no"], "raw_text": text}
    kept = [*FACT_COLUMNS[entity.name], "line_no"] + (["raw_text"] if with_raw_text else [])
    facts = pa.table({name: values.get(name, column.get(name)) for name in kept})
    rejects = pa.table({"file_id": file_ids, "line_no": column["line_no"], "reason": reasons.reason, "raw_text": text})
    if pc.all(valid).as_py():  # the usual batch: no row to take out
        return facts, rejects.slice(0, 0)
    return facts.filter(valid), rejects.filter(refused)
