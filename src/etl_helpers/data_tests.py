"""Data tests after each load, in the spirit of dbt (the facts' keys are their primary keys):
every fact joins to its dimensions, accepted values, and ledger counts that reconcile.

The facts are checked on the event dates loaded since the last passing run (the ledger's
``first_date``/``last_date`` of the files registered since then): a daily run checks its day,
not two years of history. A dimension snapshot loaded since, or no passing run yet, widens
the check to every date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import psycopg

# name -> query counting the offending rows (0 = pass)
CHECKS: dict[str, str] = {
    "fact_ventes: store joins dim_magasin (valid on sale date)": """
        select count(*) from warehouse.fact_ventes f left join warehouse.dim_magasin m
        on m.store_id = f.store_id and f.sale_date >= m.valid_from
        and (m.valid_to is null or f.sale_date < m.valid_to)
        where m.store_id is null and f.sale_date between %(first)s and %(last)s""",
    "fact_ventes: product joins dim_produit": """
        select count(*) from warehouse.fact_ventes f left join warehouse.dim_produit p
        using (product_id) where p.product_id is null and f.sale_date between %(first)s and %(last)s""",
    "fact_ventes: customer joins dim_client (or anonymous)": """
        select count(*) from warehouse.fact_ventes f left join warehouse.dim_client c
        using (customer_id) where f.customer_id is not null and c.customer_id is null
        and f.sale_date between %(first)s and %(last)s""",
    "fact_ventes: sale date in dim_temps": """
        select count(*) from warehouse.fact_ventes f left join warehouse.dim_temps t
        on t.date_id = f.sale_date where t.date_id is null and f.sale_date between %(first)s and %(last)s""",
    "fact_ventes: return flag agrees with sign": """
        select count(*) from warehouse.fact_ventes
        where (is_return <> (quantity < 0) or sign(amount) * sign(quantity) < 0)
        and sale_date between %(first)s and %(last)s""",
    "fact_fidelite: customer and store join": """
        select count(*) from warehouse.fact_fidelite f
        left join warehouse.dim_client c using (customer_id)
        left join warehouse.dim_magasin m on m.store_id = f.store_id
        where (c.customer_id is null or m.store_id is null) and f.event_date between %(first)s and %(last)s""",
    "dim_magasin: one current version per store": """
        select count(*) from (select store_code from warehouse.dim_magasin
        group by store_code having count(*) filter (where is_current) <> 1) d""",
    "dim_magasin: versions do not overlap": """
        select count(*) from warehouse.dim_magasin a join warehouse.dim_magasin b
        on a.store_code = b.store_code and a.store_id < b.store_id
        and daterange(a.valid_from, a.valid_to) && daterange(b.valid_from, b.valid_to)""",
    "dim_client: gender accepted values": """
        select count(*) from warehouse.dim_client where gender not in ('F', 'M', 'X')""",
    "ledger: read = loaded + rejected": """
        select count(*) from etl.loaded_files where rows_read <> rows_loaded + rows_rejected""",
    "ledger: fact rows per current file match its count": """
        select count(*) from etl.loaded_files l
        left join (select file_id, count(*) n from warehouse.fact_ventes
                   where sale_date between %(first)s and %(last)s group by file_id
                   union all select file_id, count(*) from warehouse.fact_fidelite
                   where event_date between %(first)s and %(last)s group by file_id) f
        using (file_id)
        where l.is_current and l.entity in ('sales', 'loyalty') and coalesce(f.n, 0) <> l.rows_loaded
        and l.file_id > %(since)s""",
}


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
    since = conn.execute("select coalesce(max(up_to_file_id), 0) from etl.data_test_runs").fetchone()[0]
    widest, dimensions, first, last = conn.execute(
        """
        select %(since)s = 0, bool_or(entity not in ('sales', 'loyalty')), min(first_date), max(last_date)
        from etl.loaded_files where file_id > %(since)s
        """, {"since": since}).fetchone()
    if widest or dimensions:
        return Scope(date.min, date.max, 0)
    return Scope(first or date.max, last or date.min, since)  # nothing new: an empty range


def run_data_tests(conn: psycopg.Connection) -> pd.DataFrame:
    """One row per check with the number of offending rows; raises if any check fails.
    A passing run is recorded, so the next one checks only what was loaded after it."""
    up_to = conn.execute("select coalesce(max(file_id), 0) from etl.loaded_files").fetchone()[0]
    scope = changed_scope(conn)
    params = {"first": scope.first, "last": scope.last, "since": scope.since}
    rows = [(name, conn.execute(query, params).fetchone()[0]) for name, query in CHECKS.items()]
    results = pd.DataFrame(rows, columns=["check", "failing_rows"]).assign(passed=lambda f: f.failing_rows == 0)
    failures = {name: count for name, count in rows if count}
    if failures:
        raise DataTestFailure(failures)
    conn.execute("insert into etl.data_test_runs (up_to_file_id) values (%s)", (up_to,))
    return results.assign(dates=f"{scope.first} .. {scope.last}" if scope.since else "all")
