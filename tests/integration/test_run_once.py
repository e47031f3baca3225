"""Each thing once per run: the schema is applied by the 00_schema step alone (the runner only
creates the tables its records need on a new database), and the raw folder is prepared by
10_dimensions alone (20_facts reads the folder it prepared)."""

from __future__ import annotations

import logging
import shutil
from datetime import date, timedelta

from notebook_files import write_notebook

from etl_helpers import db, runner, schema
from etl_helpers.contract import raw_path
from etl_helpers.runner import RunRequest, Step
from etl_helpers.sources import SourceOptions, raw_folder
from etl_helpers.warehouse import load_dimensions, load_facts

RUN_DATE = date(2026, 11, 30)
ONCE_PARAMS = 'run_date: str = "2026-11-30"  # ISO date'


def test_the_runner_creates_only_the_tables_of_its_records(settings, tmp_path):
    """On a new database a run of a step other than 00_schema finds its run tables, and nothing
    else of the schema: the whole schema is the 00_schema step's."""
    steps = tmp_path / "notebooks"
    steps.mkdir()
    write_notebook(steps / "05_other.ipynb", ONCE_PARAMS, "print('ran')")
    manifest = runner.run_one_date(RUN_DATE, RunRequest(run_dates=[RUN_DATE], steps=[Step("05_other", "pipeline")]),
                                   settings, notebooks_dir=steps)
    assert manifest["status"] == "succeeded"
    with db.connection(settings) as conn:
        tables = {f"{s}.{t}" for s, t in schema.existing_tables(conn)}
        assert conn.execute("select status from etl.runs").fetchall() == [("succeeded",)]
        assert schema.ensure_run_tables(conn) == []          # there now: nothing applied again
    assert set(schema.RUN_TABLES) <= tables
    assert not {t for t in tables if t.startswith(("warehouse.", "staging.", "marts."))}, tables


def _generated(records: list[logging.LogRecord]) -> int:
    """How many times the demo generator ran (it logs one summary line per run)."""
    return sum(1 for r in records if r.name == "etl_helpers.sources.demo" and "files written" in r.getMessage())


def test_the_raw_folder_is_prepared_once_per_run(warehouse, demo_raw_dir, caplog):
    options = SourceOptions(scale="small", seed=42)
    folder = raw_folder("demo", warehouse, options)
    shutil.copytree(demo_raw_dir, folder)                    # the files of earlier runs are there
    with caplog.at_level(logging.INFO, logger="etl_helpers"):
        load_dimensions(RUN_DATE, "demo", options, warehouse)   # 10_dimensions prepares the folder
        loaded = load_facts(RUN_DATE, "demo", options, warehouse)  # 20_facts reads it as prepared
    assert _generated(caplog.records) == 1
    assert any(f"prepared for {RUN_DATE} already" in r.getMessage() for r in caplog.records)
    assert loaded["rows_loaded"].sum() > 0

    caplog.clear()                                           # 20_facts alone, for the next day
    next_day = RUN_DATE + timedelta(days=1)
    with caplog.at_level(logging.INFO, logger="etl_helpers"):
        load_facts(next_day, "demo", options, warehouse)
    assert _generated(caplog.records) == 1 and raw_path(folder, "sales", next_day).exists()
