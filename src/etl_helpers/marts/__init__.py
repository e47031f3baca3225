"""The marts: set-based SQL in ``sql/marts/<name>.sql`` run "as of" a run date, pandas only
on the (small) results. ``fidelite`` builds fact_fidelite_mart, ``ventes`` fact_vente_mart."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import psycopg

from etl_helpers.settings import PROJECT_ROOT

MARTS_SQL_DIR = PROJECT_ROOT / "sql" / "marts"


def as_date(run_date: str | date) -> date:
    return run_date if isinstance(run_date, date) else date.fromisoformat(run_date)


def read_sql_file(conn: psycopg.Connection, name: str, **params) -> pd.DataFrame:
    """Run ``sql/marts/<name>.sql`` with bound ``%(param)s`` values; numeric columns come back as floats."""
    query = (MARTS_SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    return read_sql(conn, query, **params)


def read_sql(conn: psycopg.Connection, query: str, **params) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute(query, params)
        columns = [c.name for c in cur.description]
        frame = pd.DataFrame(cur.fetchall(), columns=columns)
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, Decimal)).any():
            frame[column] = frame[column].astype(float)
    return frame
