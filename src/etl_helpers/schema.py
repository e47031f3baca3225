"""Create (idempotently) the schemas and tables from ``sql/schema/*.sql``."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from psycopg import sql

from etl_helpers import citus
from etl_helpers.contract import ENTITIES
from etl_helpers.loading.values import staging_columns
from etl_helpers.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

SCHEMA_DIR = PROJECT_ROOT / "sql" / "schema"
PIPELINE_SCHEMAS = ("staging", "warehouse", "marts", "etl")
DIMENSION_TABLES = ("dim_region", "dim_magasin", "dim_produit", "dim_client", "dim_temps")  # in warehouse
FACT_TABLES = ("fact_ventes", "fact_fidelite")


def schema_files(schema_dir: Path = SCHEMA_DIR) -> list[Path]:
    files = sorted(schema_dir.glob("*.sql"))
    if not files:
        raise FileNotFoundError(f"no DDL found in {schema_dir}")
    return files


def apply_schema(conn: psycopg.Connection, schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Run every DDL file in order inside the caller's transaction; returns the files applied.

    Staging holds nothing between loads, so it is dropped and created afresh: its tables
    always match the current contract.
    """
    conn.execute("drop schema if exists staging cascade")
    applied = []
    for path in schema_files(schema_dir):
        conn.execute(path.read_text(encoding="utf-8"))
        applied.append(path.name)
        log.info("applied %s", path.name)
    create_raw_staging_tables(conn)
    citus.distribute_warehouse(conn)  # on a Citus coordinator only: reference and distributed tables
    return applied


def create_raw_staging_tables(conn: psycopg.Connection) -> None:
    """``staging.<entity>`` of each reference entity: file id, line number, problem, raw text,
    then the typed contract columns."""
    for entity in (e for e in ENTITIES.values() if e.kind == "reference"):
        columns = [sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(pg_type))
                   for name, pg_type in staging_columns(entity)]
        conn.execute(sql.SQL("create unlogged table {} ({})").format(
            sql.Identifier("staging", entity.name), sql.SQL(", ").join(columns)))


def existing_tables(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(schema, table) for every table the pipeline owns, partitions left out."""
    rows = conn.execute(
        """
        select n.nspname, c.relname
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any(%s) and c.relkind in ('r', 'p') and not c.relispartition
        order by 1, 2
        """,
        (list(PIPELINE_SCHEMAS),),
    ).fetchall()
    return [(schema, table) for schema, table in rows]


def drop_pipeline_schemas(conn: psycopg.Connection) -> None:
    """Drop everything the pipeline created (``--reset-database``)."""
    for schema in PIPELINE_SCHEMAS:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
