"""The wholesale profile end to end on a real PostgreSQL: the loader takes every line of the
wide baskets (nothing quarantined), and the warehouse holds what the files say."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from etl_helpers import db
from etl_helpers import warehouse as steps
from etl_helpers.sources import SourceOptions, demo_folder_name

RUN_DATE = date(2026, 11, 30)


def test_wholesale_demo_loads_without_rejects_and_matches_its_files(warehouse):
    options = SourceOptions(scale="small", seed=42, profile="wholesale")
    steps.load_dimensions(RUN_DATE, "demo", options, warehouse)
    facts = steps.load_facts(RUN_DATE, "demo", options, warehouse)
    steps.check_warehouse(warehouse)

    raw = warehouse.raw_dir / "demo" / demo_folder_name(options)
    sales = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False)
                       for p in sorted((raw / "sales").glob("sales_*.csv"))], ignore_index=True)
    per_ticket = sales.groupby("ticket_id").size()
    with db.connection(warehouse) as conn:
        lines, tickets, widest, amount, rejected = conn.execute("""
            with per_ticket as (select ticket_id, count(*) as n from warehouse.fact_ventes group by 1)
            select (select count(*) from warehouse.fact_ventes), count(*), max(n),
                   (select sum(amount) from warehouse.fact_ventes),
                   (select count(*) from etl.rejected_rows)
            from per_ticket""").fetchone()
        products = conn.execute("select count(*) from warehouse.dim_produit").fetchone()[0]
    assert rejected == 0 and len(facts)
    assert (lines, tickets, widest) == (len(sales), len(per_ticket), per_ticket.max())
    assert amount == sum(Decimal(a) for a in sales.amount)
    assert products == 4_000
