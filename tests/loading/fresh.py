""""Same as fresh": the warehouse a history of loads left, against a fresh database loaded
from the final raw folder in one run.

Surrogate keys (``store_id``, ``product_id``...) and ledger file ids depend on the order rows
were written in, so the tables are compared through what they stand for: a store version by
its code and ``valid_from``, a product or customer by its code, a ledger file by its place in
the raw layout. Everything else is compared as it is: every dimension and fact row, the
current ledger entries (hash and counts) and their quarantined rows.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Iterator

import psycopg
from psycopg import conninfo, sql

from etl_helpers import db, schema
from etl_helpers.settings import Settings

STATE_QUERIES = {
    "dim_region": "select region_code, region_name, population from warehouse.dim_region",
    "dim_magasin": """
        select m.store_code, m.store_name, m.banner, m.city, m.postal_code, r.region_code, m.opened_on, m.closed_on,
               m.valid_from, m.valid_to, m.is_current
        from warehouse.dim_magasin m join warehouse.dim_region r using (region_id)""",
    "dim_produit": """
        select product_code, product_name, category, subcategory, brand, list_price from warehouse.dim_produit""",
    "dim_client": """
        select c.customer_code, c.birth_year, c.gender, c.city, r.region_code, c.has_loyalty_card, c.enrolled_on,
               c.tier, c.segment
        from warehouse.dim_client c left join warehouse.dim_region r using (region_id)""",
    "fact_ventes": """
        select f.sale_date, f.ticket_id, f.line_number, f.sold_at, m.store_code, m.valid_from, c.customer_code,
               p.product_code, f.quantity, f.unit_price, f.discount, f.amount, f.is_return, l.path
        from warehouse.fact_ventes f
        left join warehouse.dim_magasin m using (store_id)
        left join warehouse.dim_client c using (customer_id)
        left join warehouse.dim_produit p using (product_id)
        left join etl.loaded_files l using (file_id)""",
    "fact_fidelite": """
        select f.event_date, f.event_id, f.occurred_at, c.customer_code, m.store_code, m.valid_from, f.ticket_id,
               f.points_earned, f.points_redeemed, l.path
        from warehouse.fact_fidelite f
        left join warehouse.dim_magasin m using (store_id)
        left join warehouse.dim_client c using (customer_id)
        left join etl.loaded_files l using (file_id)""",
    "ledger": """
        select path, entity, business_date, sha256, rows_read, rows_loaded, rows_rejected, first_date, last_date
        from etl.loaded_files where is_current""",
    "rejected_rows": """
        select l.path, r.line_number, r.reason, r.raw_text
        from etl.rejected_rows r join etl.loaded_files l using (file_id) where l.is_current""",
}


def warehouse_state(settings: Settings) -> dict[str, list[tuple]]:
    """Every table of :data:`STATE_QUERIES`, its rows sorted."""
    with db.connection(settings) as conn:
        return {name: sorted(conn.execute(query).fetchall(), key=repr) for name, query in STATE_QUERIES.items()}


def assert_same_warehouse(incremental: Settings, fresh: Settings) -> None:
    """The two databases hold the same warehouse (see the module's doc); a difference names its
    table and the rows only one side has."""
    left, right = warehouse_state(incremental), warehouse_state(fresh)
    for table in STATE_QUERIES:
        if left[table] != right[table]:
            only_left = [r for r in left[table] if r not in right[table]]
            only_right = [r for r in right[table] if r not in left[table]]
            raise AssertionError(f"{table} differs from a fresh load:\n  incremental only: {only_left}\n"
                                 f"  fresh only: {only_right}")


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new database with the pipeline schema, dropped on exit."""
    name = f"etl_fresh_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = conninfo.make_conninfo(server_url, dbname=name)
    try:
        with db.connect(url=url) as conn:
            schema.apply_schema(conn)
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
