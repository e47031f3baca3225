"""The warehouse on a Citus cluster: what is distributed, on which column, and why.

When the database has the ``citus`` extension (a Citus coordinator), the schema step calls
:func:`distribute_warehouse`, which is idempotent:

- the dimensions become **reference tables**: small, read by every join, a copy on every node
  (the coordinator included), so a fact joins its dimensions on the worker that holds it;
- ``fact_ventes`` is **distributed by ``ticket_id``**, and ``fact_fidelite`` by ``event_id``,
  co-located with it (same type and collation, same shard boundaries). A ticket's lines all
  live on one shard: the baskets of the association rules (grouped by ticket) and
  ``count(distinct ticket_id)`` are computed entirely on the workers. RFM groups by
  customer: each worker sums its share of every customer's purchases and the coordinator
  adds up those partial sums (a small merge: one row per customer per worker), so it needs
  no repartitioning either. Distributing by ``customer_id`` instead would put anonymous tickets
  (null customer) on one shard and would need the customer in the primary key; ``ticket_id``
  is in the key, never null, and spreads evenly. Loyalty events have no ticket for most
  redemptions (``ticket_id`` is null), hence their own key;
- the monthly partitions follow their fact table (a new month is distributed before it is
  attached, see :func:`distribute_new_partition`);
- the transient ``staging`` tables follow what the load writes from them: those of the
  dimensions are reference tables too (Citus updates a reference table only from reference
  tables), the checked fact rows of the rare staged path (repeated keys) are distributed
  like their fact table, so the check of their keys against it runs on the workers;
- the aggregates (``marts.agg_*``), the ledger and the run log (``etl``) stay **local to the
  coordinator**: they are small, written once per run and read by the marts on the
  coordinator; the refresh reads the facts as distributed queries (grouped on the workers)
  and writes the result locally.
"""

from __future__ import annotations

import logging
import re

import psycopg
from psycopg import sql

from etl_helpers import db

log = logging.getLogger(__name__)

REFERENCE_TABLES = ("dim_region", "dim_magasin", "dim_produit", "dim_client", "dim_temps")  # referenced first
DISTRIBUTED_TABLES = (("fact_ventes", "ticket_id"), ("fact_fidelite", "event_id"))  # co-located, in this order
# staging is created afresh by every schema step: its tables are distributed again each time
STAGING_DISTRIBUTED = {"sales_checked": "ticket_id", "loyalty_checked": "event_id"}


def is_citus(conn: psycopg.Connection) -> bool:
    """Whether the database is a Citus coordinator (the ``citus`` extension is installed)."""
    return db.scalar(conn, "select exists (select from pg_extension where extname = 'citus')")


def _citus_table_type(conn: psycopg.Connection, table: str, schema_name: str = "warehouse") -> str | None:
    """'reference', 'distributed', 'local' (a Citus local table: a table with a foreign key to a
    reference table becomes one) or None (plain PostgreSQL), from the metadata: ``citus_tables``
    would measure the shards over new connections, which wait for this transaction's locks."""
    row = conn.execute(
        "select partmethod, repmodel from pg_dist_partition where logicalrelid = %s::regclass",
        (f"{schema_name}.{table}",),
    ).fetchone()
    if row is None:
        return None
    return "distributed" if row[0] == "h" else "reference" if row[1] == "t" else "local"


def distribute_warehouse(conn: psycopg.Connection) -> list[str]:
    """On a Citus coordinator, make the dimensions reference tables and distribute the facts
    (see the module's doc); nothing on plain PostgreSQL. Returns what it changed."""
    if not is_citus(conn):
        return []
    changed = []
    for table in REFERENCE_TABLES:
        if _citus_table_type(conn, table) != "reference":
            conn.execute("select create_reference_table(%s::regclass)", (f"warehouse.{table}",))
            changed.append(f"warehouse.{table}: reference table")
    colocate_with = "default"
    for table, column in DISTRIBUTED_TABLES:
        if _citus_table_type(conn, table) is None:
            conn.execute(
                "select create_distributed_table(%s::regclass, %s, colocate_with => %s)",
                (f"warehouse.{table}", column, colocate_with),
            )
            changed.append(f"warehouse.{table}: distributed by {column}")
        colocate_with = f"warehouse.{DISTRIBUTED_TABLES[0][0]}"
    staging = [
        name
        for (name,) in conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'staging' and c.relkind = 'r' order by 1"
        ).fetchall()
    ]
    for table in staging:
        if _citus_table_type(conn, table, "staging") in ("reference", "distributed"):
            continue
        if table in STAGING_DISTRIBUTED:
            conn.execute(
                "select create_distributed_table(%s::regclass, %s, colocate_with => %s)",
                (f"staging.{table}", STAGING_DISTRIBUTED[table], colocate_with),
            )
        else:
            conn.execute("select create_reference_table(%s::regclass)", (f"staging.{table}",))
    if staging:
        log.info("citus: staging tables distributed (%d)", len(staging))
    if _analysts_read_through_views(conn):
        changed.append("etl_analyst: SELECT on the warehouse's shards (read by the marts' views), not on its tables")
    for change in changed:
        log.info("citus: %s", change)
    return changed


def _analysts_read_through_views(conn: psycopg.Connection) -> bool:
    """Citus runs the part of a view's query that reads distributed and reference tables as
    the querying user, on each node that holds them, not as the view's owner
    (citusdata/citus#1683, #6161): an analyst reading a mart view needs ``SELECT`` on the
    warehouse's shards. So the analyst role gets ``USAGE`` on ``warehouse`` and ``SELECT`` on
    its tables, propagated to every shard (new months by default privileges), then loses
    ``SELECT`` again on the coordinator's tables themselves (:func:`_coordinator_only_revoke`):
    a query on ``warehouse.*`` there is refused, the marts' views work. (The coordinator's own
    copy of a reference table, a hidden shard, stays readable by its name: the dimensions, not
    the facts.)"""
    if not db.scalar(conn, "select exists (select from pg_roles where rolname = 'etl_analyst')"):
        return False
    conn.execute("grant usage on schema warehouse to etl_analyst")  # propagated to the workers
    conn.execute("grant select on all tables in schema warehouse to etl_analyst")  # and to every shard
    conn.execute("alter default privileges in schema warehouse grant select on tables to etl_analyst")
    tables = [
        name
        for (name,) in conn.execute(
            "select logicalrelid::text from pg_dist_partition where logicalrelid::regclass::text like 'warehouse.%'"
        )
    ]
    _coordinator_only_revoke(conn, tables)
    return True


def _coordinator_only_revoke(conn: psycopg.Connection, tables: list[str]) -> None:
    """The analyst's ``SELECT`` on these distributed or reference tables revoked on the
    coordinator only (their shards keep it)."""
    if not tables or not db.scalar(conn, "select exists (select from pg_roles where rolname = 'etl_analyst')"):
        return
    conn.execute("select set_config('citus.enable_ddl_propagation', 'off', true)")
    conn.execute(
        sql.SQL("revoke select on {} from etl_analyst").format(
            sql.SQL(", ").join(sql.Identifier(*name.split(".", 1)) for name in tables)
        )
    )
    conn.execute("select set_config('citus.enable_ddl_propagation', 'on', true)")


def analyze_dimensions(conn: psycopg.Connection) -> None:
    """Statistics of the dimensions, in a transaction that goes on to join them with tables it
    creates (the aggregates' refresh). On Citus, the coordinator's own copy of each is analysed,
    in this process: the joins after it then run here too and see the tables this transaction
    created (an ``ANALYZE`` of the reference table would reach that copy over a connection, and
    every later statement on it with it). The workers' copies are left to autovacuum."""
    citus = is_citus(conn)
    for table in REFERENCE_TABLES:
        target: sql.Composable = sql.Identifier("warehouse", table)
        if citus:  # the name of its copy on the coordinator, from the metadata
            target = sql.SQL(
                db.scalar(
                    conn,
                    "select shard_name(logicalrelid, shardid) from pg_dist_shard where logicalrelid = %s::regclass",
                    (f"warehouse.{table}",),
                )
            )
        conn.execute(sql.SQL("analyze {}").format(target))


MERGE_SOURCE = sql.Identifier("pg_temp", "citus_merge_source")


def merge_source(conn: psycopg.Connection, target: sql.Composable, query: str, params: dict) -> sql.Composable:
    """The source of a ``MERGE`` into a table local to the coordinator (an aggregate): the query
    itself on PostgreSQL. Citus plans no ``MERGE`` whose source reads distributed tables with
    functions that are not immutable (``date_trunc`` of a date, ``any`` of a bound array): there
    the query's rows are computed first, on the workers, into a temporary table shaped like the
    target, and the ``MERGE`` reads that (local: plain PostgreSQL)."""
    if not is_citus(conn):
        return sql.SQL(query)
    conn.execute(sql.SQL("drop table if exists {}").format(MERGE_SOURCE))
    conn.execute(sql.SQL("create temporary table {} (like {})").format(MERGE_SOURCE, target))
    conn.execute(sql.SQL("insert into {} ").format(MERGE_SOURCE) + sql.SQL(query), params)
    return sql.SQL("select * from {}").format(MERGE_SOURCE)


def is_unique_violation(error: psycopg.Error) -> bool:
    """A unique violation: PostgreSQL's, or one that a Citus worker raised during a ``COPY``,
    which the coordinator returns as an internal error with the worker's message."""
    return error.sqlstate == "23505" or (
        error.sqlstate == "XX000" and str(error).startswith("duplicate key value violates unique constraint")
    )


def prepare_load_session(conn: psycopg.Connection) -> None:
    """A loader's session on Citus: statements reach the coordinator's own copy of the
    reference tables over a connection, as they reach the workers'. The coordinator holds a
    copy of each (the tables local to it, ledger and aggregates, join the dimensions there);
    a load that wrote that copy in its own process (local execution) could not run a
    statement on several nodes at once after it, such as the ``ANALYZE`` of a staged snapshot
    ("a local execution has accessed a placement in the transaction")."""
    if is_citus(conn):
        conn.execute("set citus.enable_local_execution to off")


def distribute_new_partition(conn: psycopg.Connection, partition: str, parent: str) -> bool:
    """A new month's table, before it is filled and attached to ``warehouse.<parent>``: on
    Citus it is distributed like its parent (same column, co-located). Returns whether it was:
    its rows then cannot be written with ``COPY … FREEZE`` (no Citus equivalent)."""
    column = (
        conn.execute(
            "select column_to_column_name(logicalrelid, partkey) from pg_dist_partition "
            "where logicalrelid = %s::regclass and partmethod = 'h'",
            (f"warehouse.{parent}",),
        ).fetchone()
        if is_citus(conn)
        else None
    )
    if column is None:
        return False
    conn.execute(
        sql.SQL("select create_distributed_table({}::regclass, {}, colocate_with => {})").format(
            sql.Literal(f"warehouse.{partition}"), sql.Literal(column[0]), sql.Literal(f"warehouse.{parent}")
        )
    )
    _coordinator_only_revoke(conn, [f"warehouse.{partition}"])  # its shards keep the analyst's SELECT
    log.info(
        "citus: warehouse.%s distributed by %s before it is attached; its rows are copied without "
        "FREEZE (no Citus equivalent)",
        partition,
        column[0],
    )
    return True


_SQL_FUNCTION = re.compile(r"\blanguage sql\s+stable\s+as \$\$\n(?P<body>.*?)\n\$\$;", re.DOTALL)


def shared_function(conn: psycopg.Connection, definition: str) -> str:
    """A marts' shared function (``sql/marts/shared``) as it is created: as written on
    PostgreSQL (``language sql``, inlined by the planner). Citus plans such a function's body
    itself, without inlining it, when its call joins a distributed or reference table, and
    refuses its parameters ("parameterized queries for SQL functions referencing distributed
    tables are not supported"), or returns nulls from it; a ``stable`` one that reads tables is
    therefore created there as PL/pgSQL returning the same query, whose parameters Citus
    binds (the columns win over the returned columns' names, as in SQL)."""
    return as_plpgsql(definition) if is_citus(conn) else definition


def as_plpgsql(definition: str) -> str:
    """A ``stable`` ``language sql`` function's definition as PL/pgSQL returning the same query
    (others unchanged)."""
    return _SQL_FUNCTION.sub(
        lambda m: (
            "language plpgsql\nstable\nas $$\n#variable_conflict use_column\nbegin\n    return query\n"
            f"{m['body']};\nend\n$$;"
        ),
        definition,
    )
