"""The Superstore source end to end: the warehouse holds, to the cent, what pandas computes
directly from the seed CSV (sales per region, category and year; orders; customers)."""

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from etl_helpers import db
from etl_helpers import warehouse as steps
from etl_helpers.settings import SUPERSTORE_CSV
from etl_helpers.sources import SourceOptions


@pytest.fixture(scope="module")
def seed_frame(seed_data_dir) -> pd.DataFrame:
    frame = pd.read_csv(SUPERSTORE_CSV, encoding="utf-8", dtype={"Sales": str})
    dates = pd.to_datetime(frame["Order Date"].str.replace("/", "-"), format="%m-%d-%Y")
    return frame.assign(year=dates.dt.year, sales=frame["Sales"].map(Decimal))


def _cents(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def test_superstore_warehouse_matches_the_csv(warehouse, seed_frame):
    warehouse_settings = warehouse  # the fixture: a fresh database with the schema
    steps.load_dimensions(date(2026, 11, 30), "superstore", SourceOptions(), warehouse_settings)
    steps.load_facts(date(2026, 11, 30), "superstore", SourceOptions(), warehouse_settings)
    steps.check_warehouse(warehouse_settings)

    with db.connection(warehouse_settings) as conn:
        by_region = dict(conn.execute("""
            select r.region_name, sum(f.amount) from warehouse.fact_ventes f
            join warehouse.dim_magasin m using (store_id) join warehouse.dim_region r using (region_id)
            group by 1""").fetchall())
        by_category = dict(conn.execute("""
            select p.category, sum(f.amount) from warehouse.fact_ventes f
            join warehouse.dim_produit p using (product_id) group by 1""").fetchall())
        by_year = dict(conn.execute("""
            select extract(year from sale_date)::int, sum(amount) from warehouse.fact_ventes group by 1""").fetchall())
        orders, customers, lines, rejected = conn.execute("""
            select count(distinct ticket_id), count(distinct customer_id), count(*),
                   (select count(*) from etl.rejected_rows) from warehouse.fact_ventes""").fetchone()
        points = conn.execute("select sum(points_earned) from warehouse.fact_fidelite").fetchone()[0]

    expected_region = seed_frame.groupby("Region")["sales"].sum()
    assert {k: _cents(v) for k, v in by_region.items()} == {k: _cents(v) for k, v in expected_region.items()}
    expected_category = seed_frame.groupby("Category")["sales"].sum()
    assert {k: _cents(v) for k, v in by_category.items()} == {k: _cents(v) for k, v in expected_category.items()}
    expected_year = seed_frame.groupby("year")["sales"].sum()
    assert {k: _cents(v) for k, v in by_year.items()} == {int(k): _cents(v) for k, v in expected_year.items()}
    assert orders == seed_frame["Order ID"].nunique()
    assert customers == seed_frame["Customer ID"].nunique()
    assert (lines, rejected) == (len(seed_frame), 0)
    per_order = seed_frame.groupby("Order ID")["sales"].sum()
    assert points == sum(int(v * Decimal("0.10")) for v in per_order)
