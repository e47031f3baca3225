"""Data tests after each load, in the spirit of dbt (the facts' keys are their primary keys): every fact
joins to its dimensions, accepted values, and ledger counts that reconcile."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import psycopg

# name -> query counting the offending rows (0 = pass)
CHECKS: dict[str, str] = {
    "fact_ventes: store joins dim_magasin (valid on sale date)": """
        select count(*) from warehouse.fact_ventes f left join warehouse.dim_magasin m
        on m.store_id = f.store_id and f.sale_date >= m.valid_from
        and (m.valid_to is null or f.sale_date < m.valid_to) where m.store_id is null""",
    "fact_ventes: product joins dim_produit": """
        select count(*) from warehouse.fact_ventes f left join warehouse.dim_produit p
        using (product_id) where p.product_id is null""",
    "fact_ventes: customer joins dim_client (or anonymous)": """
        select count(*) from warehouse.fact_ventes f left join warehouse.dim_client c
        using (customer_id) where f.customer_id is not null and c.customer_id is null""",
    "fact_ventes: sale date in dim_temps": """
        select count(*) from warehouse.fact_ventes f left join warehouse.dim_temps t
        on t.date_id = f.sale_date where t.date_id is null""",
    "fact_ventes: return flag agrees with sign": """
        select count(*) from warehouse.fact_ventes
        where is_return <> (quantity < 0) or sign(amount) * sign(quantity) < 0""",
    "fact_fidelite: customer and store join": """
        select count(*) from warehouse.fact_fidelite f
        left join warehouse.dim_client c using (customer_id)
        left join warehouse.dim_magasin m on m.store_id = f.store_id
        where c.customer_id is null or m.store_id is null""",
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
        left join (select file_id, count(*) n from warehouse.fact_ventes group by file_id
                   union all select file_id, count(*) from warehouse.fact_fidelite group by file_id) f
        using (file_id)
        where l.is_current and l.entity in ('sales', 'loyalty') and coalesce(f.n, 0) <> l.rows_loaded""",
}


@dataclass(frozen=True)
class DataTestFailure(AssertionError):
    failures: dict[str, int]

    def __str__(self) -> str:
        return "data tests failed: " + "; ".join(f"{k} ({v} rows)" for k, v in self.failures.items())


def run_data_tests(conn: psycopg.Connection) -> pd.DataFrame:
    """One row per check with the number of offending rows; raises if any check fails."""
    rows = [(name, conn.execute(query).fetchone()[0]) for name, query in CHECKS.items()]
    results = pd.DataFrame(rows, columns=["check", "failing_rows"]).assign(passed=lambda f: f.failing_rows == 0)
    failures = {name: count for name, count in rows if count}
    if failures:
        raise DataTestFailure(failures)
    return results
