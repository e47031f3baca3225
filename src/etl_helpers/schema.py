"""Create (idempotently) the schemas and tables from ``sql/schema/*.sql``, and keep a
warehouse to the one source that built it.

What the database user may not do is said, never swallowed: a right the pipeline can do
without (creating the shared roles, revoking from PUBLIC) is a WARNING logged by the schema
step; one it cannot (creating its schemas) is a :class:`SchemaPermissionError` in one line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from etl_helpers import citus, db
from etl_helpers.contract import ENTITIES
from etl_helpers.loading.values import staging_columns
from etl_helpers.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

SCHEMA_DIR = PROJECT_ROOT / "sql" / "schema"
SOURCE_DDL = SCHEMA_DIR / "11_warehouse_source.sql"
PIPELINE_SCHEMAS = ("staging", "warehouse", "marts", "etl")
SNAPSHOT_TABLES = ("dim_region", "dim_magasin", "dim_produit", "dim_client")  # in warehouse, loaded by 10_dimensions
DIMENSION_TABLES = (*SNAPSHOT_TABLES, "dim_temps")  # the calendar is extended by 20_facts
FACT_TABLES = ("fact_ventes", "fact_fidelite")


def schema_files(schema_dir: Path = SCHEMA_DIR) -> list[Path]:
    files = sorted(schema_dir.glob("*.sql"))
    if not files:
        raise FileNotFoundError(f"no DDL found in {schema_dir}")
    return files


class SchemaPermissionError(PermissionError):
    """The database user lacks a right the schema step needs; the message says which and how
    an administrator grants it."""


class SourceMismatch(ValueError):
    """The warehouse was built from another source; the message names the ways out."""


# What a run records before its first step (etl.runs, the ledger it reads back, the source it
# claims) and the DDL files that create them: the runner creates these on a new database; the
# whole schema (and any change to it) is the 00_schema step's, applied once per run.
RUN_TABLES = ("etl.runs", "etl.loaded_files", "etl.warehouse_source", "etl.step_inputs")
RUN_TABLES_DDL = ("00_schemas.sql", "10_etl.sql", "11_warehouse_source.sql", "12_step_inputs.sql")


def ensure_run_tables(conn: psycopg.Connection) -> list[str]:
    """Create the tables of :data:`RUN_TABLES` that are missing (a new database), from their
    DDL files; returns the tables that were missing (none: nothing is applied)."""
    missing = [t for t in RUN_TABLES if db.scalar(conn, "select to_regclass(%s)", (t,)) is None]
    if missing:
        with _warnings_logged(conn), _permission_explained(conn):
            for name in RUN_TABLES_DDL:
                conn.execute((SCHEMA_DIR / name).read_text(encoding="utf-8"))
        log.info("created the run tables %s (the 00_schema step creates the rest)", ", ".join(missing))
    return missing


def apply_schema(conn: psycopg.Connection, schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Run every DDL file in order inside the caller's transaction; returns the files applied.

    Staging holds nothing between loads, so it is dropped and created afresh: its tables
    always match the current contract. The server's warnings (a role this user may not
    create, …) are logged at WARNING.
    """
    applied = []
    with _warnings_logged(conn), _permission_explained(conn):
        conn.execute("drop schema if exists staging cascade")
        for path in schema_files(schema_dir):
            conn.execute(path.read_text(encoding="utf-8"))
            applied.append(path.name)
            log.info("applied %s", path.name)
        create_raw_staging_tables(conn)
        citus.distribute_warehouse(conn)  # on a Citus coordinator only: reference and distributed tables
    return applied


@contextmanager
def _warnings_logged(conn: psycopg.Connection) -> Iterator[None]:
    """Log the server's WARNING messages (a notice handler; plain notices stay at DEBUG)."""

    def handle(diagnostic: psycopg.errors.Diagnostic) -> None:
        level = logging.WARNING if diagnostic.severity_nonlocalized == "WARNING" else logging.DEBUG
        log.log(level, "%s", diagnostic.message_primary)

    conn.add_notice_handler(handle)
    try:
        yield
    finally:
        conn.remove_notice_handler(handle)


@contextmanager
def _permission_explained(conn: psycopg.Connection) -> Iterator[None]:
    try:
        yield
    except psycopg.errors.InsufficientPrivilege as error:
        database, user = conn.info.dbname, conn.info.user
        if "database" in (error.diag.message_primary or ""):
            raise SchemaPermissionError(
                f"user {user} may not create the pipeline's schemas in database {database} (it lacks CREATE on "
                f"the database): ask an administrator to run 'grant create on database {database} to {user}', "
                f"or to create the schemas {', '.join(PIPELINE_SCHEMAS)} owned by {user}"
            ) from None
        raise SchemaPermissionError(
            f"user {user} lacks a privilege the schema step needs in database {database}: {error.diag.message_primary}"
        ) from None


def warehouse_source(conn: psycopg.Connection) -> str | None:
    """The source this warehouse was built from: the one it recorded, else (a warehouse older
    than the record) the source of its first run; None for a database never loaded."""
    if db.scalar(conn, "select to_regclass('etl.warehouse_source')"):
        row = conn.execute("select source from etl.warehouse_source").fetchone()
        if row:
            return row[0]
    if db.scalar(conn, "select to_regclass('etl.runs')"):
        row = conn.execute("select source from etl.runs order by run_id limit 1").fetchone()
        if row:
            return row[0]
    return None


def claim_source(conn: psycopg.Connection, source: str) -> None:
    """Record ``source`` as the warehouse's (the first time), or raise :class:`SourceMismatch`
    if it was built from another: two sources never mix in the same marts."""
    recorded = warehouse_source(conn)
    if recorded is None or not db.scalar(conn, "select to_regclass('etl.warehouse_source')"):
        with _permission_explained(conn):
            for path in (SCHEMA_DIR / "00_schemas.sql", SOURCE_DDL):  # a database the schema step has not seen
                conn.execute(path.read_text(encoding="utf-8"))
        conn.execute(
            "insert into etl.warehouse_source (source) values (%s) on conflict do nothing", (recorded or source,)
        )
        recorded = warehouse_source(conn)
    if recorded != source:
        raise SourceMismatch(
            f"this warehouse was built from the source {recorded!r}; a run with the source {source!r} would "
            f"mix both in the same marts. Give that source its own database and work folder (ETL_PGDATA for "
            f"the embedded server, or DATABASE_URL, and ETL_WORKDIR), or empty this one first with "
            f"--reset-database"
        )


def create_raw_staging_tables(conn: psycopg.Connection) -> None:
    """``staging.<entity>`` of each reference entity: file id, line number, problem, raw text,
    then the typed contract columns."""
    for entity in (e for e in ENTITIES.values() if e.kind == "reference"):
        columns = [
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(pg_type)) for name, pg_type in staging_columns(entity)
        ]
        conn.execute(
            sql.SQL("create unlogged table {} ({})").format(
                sql.Identifier("staging", entity.name), sql.SQL(", ").join(columns)
            )
        )


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
