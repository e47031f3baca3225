"""Pre-aggregated facts the heavy marts read (``marts.agg_*``), refreshed incrementally once per
run (step 30_views), so a mart no longer scans the whole history of ``fact_ventes``.

Each aggregate is one query, ``sql/aggregates/<name>.sql``, over the facts of the sale dates
bound to ``%(dates)s`` (null: every date). :func:`refresh` keeps each table equal to its query
over all the facts:

- on the first refresh, or when the query file changed (its sha256 differs from the one
  recorded in ``etl.aggregate_refreshes``), the table is dropped, created from the query and
  filled from every fact;
- otherwise only the dates touched since the last refresh are deleted and recomputed: the
  event dates ``[first_date, last_date]`` of each daily file registered in the ledger since
  then (``file_id`` above the recorded watermark), and of every earlier version of those files
  (a corrected file deleted their rows). A month-grain aggregate recomputes whole months,
  unless the new files only add days (no file registered before covers their dates) and its
  measures add up across days (``Aggregate.merges``): then the new days' rows are merged into
  their months (``MERGE``), and a daily run at the end of a month costs what it costs on its 1st.

Dimension changes mostly need no refresh: aggregates are keyed by what cannot change under
them. A store is its ``store_code`` (a new store version re-points facts to another
``store_id`` of the same code), a product its ``product_id`` and a customer its
``customer_id``; attributes a snapshot may overwrite (category, card, a store's name, banner
or region) are joined by the marts at query time. The few aggregates that group by such an
attribute, because keying them by product or store would not shrink the facts, bake it in
(``Aggregate.bakes``): a fingerprint of the attribute (every product's category, the spans of
each store's region) is part of their definition, so a snapshot that changes it rebuilds them.

The refresh takes the loader's advisory lock: a load and a refresh never interleave, so no
file registered below the watermark can commit after it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date

import pandas as pd
import psycopg
from psycopg import sql

from etl_helpers import citus, db
from etl_helpers.db import LOAD_LOCK_KEY, advisory_xact_lock
from etl_helpers.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

AGGREGATES_SQL_DIR = PROJECT_ROOT / "sql" / "aggregates"
DEPENDS_ON = re.compile(r"^--\s*depends on:\s*(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Aggregate:
    name: str  # table marts.<name>, defined by sql/aggregates/<name>.sql
    entity: str  # the ledger entity whose daily files feed it
    date_column: str  # the column rows are deleted and recomputed by
    monthly: bool = False  # the date column holds the first day of a whole calendar month
    bakes: tuple[str, ...] = ()  # dimension attributes it groups by (BAKED_ATTRIBUTES)
    # a month grain whose columns add up across days: each measure column with how a day's
    # value merges into its month's ("sum", "min" or "max"); the other columns are the key (never
    # null), which the table is indexed on, so that a merge finds a day's keys by index
    merges: tuple[tuple[str, str], ...] = ()

    def query(self) -> str:
        return (AGGREGATES_SQL_DIR / f"{self.name}.sql").read_text(encoding="utf-8")

    def depends_on(self) -> tuple[str, ...]:
        """The aggregates it reads, declared in its SQL file's ``-- depends on:`` header lines
        (built before it); an ``marts.agg_*`` the query reads without declaring it is an error."""
        query = self.query()
        declared = tuple(name for line in DEPENDS_ON.findall(query) for name in re.findall(r"agg_\w+", line))
        read = set(re.findall(r"\bmarts\.(agg_\w+)", query)) - {self.name}
        if read - set(declared):
            raise ValueError(
                f"sql/aggregates/{self.name}.sql reads {', '.join(sorted(read - set(declared)))} "
                "without a '-- depends on:' header naming it"
            )
        return declared

    def definition(self, fingerprints: dict[str, str]) -> str:
        """The query, how its measures merge (its index follows) and the fingerprints of the
        attributes it bakes in: a change to any of them rebuilds the table."""
        merges = f"\n-- merges: {', '.join(f'{m} {op}' for m, op in self.merges)}\n" if self.merges else ""
        return self.query() + merges + "".join(f"\n-- {name}: {fingerprints[name]}" for name in self.bakes)


# What a baked attribute is, as rows whose md5 is its fingerprint. A store's region is the spans
# of its versions where the region changes, so a version that changes only the banner keeps it.
BAKED_ATTRIBUTES = {
    "product_category": "select product_id, category from warehouse.dim_produit",
    "store_region": """
        select store_code, valid_from, region_id
        from (select store_code, valid_from, region_id,
                     lag(region_id) over (partition by store_code order by valid_from) as previous_region_id
              from warehouse.dim_magasin) as versions
        where previous_region_id is distinct from region_id""",
}


_DECLARED = (
    Aggregate(
        "agg_sales_store_month",
        "sales",
        "month",
        monthly=True,
        merges=(("last_sale_date", "max"), ("quantity", "sum"), ("revenue", "sum"), ("tickets", "sum")),
    ),
    Aggregate("agg_tickets_day", "sales", "sale_date"),
    Aggregate("agg_customer_store_day", "sales", "sale_date"),
    Aggregate(
        "agg_customer_store_month",
        "sales",
        "month",
        monthly=True,
        merges=(("first_purchase_date", "min"), ("last_purchase_date", "max"), ("amount", "sum"), ("purchases", "sum")),
    ),
    Aggregate("agg_baskets", "sales", "sale_date"),
    Aggregate("agg_sales_store_day", "sales", "sale_date"),
    Aggregate("agg_sales_hour_day", "sales", "sale_date"),
    Aggregate("agg_product_region_day", "sales", "sale_date", bakes=("store_region",)),
    Aggregate(
        "agg_product_region_month",
        "sales",
        "month",
        monthly=True,
        bakes=("store_region",),
        merges=(("quantity", "sum"), ("revenue", "sum"), ("tickets", "sum")),
    ),
    Aggregate("agg_category_day", "sales", "sale_date", bakes=("product_category",)),
    Aggregate(
        "agg_customer_category_month",
        "sales",
        "month",
        monthly=True,
        bakes=("product_category",),
        merges=(("amount", "sum"), ("purchase_days", "sum")),
    ),
    Aggregate("agg_category_sets_day", "sales", "sale_date", bakes=("product_category",)),
    Aggregate("agg_loyalty_store_day", "loyalty", "event_date"),
)


def build_order(declared: tuple[Aggregate, ...]) -> tuple[Aggregate, ...]:
    """The aggregates in an order where each comes after those its SQL file says it depends on
    (``-- depends on:``), otherwise in declaration order."""
    depends = {a.name: set(a.depends_on()) for a in declared}
    unknown = set().union(*depends.values()) - set(depends)
    if unknown:
        raise ValueError(f"unknown aggregate(s) in '-- depends on:' headers: {', '.join(sorted(unknown))}")
    order: list[Aggregate] = []
    while len(order) < len(declared):
        placed = {a.name for a in order}
        ready = [a for a in declared if a.name not in placed and depends[a.name] <= placed]
        if not ready:
            raise ValueError(f"a cycle in the '-- depends on:' headers of {', '.join(sorted(set(depends) - placed))}")
        order.append(ready[0])
    return tuple(order)


# The aggregates in their build order (sql/aggregates/*.sql headers say what each reads).
AGGREGATES = build_order(_DECLARED)


REFRESH_JOBS = 2  # aggregates refreshed side by side (a run's two cores)
REFRESH_WORK_MEM = "256MB"  # a rebuild hashes and sorts the whole history
Connect = Callable[[], AbstractContextManager[psycopg.Connection]]


class StaleAggregates(RuntimeError):
    """Facts were loaded after the last refresh: the aggregates would miss them."""


def refresh(conn: psycopg.Connection, connect: Connect | None = None, jobs: int = REFRESH_JOBS) -> pd.DataFrame:
    """Bring every aggregate up to date; returns, per aggregate, how it was refreshed ('rebuilt',
    'incremental', 'merged' or 'current'), the dates recomputed (null: all), its row count and
    the seconds it took.

    ``conn``'s transaction (a savepoint of the caller's) holds the load lock throughout, and must
    hold no lock the refreshing sessions wait for (views it replaced: commit them first). Without
    ``connect``, or on Citus, the aggregates are refreshed in it, one after the other. With
    ``connect`` (a new connection to the same database, as a context manager), they are refreshed
    ``jobs`` at a time, each on a connection and in a transaction of its own, committed before any
    aggregate that reads it starts: a rebuild's ``INSERT ... SELECT`` runs on one core, and most
    aggregates do not read each other. An aggregate whose refresh fails is left as it was, and
    stale (:func:`check_current`); those committed before the failure stay current."""
    with conn.transaction():
        advisory_xact_lock(conn, LOAD_LOCK_KEY)
        side_by_side = connect if jobs > 1 and not citus.is_citus(conn) else None
        if side_by_side is not None:
            with side_by_side() as other:  # committed: statistics the refreshing sessions plan with
                citus.analyze_dimensions(other)
        else:
            _set_work_mem(conn)
            citus.analyze_dimensions(conn)  # the marts join them: give the planner their statistics
        watermark = db.scalar(conn, "select coalesce(max(file_id), 0) from etl.loaded_files")
        fingerprints = _fingerprints(conn, AGGREGATES)
        _drop_retired(conn)
        if side_by_side is not None:
            rows = _refresh_side_by_side(side_by_side, jobs, watermark, fingerprints)
        else:
            rows = [_refresh_one(conn, aggregate, watermark, fingerprints) for aggregate in AGGREGATES]
    return pd.DataFrame(rows, columns=["aggregate", "refresh", "dates", "estimated_rows", "seconds"])


def _set_work_mem(conn: psycopg.Connection) -> None:
    conn.execute("select set_config('work_mem', %s, true)", (REFRESH_WORK_MEM,))


def _refresh_side_by_side(connect: Connect, jobs: int, watermark: int, fingerprints: dict[str, str]) -> list[tuple]:
    """Each aggregate on a connection of its own, ``jobs`` at a time, once those it reads are
    committed; on a failure, no other starts and the first error is raised once the running
    ones end. The rows in :data:`AGGREGATES`' order."""

    def refresh_alone(aggregate: Aggregate) -> tuple:
        with connect() as own, own.transaction():
            _set_work_mem(own)
            return _refresh_one(own, aggregate, watermark, fingerprints)

    needs = {a.name: set(a.depends_on()) for a in AGGREGATES}
    waiting = list(AGGREGATES)
    rows: dict[str, tuple] = {}
    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="refresh") as pool:
        running: dict[Future, Aggregate] = {}
        while waiting or running:
            for aggregate in [a for a in waiting if needs[a.name] <= rows.keys()][: jobs - len(running)]:
                waiting.remove(aggregate)
                running[pool.submit(refresh_alone, aggregate)] = aggregate
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                aggregate = running.pop(future)
                error = future.exception()
                if error is None:
                    rows[aggregate.name] = future.result()
                else:
                    errors.append(error)
                    waiting.clear()  # none starts after a failure; the running ones end
    if errors:
        raise errors[0]
    return [rows[a.name] for a in AGGREGATES]


def _drop_retired(conn: psycopg.Connection) -> None:
    """Drop the tables of aggregates refreshed before but no longer declared (a database built
    by an older version keeps no table nobody refreshes)."""
    declared = [a.name for a in AGGREGATES]
    retired = [
        name
        for (name,) in conn.execute(
            "select aggregate from etl.aggregate_refreshes where aggregate <> all(%s)", (declared,)
        ).fetchall()
    ]
    for name in retired:
        conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier("marts", name)))
        conn.execute("delete from etl.aggregate_refreshes where aggregate = %s", (name,))
        log.info("%s: dropped (no longer an aggregate)", name)


def check_current(conn: psycopg.Connection, names: tuple[str, ...] | None = None) -> None:
    """Raise :class:`StaleAggregates` unless the aggregates (all, or ``names``) were refreshed
    with every file of the ledger and from their current query."""
    wanted = [a for a in AGGREGATES if names is None or a.name in names]
    recorded = dict(
        (
            (name, (digest, last))
            for name, digest, last in conn.execute(
                "select aggregate, definition_sha256, last_file_id from etl.aggregate_refreshes"
            ).fetchall()
        )
    )
    watermark = db.scalar(conn, "select coalesce(max(file_id), 0) from etl.loaded_files")
    fingerprints = _fingerprints(conn, wanted)
    stale = [a.name for a in wanted if recorded.get(a.name) != (_digest(a.definition(fingerprints)), watermark)]
    if stale:
        raise StaleAggregates(
            f"aggregates not refreshed since the last load: {', '.join(stale)}; "
            "run step 30_views (etl_helpers.warehouse.create_views)"
        )


def _digest(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


def _fingerprints(conn: psycopg.Connection, wanted) -> dict[str, str]:
    """The md5 of every attribute the ``wanted`` aggregates bake in, as the dimensions hold it now."""
    names = sorted({name for aggregate in wanted for name in aggregate.bakes})
    return {
        name: db.scalar(
            conn,
            sql.SQL("select md5(coalesce(string_agg(t::text, ',' order by t::text), '')) from ({}) as t").format(
                sql.SQL(BAKED_ATTRIBUTES[name])
            ),
        )
        for name in names
    }


def _refresh_one(conn: psycopg.Connection, aggregate: Aggregate, watermark: int, fingerprints: dict[str, str]) -> tuple:
    started = time.perf_counter()
    query = aggregate.query()
    digest = _digest(aggregate.definition(fingerprints))
    table = sql.Identifier("marts", aggregate.name)
    state = conn.execute(
        "select definition_sha256, last_file_id from etl.aggregate_refreshes where aggregate = %s", (aggregate.name,)
    ).fetchone()
    exists = db.scalar(conn, "select to_regclass(%s) is not null", (f"marts.{aggregate.name}",))
    dates: list[date] | None
    if state is None or state[0] != digest or not exists:
        mode, dates = "rebuilt", None
        _create(conn, aggregate, query)
    elif state[1] == watermark:
        mode, dates = "current", []
    elif aggregate.merges and _only_new_days(conn, aggregate, since=state[1]):
        dates = _touched_dates(conn, aggregate, since=state[1], whole_months=False)
        mode = "merged" if dates else "incremental"
    else:
        mode, dates = "incremental", _touched_dates(conn, aggregate, since=state[1])
        if dates:
            keys = sorted({d.replace(day=1) for d in dates}) if aggregate.monthly else dates
            conn.execute(
                sql.SQL("delete from {} where {} = any(%s)").format(table, sql.Identifier(aggregate.date_column)),
                (keys,),
            )
    if mode == "merged" and dates:
        _merge_days(conn, aggregate, query, dates)
    elif dates is None or dates:
        conn.execute(sql.SQL("insert into {} ").format(table) + sql.SQL(query), {"dates": dates})
        if dates is None:  # a rebuild: indexed once filled, faster than row by row
            indexed = _key(aggregate, _columns(conn, aggregate)) if aggregate.merges else [aggregate.date_column]
            conn.execute(
                sql.SQL("create index on {} ({})").format(table, sql.SQL(", ").join(map(sql.Identifier, indexed)))
            )
    if dates is None or dates:
        conn.execute(sql.SQL("analyze {}").format(table))
    conn.execute(
        """
        insert into etl.aggregate_refreshes (aggregate, definition_sha256, last_file_id, refreshed_at)
        values (%s, %s, %s, now())
        on conflict (aggregate) do update
            set definition_sha256 = excluded.definition_sha256,
                last_file_id = excluded.last_file_id,
                refreshed_at = excluded.refreshed_at
        """,
        (aggregate.name, digest, watermark),
    )
    # the count the analyze after each change estimated: counting a million rows every run
    # would cost more than refreshing the day
    rows = db.scalar(
        conn, "select reltuples::bigint from pg_class where oid = %s::regclass", (f"marts.{aggregate.name}",)
    )
    seconds = round(time.perf_counter() - started, 3)
    log.info(
        "%s: %s (%s dates), about %d rows in %.2fs",
        aggregate.name,
        mode,
        "all" if dates is None else len(dates),
        rows,
        seconds,
    )
    return aggregate.name, mode, None if dates is None else len(dates), rows, seconds


def _only_new_days(conn: psycopg.Connection, aggregate: Aggregate, since: int) -> bool:
    """Whether the files registered after ``since`` only add days: none of their dates is
    covered by a file registered before (an earlier version, or another file of the day)."""
    return db.scalar(
        conn,
        """
        select not exists (
            select 1
            from etl.loaded_files as new
            join etl.loaded_files as earlier
              on earlier.entity = new.entity
             and earlier.file_id <= %(since)s
             and earlier.first_date <= new.last_date
             and earlier.last_date >= new.first_date
            where new.entity = %(entity)s and new.file_id > %(since)s)
        """,
        {"entity": aggregate.entity, "since": since},
    )


def _columns(conn: psycopg.Connection, aggregate: Aggregate) -> list[str]:
    """The table's columns, in order."""
    return [
        name
        for (name,) in conn.execute(
            "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped "
            "order by attnum",
            (f"marts.{aggregate.name}",),
        ).fetchall()
    ]


def _key(aggregate: Aggregate, columns: list[str]) -> list[str]:
    """A merged aggregate's key: its date column first, then its other columns that are not measures."""
    measures = dict(aggregate.merges)
    return [aggregate.date_column] + [c for c in columns if c not in measures and c != aggregate.date_column]


def _merge_days(conn: psycopg.Connection, aggregate: Aggregate, query: str, dates: list[date]) -> None:
    """Add the days' rows into their months: a key already there gets the days' measures added
    (or their minimum or maximum), a new key its row. Exact because every measure adds up across days."""
    table = sql.Identifier("marts", aggregate.name)
    measures = dict(aggregate.merges)
    columns = _columns(conn, aggregate)
    keys = _key(aggregate, columns)
    merged = {
        "sum": sql.SQL("{0}.{1} + {2}.{1}"),
        "min": sql.SQL("least({0}.{1}, {2}.{1})"),  # least and greatest skip a null
        "max": sql.SQL("greatest({0}.{1}, {2}.{1})"),
    }
    target, days = sql.Identifier("target"), sql.Identifier("days")
    statement = sql.SQL(
        "merge into {table} as target using ({query}) as days on {match} "
        "when matched then update set {updates} "
        "when not matched then insert ({columns}) values ({values})"
    ).format(
        table=table,
        query=citus.merge_source(conn, table, query, {"dates": dates}),
        match=sql.SQL(" and ").join(
            sql.SQL("{}.{} = {}.{}").format(target, sql.Identifier(k), days, sql.Identifier(k)) for k in keys
        ),
        updates=sql.SQL(", ").join(
            sql.SQL("{} = ").format(sql.Identifier(m)) + merged[op].format(target, sql.Identifier(m), days)
            for m, op in measures.items()
        ),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        values=sql.SQL(", ").join(sql.SQL("{}.{}").format(days, sql.Identifier(c)) for c in columns),
    )
    conn.execute(statement, {"dates": dates})


def _create(conn: psycopg.Connection, aggregate: Aggregate, query: str) -> None:
    """Drop and create the table with the query's columns (a utility statement takes no bound
    parameters, so the null ``dates`` is merged client-side); it is indexed once filled."""
    table = sql.Identifier("marts", aggregate.name)
    conn.execute(sql.SQL("drop table if exists {}").format(table))
    with psycopg.ClientCursor(conn) as cur:
        cur.execute(
            sql.SQL("create table {} as ").format(table) + sql.SQL(query) + sql.SQL(" with no data"),
            {"dates": None},
        )


def _touched_dates(conn: psycopg.Connection, aggregate: Aggregate, since: int, whole_months: bool = True) -> list[date]:
    """The event dates of the aggregate's files registered after ``since`` and of their
    earlier versions, every day of their months for a month-grain aggregate (unless
    ``whole_months`` is false)."""
    rows = conn.execute(
        """
        with new_files as (
            select path
            from etl.loaded_files
            where entity = %(entity)s and file_id > %(since)s
        ),
        spans as (
            select first_date, last_date
            from etl.loaded_files
            where path in (select path from new_files)
              and first_date is not null
        ),
        bounds as (
            select
                case when %(monthly)s then date_trunc('month', first_date) else first_date end as first_day,
                case when %(monthly)s then date_trunc('month', last_date) + interval '1 month - 1 day'
                     else last_date end as last_day
            from spans
        )
        select distinct day::date
        from bounds, generate_series(first_day, last_day, interval '1 day') as day
        order by 1
        """,
        {"entity": aggregate.entity, "since": since, "monthly": aggregate.monthly and whole_months},
    ).fetchall()
    return [day for (day,) in rows]
