"""The warehouse steps the pipeline notebooks call: schema, dimensions, facts, views.

Each step takes what it needs as arguments and is safe to rerun: the ledger makes a
second load of the same files a no-op.
"""

from __future__ import annotations

import logging
from datetime import date
from functools import partial

import pandas as pd
from psycopg import sql

from etl_helpers import aggregates, calendar, db, schema, views
from etl_helpers.contract import LOAD_ORDER, list_raw_files
from etl_helpers.data_tests import run_data_tests
from etl_helpers.loading import ledger
from etl_helpers.loading.facts import analyze_loaded
from etl_helpers.loading.load import load_raw_folder, summarize
from etl_helpers.settings import Settings, load_settings
from etl_helpers.sources import SourceOptions, prepare_raw, prepared_raw

log = logging.getLogger(__name__)

REFERENCE_ENTITIES = tuple(e for e in LOAD_ORDER if e not in ("sales", "loyalty"))
EVENT_ENTITIES = ("sales", "loyalty")


def create_schema(settings: Settings | None = None) -> pd.DataFrame:
    """Create the schemas and tables (idempotent); returns the tables that exist."""
    with db.connection(settings) as conn:
        schema.apply_schema(conn)
        return pd.DataFrame(schema.existing_tables(conn), columns=["schema", "table"])


def begin_run(settings: Settings | None, run_date: date, source: str) -> int:
    """Record a run in etl.runs (used when a notebook runs on its own, outside run_pipeline)."""
    with db.connection(settings) as conn:
        return ledger.start_run(conn, run_date, source)


def load_dimensions(
    run_date: date,
    source: str = "demo",
    options: SourceOptions = SourceOptions(),
    settings: Settings | None = None,
    run_id: int | None = None,
) -> pd.DataFrame:
    """Prepare the source's raw files and load the reference snapshots. Nothing here depends on
    the run date but which files it reads, so a later date with no new snapshot reuses this step
    (run/reuse.py); the calendar, which grows with the date, is :func:`load_facts`'s."""
    settings = settings or load_settings()
    raw_dir = prepare_raw(source, settings, run_date, options)
    return summarize(load_raw_folder(settings, raw_dir, run_date, run_id=run_id, entities=REFERENCE_ENTITIES))


def load_facts(
    run_date: date,
    source: str = "demo",
    options: SourceOptions = SourceOptions(),
    settings: Settings | None = None,
    run_id: int | None = None,
) -> pd.DataFrame:
    """Load the daily sales and loyalty files dated <= run_date that are new or changed, from
    the raw folder :func:`load_dimensions` prepared (prepared here only if it was not), and
    extend ``dim_temps`` to every year from the first file's to the run date's."""
    settings = settings or load_settings()
    raw_dir = prepared_raw(source, settings, run_date, options)
    results = load_raw_folder(settings, raw_dir, run_date, run_id=run_id, entities=EVENT_ENTITIES)
    first_file = min((f.business_date for f in list_raw_files(raw_dir, run_date)), default=run_date)
    with db.connection(settings) as conn:
        analyze_loaded(conn, results)
        # a late line may precede every file's date (up to format.json's max_event_age_days)
        first_fact = db.scalar(conn, "select min(first_date) from etl.loaded_files where is_current")
        added = calendar.build_dim_temps(conn, min(first_file, first_fact) if first_fact else first_file, run_date)
    log.info("dim_temps: %d days added", added)
    return summarize(results)


def check_warehouse(settings: Settings | None = None) -> pd.DataFrame:
    """Run the data tests; raises DataTestFailure naming the failing checks."""
    with db.connection(settings) as conn:
        return run_data_tests(conn)


def warehouse_counts(
    settings: Settings | None = None, tables: tuple[str, ...] = schema.DIMENSION_TABLES + schema.FACT_TABLES
) -> pd.DataFrame:
    """Row counts of the warehouse tables (every dimension and fact table by default)."""
    with db.connection(settings) as conn:
        rows = [(t, _count(conn, "warehouse", t)) for t in tables]
    return pd.DataFrame(rows, columns=["table", "rows"])


def _count(conn, schema_name: str, relation: str) -> int:
    query = sql.SQL("select count(*) from {}").format(sql.Identifier(schema_name, relation))
    return db.scalar(conn, query)


def create_views(settings: Settings | None = None) -> pd.DataFrame:
    """Create the named views of sql/olap_queries.sql and refresh the aggregates the marts read
    (once per run, incrementally: see etl_helpers.aggregates); returns each view with the
    planner's estimated row count (from table statistics: counting ``v_sales_lines`` would scan
    every fact), then each aggregate with its row count as its statistics estimate it, how it
    was refreshed and the dates it recomputed (none: all)."""
    with db.connection(settings) as conn:
        names = views.create_views(conn)
        conn.commit()  # the aggregates' sessions read the views
        refreshed = aggregates.refresh(conn, connect=partial(db.connection, settings))
        rows = [(n, "view", _estimated_rows(conn, "marts", n), None, None) for n in names]
    rows += [(r.aggregate, "aggregate", r.estimated_rows, r.refresh, r.dates) for r in refreshed.itertuples()]
    return pd.DataFrame(rows, columns=["relation", "kind", "estimated_rows", "refresh", "dates"])


def _estimated_rows(conn, schema_name: str, relation: str) -> int:
    """The planner's estimate of a relation's rows (EXPLAIN: nothing is read)."""
    query = sql.SQL("explain (format json) select * from {}").format(sql.Identifier(schema_name, relation))
    return int(db.scalar(conn, query)[0]["Plan"]["Plan Rows"])


def build_warehouse(
    settings: Settings, run_date: date, source: str = "demo", options: SourceOptions = SourceOptions()
) -> None:
    """Everything up to the views in one call (tests and benchmarks use it)."""
    create_schema(settings)
    load_dimensions(run_date, source, options, settings)
    load_facts(run_date, source, options, settings)
    check_warehouse(settings)
    create_views(settings)
