"""The views other SQL reads instead of repeating a block (sql/olap_queries.sql): each gives the
rows of the joins it stands for, written out here against the warehouse tables."""

from __future__ import annotations

from etl_helpers import db, views

# each view, and the query it must equal row for row (as a multiset: EXCEPT ALL both ways)
SAME_ROWS = {
    "v_sales_line_stores": """
        select f.*, s.store_code, s.region_id
        from warehouse.fact_ventes as f
        join warehouse.dim_magasin as s on s.store_id = f.store_id""",
    "v_sales_lines": """
        select f.sale_date, f.ticket_id, f.line_number, f.store_id, s.store_code, s.store_name, s.banner,
               s.city as store_city, r.region_id, r.region_code, r.region_name
        from warehouse.fact_ventes as f
        join warehouse.dim_magasin as s on s.store_id = f.store_id
        join warehouse.dim_region as r on r.region_id = s.region_id""",
    "v_loyalty_events": """
        select e.event_date, e.event_id, e.store_id, s.store_code, s.store_name, s.banner,
               r.region_id, r.region_code, r.region_name
        from warehouse.fact_fidelite as e
        join warehouse.dim_magasin as s on s.store_id = e.store_id
        join warehouse.dim_region as r on r.region_id = s.region_id
        join warehouse.dim_client as c on c.customer_id = e.customer_id""",
}
COLUMNS = {
    "v_sales_line_stores": "*",
    "v_sales_lines": "sale_date, ticket_id, line_number, store_id, store_code, store_name, banner, store_city, "
    "region_id, region_code, region_name",
    "v_loyalty_events": "event_date, event_id, store_id, store_code, store_name, banner, region_id, region_code, "
    "region_name",
}


def test_a_view_reads_only_the_views_above_it():
    names = [block.name for block in views.load_views()]
    assert names.index("v_stores") < names.index("v_sales_lines")
    assert names.index("v_stores") < names.index("v_loyalty_events")


def test_the_shared_views_give_the_rows_of_their_joins(demo_warehouse):
    with db.connection(demo_warehouse) as conn:
        for view, expected in SAME_ROWS.items():
            shown = f"select {COLUMNS[view]} from marts.{view}"
            rows = db.scalar(conn, f"select count(*) from ({shown}) as v")
            assert rows > 0 and rows == db.scalar(conn, f"select count(*) from ({expected}) as e"), view
            for first, second in ((shown, expected), (expected, shown)):
                assert db.scalar(conn, f"select count(*) from ({first} except all {second}) as d") == 0, view
