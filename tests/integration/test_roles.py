"""Least privilege: an analyst reads the marts views and aggregates and can neither write nor drop anything."""

import uuid

import psycopg
import pytest
from psycopg import conninfo, sql

from etl_helpers import aggregates, db, schema, views
from etl_helpers.settings import Settings


@pytest.fixture(scope="module")
def warehouse(server_url):
    """One database with the schema for this module (its tests only read or are refused)."""
    name = f"etl_roles_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    settings = Settings(database_url=conninfo.make_conninfo(server_url, dbname=name))
    with db.connection(settings) as conn:
        schema.apply_schema(conn)
    yield settings
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def analyst_url(warehouse):
    name = f"analyst_{uuid.uuid4().hex[:8]}"
    with db.connection(warehouse) as conn:
        views.create_views(conn)
        schema.apply_schema(conn)  # grants again now that the views exist (idempotent)
        aggregates.refresh(conn)   # created after the grants, as in a run: default privileges apply
        conn.execute(sql.SQL("create role {} login in role etl_analyst").format(sql.Identifier(name)))
    yield conninfo.make_conninfo(warehouse.database_url, user=name)
    with db.connection(warehouse) as conn:
        conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))


FORBIDDEN = [
    "select count(*) from warehouse.dim_client",
    "insert into warehouse.dim_region (region_code, region_name, population) values ('X', 'X', 1)",
    "delete from etl.loaded_files",
    "drop view marts.v_sales_lines",
    "create table public.sneaky (id int)",
    "create table marts.sneaky (id int)",
    "create or replace view marts.v_stores as select 1 as x",
    "truncate warehouse.fact_ventes",
    "delete from marts.agg_baskets",
    "select count(*) from etl.aggregate_refreshes",
]


def test_analyst_reads_views(analyst_url):
    with psycopg.connect(analyst_url) as conn:
        for view in ("v_sales_lines", "v_customer_orders", "v_loyalty_events", "v_stores"):
            conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("marts", view))).fetchone()


def test_analyst_reads_the_aggregates(analyst_url):
    with psycopg.connect(analyst_url) as conn:
        for aggregate in aggregates.AGGREGATES:
            conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("marts", aggregate.name))).fetchone()


@pytest.mark.parametrize("statement", FORBIDDEN)
def test_analyst_cannot_write_or_drop(analyst_url, statement):
    with psycopg.connect(analyst_url) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_loader_role_can_write_the_warehouse(warehouse):
    name = f"loader_{uuid.uuid4().hex[:8]}"
    with db.connection(warehouse) as conn:
        conn.execute(sql.SQL("create role {} login in role etl_loader").format(sql.Identifier(name)))
    try:
        with psycopg.connect(conninfo.make_conninfo(warehouse.database_url, user=name)) as conn:
            conn.execute("insert into warehouse.dim_region (region_code, region_name, population) values ('T', 'T', 1)")
            conn.execute("truncate staging.sales_checked")
            assert conn.execute("select count(*) from warehouse.dim_region where region_code = 'T'").fetchone() == (1,)
            conn.rollback()
    finally:
        with db.connection(warehouse) as conn:
            conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))
