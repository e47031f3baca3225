"""Real runs of the DAG: ``airflow dags test`` end to end against the command line's results,
a backfill of three days, a failing notebook and a usage error. Every run has its own work
folder and database; the connection carries a password that must never show."""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import pytest
from conftest import (AIRFLOW_HOME, MART_STEPS, PASSWORD, PIPELINE_STEPS, PROJECT_DIR, RUN_DATE, airflow_connection,
                      data_exports, database_url, dates, files_holding, pipeline_env, run_airflow, run_cli)

ALL_STEPS = [*PIPELINE_STEPS, *MART_STEPS]


def run_folders(workdir: Path, run_date: str) -> list[Path]:
    return sorted((workdir / "exports" / "pipeline" / run_date / "runs").iterdir())


def airflow_env(workdir: Path, database: dict) -> dict[str, str]:
    return pipeline_env(workdir, AIRFLOW_CONN_LOYALTY_WAREHOUSE=airflow_connection(database))


def dag_runs(env: dict[str, str]) -> list[dict]:
    listed = run_airflow(["dags", "list-runs", "loyalty_pipeline", "--output", "json"], env)
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout.strip().splitlines()[-1])  # the JSON list, after Airflow's warnings


BACKFILL_DAYS = dates("2026-11-28", RUN_DATE)


@pytest.fixture(scope="module")
def database(database_server) -> Iterator[Callable[[], dict]]:
    """Factory: an empty database for this module's runs, dropped after them."""
    created: list[str] = []

    def make() -> dict:
        created.append(database_server.create())
        return created[-1]

    yield make
    for params in created:
        database_server.drop(params["dbname"])


@pytest.fixture(scope="module")
def airflow_backfill(airflow_db, database, demo_raw, tmp_path_factory) -> dict:
    """Three days through Airflow, in order, one DAG run each (``max_active_runs=1``): the work
    folder, the environment and each run's console output."""
    workdir = tmp_path_factory.mktemp("airflow-work")
    env = airflow_env(workdir, database())
    conf = json.dumps({"source": "canonical", "raw": str(demo_raw)})
    outputs = {}
    for day in BACKFILL_DAYS:
        result = run_airflow(["dags", "test", "loyalty_pipeline", day, "--conf", conf], env)
        outputs[day] = result.stdout + result.stderr
        assert result.returncode == 0, outputs[day][-5000:]
    return {"workdir": workdir, "env": env, "outputs": outputs}


@pytest.fixture(scope="module")
def cli_runs(database, demo_raw, tmp_path_factory) -> Path:
    """The same three days through ``run_pipeline.py --date D``, on the same raw data."""
    workdir = tmp_path_factory.mktemp("cli-work")
    env = pipeline_env(workdir, DATABASE_URL=database_url(database()))
    for day in BACKFILL_DAYS:
        cli = run_cli(["--date", day, "--source", "canonical", "--raw", str(demo_raw)], env)
        assert cli.returncode == 0, cli.stderr[-5000:]
    return workdir


def test_dags_test_gives_the_command_lines_exports_one_run_one_manifest_and_shows_no_secret(
        airflow_backfill, cli_runs):
    """``airflow dags test loyalty_pipeline 2026-11-30`` against ``run_pipeline.py --date 2026-11-30``."""
    workdir, output = airflow_backfill["workdir"], airflow_backfill["outputs"][RUN_DATE]
    through_airflow = data_exports(workdir, RUN_DATE)
    assert any(path.startswith("fact_vente_mart/") for path in through_airflow)
    assert any(path.startswith("fact_fidelite_mart/") for path in through_airflow)
    assert through_airflow == data_exports(cli_runs, RUN_DATE)

    # the eight tasks formed one pipeline run, recorded in one manifest
    [airflow_run] = [run for run in dag_runs(airflow_backfill["env"]) if run["logical_date"].startswith(RUN_DATE)]
    [folder] = run_folders(workdir, RUN_DATE)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert folder.name == manifest["run_id"] == re.sub(r"[^A-Za-z0-9._:+-]", "-", airflow_run["run_id"])
    assert manifest["status"] == "succeeded" and manifest["run_date"] == RUN_DATE
    assert sorted(step["notebook"] for step in manifest["steps"]) == sorted(ALL_STEPS)
    # a step whose inputs are those of the day before's run is reused from that run, as on the
    # command line: 00_schema (its SQL alone) and 10_dimensions (no new reference snapshot);
    # every other step ran in this one
    assert all(step["status"] in ("succeeded", "reused") for step in manifest["steps"])
    assert all(step["made_in_run"] != manifest["run_id"] for step in manifest["steps"] if step["status"] == "reused")
    assert sorted(s["notebook"] for s in manifest["steps"] if s["status"] == "reused") == ["00_schema", "10_dimensions"]
    assert sorted(s["notebook"] for s in manifest["steps"] if s["status"] == "succeeded") == sorted(ALL_STEPS[2:])
    published = json.loads((workdir / "exports" / "pipeline" / RUN_DATE / "manifest.json").read_text())
    assert published["run_id"] == manifest["run_id"]

    # each task's log ends with its executed notebook and HTML report
    exports = workdir / "exports"
    for step in ALL_STEPS:
        record = next(s for s in manifest["steps"] if s["notebook"] == step)
        assert f"executed notebook: {exports / record['executed_notebook']}" in output
        assert f"HTML report: {exports / record['html_report']}" in output
        assert (exports / record["html_report"]).is_file()

    # the password is nowhere: the runs' output, Airflow's home and its metadata database
    # (rendered fields, logs), the runs' files
    for day_output in airflow_backfill["outputs"].values():
        assert PASSWORD not in day_output
    assert files_holding(AIRFLOW_HOME, PASSWORD) == []
    assert files_holding(workdir, PASSWORD) == []


def test_a_backfill_of_three_days_gives_the_exports_of_three_command_line_runs(airflow_backfill, cli_runs):
    for day in BACKFILL_DAYS:
        through_airflow = data_exports(airflow_backfill["workdir"], day)
        assert through_airflow and through_airflow == data_exports(cli_runs, day)
        [folder] = run_folders(airflow_backfill["workdir"], day)
        assert json.loads((folder / "manifest.json").read_text())["status"] == "succeeded"


def test_a_failing_notebook_fails_its_task_and_the_run_keeps_the_notebook_and_runs_no_mart(
        airflow_db, make_database, demo_raw, tmp_path, monkeypatch):
    """In process (``DAG.test``) with one retry, without its delay."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState, TaskInstanceState

    broken = tmp_path / "raw"
    shutil.copytree(demo_raw, broken)
    stores = broken / "stores" / "stores_2026-06-01.csv"
    header, rest = stores.read_text().split("\n", 1)
    stores.write_text(header.replace("store_code", "shop_code") + "\n" + rest)  # a required column gone

    workdir = tmp_path / "airflow"
    for name, value in airflow_env(workdir, make_database()).items():
        monkeypatch.setenv(name, value)
    dag = DagBag(dag_folder=str(PROJECT_DIR / "dags")).dags["loyalty_pipeline"]
    for task in dag.tasks:
        task.retries, task.retry_delay = 1, timedelta(0)

    run = dag.test(logical_date=datetime(2026, 11, 30, tzinfo=timezone.utc),
                   run_conf={"source": "canonical", "raw": str(broken)})

    assert run.state == DagRunState.FAILED
    states = {ti.task_id: ti for ti in run.get_task_instances()}
    assert states["00_schema"].state == TaskInstanceState.SUCCESS
    assert states["10_dimensions"].state == TaskInstanceState.FAILED
    assert states["10_dimensions"].try_number == 2  # a run failure (exit code 1) is retried
    for step in ["20_facts", "30_views", *MART_STEPS]:
        assert states[step].state == TaskInstanceState.UPSTREAM_FAILED
    [folder] = run_folders(workdir, "2026-11-30")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    record = next(s for s in manifest["steps"] if s["notebook"] == "10_dimensions")
    assert record["status"] == "failed" and "store_code" in record["error"]
    kept = json.loads((workdir / "exports" / record["executed_notebook"]).read_text())  # kept, for reading
    errors = [out for cell in kept["cells"] for out in cell.get("outputs", []) if out["output_type"] == "error"]
    assert errors and "store_code" in json.dumps(errors)
    ran = {s["notebook"] for s in manifest["steps"] if s["status"] in ("succeeded", "failed")}
    assert ran.isdisjoint(MART_STEPS)
    assert not any((workdir / "exports" / mart / "2026-11-30").exists()
                   for mart in ("fact_fidelite_mart", "fact_vente_mart"))


def test_a_usage_error_fails_the_task_at_once_without_a_retry(airflow_db, make_database, tmp_path):
    conf = json.dumps({"source": "canonical", "raw": str(tmp_path / "no-such-folder")})
    env = airflow_env(tmp_path / "airflow", make_database())
    result = run_airflow(["dags", "test", "loyalty_pipeline", RUN_DATE, "--conf", conf], env)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "DagRun failed" in output
    assert "no such folder" in output
    assert "usage error (exit code 2), not retried" in output
    assert output.count("Running command:") == 1  # 00_schema once; nothing after it ran
    [run] = [run for run in dag_runs(env) if run["logical_date"].startswith(RUN_DATE)]
    assert run["state"] == "failed"
