"""The DAG as Airflow loads it: imports cleanly, tasks and dependencies, default arguments,
the command each task runs, and no secret in its file or its rendered templates."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import (MART_STEPS, PASSWORD, PIPELINE_PYTHON, PIPELINE_STEPS, PROJECT_DIR, airflow_connection,
                      run_airflow)


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_DIR / "dags"))


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags["loyalty_pipeline"]


def test_the_dag_folder_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert list(dagbag.dag_ids) == ["loyalty_pipeline"]


def test_one_task_per_notebook_schema_to_views_in_order_then_the_marts_in_parallel(dag):
    assert sorted(dag.task_ids) == sorted(PIPELINE_STEPS + MART_STEPS)
    for upstream, downstream in zip(PIPELINE_STEPS, PIPELINE_STEPS[1:]):
        assert dag.get_task(downstream).upstream_task_ids == {upstream}
    for mart in MART_STEPS:
        assert dag.get_task(mart).upstream_task_ids == {"30_views"}
        assert dag.get_task(mart).downstream_task_ids == set()
    assert dag.get_task("00_schema").upstream_task_ids == set()


def test_daily_on_the_day_just_ended_one_run_at_a_time_with_catchup_and_backoff(dag):
    from airflow.sdk import CronDataIntervalTimetable

    assert isinstance(dag.timetable, CronDataIntervalTimetable) and dag.timetable.expression == "0 0 * * *"
    assert dag.max_active_runs == 1
    assert dag.catchup is True
    for task in dag.tasks:
        assert task.retries == 3
        assert task.retry_delay == timedelta(minutes=2)
        assert task.retry_exponential_backoff == 2.0
        assert task.max_retry_delay == timedelta(minutes=30)


def test_each_task_runs_its_step_through_the_pipelines_own_command_line(dag):
    for task in dag.tasks:
        command = task.bash_command
        assert command.startswith(f"{PIPELINE_PYTHON} run_pipeline.py --date {{{{ ds }}}} --only {task.task_id} ")
        assert "--run-id {{ run_id | pipeline_run_id | shell_quote }}" in command
        assert task.cwd == str(PROJECT_DIR)
        assert task.append_env is True


@pytest.mark.parametrize(("airflow_run_id", "pipeline_run_id"), [
    ("scheduled__2026-11-30T00:00:00+00:00", "scheduled__2026-11-30T00:00:00+00:00"),
    ("backfill__2026-11-28T00:00:00+00:00", "backfill__2026-11-28T00:00:00+00:00"),
    ("~my run/1", "r-my-run-1"),
    ("x" * 200, "x" * 128),
])
def test_the_pipeline_run_id_is_the_dag_runs_in_safe_characters(airflow_run_id, pipeline_run_id):
    from loyalty_pipeline import pipeline_run_id as convert

    assert convert(airflow_run_id) == pipeline_run_id
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}", convert(airflow_run_id))


def test_the_dag_file_holds_no_connection_string():
    text = (PROJECT_DIR / "dags" / "loyalty_pipeline.py").read_text()
    assert not re.search(r"\w+://[^\s/]*@", text)
    assert "DATABASE_URL" in text  # named, never valued


def test_rendered_templates_hold_no_secret_even_with_the_connection_defined(airflow_db, make_database):
    params = make_database()
    env = {**__import__("os").environ, "AIRFLOW_CONN_LOYALTY_WAREHOUSE": airflow_connection(params)}
    for task_id in ("00_schema", "40_fidelite_segmentation"):
        rendered = run_airflow(["tasks", "render", "loyalty_pipeline", task_id, "2026-11-30"], env)
        assert rendered.returncode == 0, rendered.stderr
        assert f"--only {task_id} --run-id" in rendered.stdout
        for secret in (PASSWORD, params["dbname"]):
            assert secret not in rendered.stdout + rendered.stderr
