"""Running the marts' SQL: ``sql/marts/<name>.sql`` with bound values, results typed from
their PostgreSQL types, and the window bounds of the queries that read monthly aggregates."""

from __future__ import annotations

import logging
import time
from datetime import date, timedelta

import pandas as pd
import psycopg

from etl_helpers.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

MARTS_SQL_DIR = PROJECT_ROOT / "sql" / "marts"


def whole_months(first_day: date, last_day: date) -> tuple[date, date]:
    """``[start, end)``: the whole calendar months inside the days ``[first_day, last_day]``, which
    monthly aggregates count; the days outside it are the window's partial edge months. Without a
    whole month, ``start == end == last_day + 1`` (every day is an edge day)."""
    start = first_day if first_day.day == 1 else (first_day.replace(day=1) + timedelta(days=31)).replace(day=1)
    after = last_day + timedelta(days=1)
    end = after.replace(day=1)
    return (start, end) if start < end else (after, after)


def window(first_day: date, last_day: date) -> dict[str, date]:
    """The parameters of a mart that reads a window ``[first_day, last_day]`` from a monthly
    aggregate (its whole months) and from the lines (the days of its partial edge months)."""
    months_start, months_end = whole_months(first_day, last_day)
    return {"first_day": first_day, "last_day": last_day, "months_start": months_start, "months_end": months_end}


# PostgreSQL type OIDs of the columns the mart queries return.
_NUMERIC, _FLOAT8, _FLOAT4 = 1700, 701, 700
_INTEGERS = {20, 21, 23}
_BOOL = 16


def read_sql_file(conn: psycopg.Connection, name: str, **params) -> pd.DataFrame:
    """Run ``sql/marts/<name>.sql`` with bound ``%(param)s`` values."""
    query = (MARTS_SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    started = time.perf_counter()
    frame = read_sql(conn, query, **params)
    log.info("%s: %d rows in %.2fs", name, len(frame), time.perf_counter() - started)
    return frame


def read_sql(conn: psycopg.Connection, query: str, **params) -> pd.DataFrame:
    """A query's result as a DataFrame, columns typed from their PostgreSQL types (numeric ->
    float64, integers -> int64 or Int64 with nulls, boolean -> bool or boolean with nulls,
    date -> ``datetime.date``, text -> str), also when the result is empty."""
    with conn.cursor() as cur:
        cur.execute(query, params)
        description = cur.description or []
        rows = cur.fetchall()
    frame = pd.DataFrame.from_records(rows, columns=[c.name for c in description])
    for column in description:
        frame[column.name] = _typed(frame[column.name], column.type_code)
    return frame


def _typed(values: pd.Series, type_code: int) -> pd.Series:
    has_nulls = bool(values.isna().any())
    if type_code in (_NUMERIC, _FLOAT8, _FLOAT4):
        return pd.to_numeric(values.astype(object), errors="raise").astype("float64")
    if type_code in _INTEGERS:
        return values.astype("Int64" if has_nulls else "int64")
    if type_code == _BOOL:
        return values.astype("boolean" if has_nulls else "bool")
    return values
