"""Data tests after each load, in the spirit of dbt (the facts' keys are their primary keys):
every fact joins to its dimensions and lies within its store's open dates, accepted values, and
ledger counts that reconcile. One SQL file per check in ``sql/tests/``: adding a data test is
adding a file there.

The facts are checked on the event dates loaded since the last passing run (the ledger's
``first_date``/``last_date`` of the files registered since then): a daily run checks its day,
not two years of history. A dimension snapshot loaded since, or no passing run yet, widens
the check to every date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import psycopg

from etl_helpers import db
from etl_helpers.settings import PROJECT_ROOT

TESTS_DIR = PROJECT_ROOT / "sql" / "tests"


def read_checks(tests_dir: Path = TESTS_DIR) -> dict[str, str]:
    """name -> query counting the offending rows (0 = pass): one file per check in ``sql/tests/``,
    named by its ``-- name:`` header line, in file name order."""
    checks: dict[str, str] = {}
    for path in sorted(tests_dir.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        first = text.splitlines()[0] if text else ""
        if not first.startswith("-- name: "):
            raise ValueError(f"{path}: the first line must be '-- name: <check name>'")
        checks[first.removeprefix("-- name: ").strip()] = text
    if not checks:
        raise FileNotFoundError(f"no data test found in {tests_dir}")
    return checks


class DataTestFailure(AssertionError):
    """Data tests failed: ``failures`` maps each failing check to its offending rows."""

    def __init__(self, failures: dict[str, int]):
        self.failures = failures
        super().__init__("data tests failed: " + "; ".join(f"{k} ({v} rows)" for k, v in failures.items()))


@dataclass(frozen=True)
class Scope:
    """The event dates whose facts are checked, and the ledger file the last passing run covered."""

    first: date
    last: date
    since: int


def changed_scope(conn: psycopg.Connection) -> Scope:
    since = db.scalar(conn, "select coalesce(max(up_to_file_id), 0) from etl.data_test_runs")
    row = conn.execute(
        """
        select %(since)s = 0, bool_or(entity not in ('sales', 'loyalty')), min(first_date), max(last_date)
        from etl.loaded_files where file_id > %(since)s
        """,
        {"since": since},
    ).fetchone()
    assert row is not None  # an aggregate without group by returns one row
    widest, dimensions, first, last = row
    if widest or dimensions:
        return Scope(date.min, date.max, 0)
    return Scope(first or date.max, last or date.min, since)  # nothing new: an empty range


def run_data_tests(conn: psycopg.Connection) -> pd.DataFrame:
    """One row per check with the number of offending rows; raises if any check fails.
    A passing run is recorded, so the next one checks only what was loaded after it."""
    up_to = db.scalar(conn, "select coalesce(max(file_id), 0) from etl.loaded_files")
    scope = changed_scope(conn)
    params = {"first": scope.first, "last": scope.last, "since": scope.since}
    rows = [(name, db.scalar(conn, query, params)) for name, query in read_checks().items()]
    results = pd.DataFrame(rows, columns=["check", "failing_rows"]).assign(passed=lambda f: f.failing_rows == 0)
    failures = {name: count for name, count in rows if count}
    if failures:
        raise DataTestFailure(failures)
    conn.execute("insert into etl.data_test_runs (up_to_file_id) values (%s)", (up_to,))
    return results.assign(dates=f"{scope.first} .. {scope.last}" if scope.since else "all")
