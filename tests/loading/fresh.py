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


NATURAL_IDS = ("ticket_id", "event_id")  # every other *_id or *_ids column holds surrogate keys


def _surrogate(column: str) -> bool:
    return column.endswith(("_id", "_ids")) and column not in NATURAL_IDS


def marts_state(settings: Settings) -> dict[str, list[tuple]]:
    """Every view and aggregate of the ``marts`` schema, surrogate key columns left out, rows sorted."""
    with db.connection(settings) as conn:
        relations = [name for (name,) in conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'marts' and c.relkind in ('r', 'v', 'm', 'p') and not c.relispartition order by 1")]
        state = {}
        for name in relations:
            columns = [column for (column,) in conn.execute(
                "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped "
                "order by attnum", (f"marts.{name}",)) if not _surrogate(column)]
            query = sql.SQL("select {} from {}").format(sql.SQL(", ").join(map(sql.Identifier, columns)),
                                                        sql.Identifier("marts", name))
            state[name] = sorted(conn.execute(query).fetchall(), key=repr)
        return state


def assert_same_marts(incremental: Settings, fresh: Settings) -> None:
    left, right = marts_state(incremental), marts_state(fresh)
    assert left.keys() == right.keys()
    for name in left:
        if left[name] != right[name]:
            only_left = [r for r in left[name] if r not in right[name]]
            only_right = [r for r in right[name] if r not in left[name]]
            raise AssertionError(f"marts.{name} differs from a fresh load:\n  incremental only: {only_left}\n"
                                 f"  fresh only: {only_right}")
