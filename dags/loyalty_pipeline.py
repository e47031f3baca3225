"""Airflow 3 DAG: the loyalty & sales pipeline every day, one task per notebook.

Each task runs the project's own command line in the project's own environment
(``.venv/bin/python run_pipeline.py --date {{ ds }} --only STEP --run-id ID``), so Airflow's
dependencies never mix with the pipeline's. The eight tasks of one DAG run share one run id:
they form one pipeline run with one manifest. The logical date is the run date: the run for
2026-11-30 starts once that day is over (00:00 UTC on 2026-12-01).

The database URL comes from the Airflow connection ``loyalty_warehouse`` and reaches the
pipeline as ``DATABASE_URL`` in the task's environment only, at execution time: it is in no
templated field, so never in the rendered templates, and the pipeline redacts it in its logs.
Without that connection the tasks use the project's own settings (``.env`` or the embedded
PostgreSQL) and say so in their log.

The project folder is the one holding this file's ``dags/`` folder (symlinks followed), or
``LOYALTY_PROJECT_DIR`` when the file was copied into another Airflow's dags folder.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, BaseHook, CronDataIntervalTimetable, Param, chain
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException
from dotenv import dotenv_values

PROJECT_DIR = Path(os.environ.get("LOYALTY_PROJECT_DIR") or Path(__file__).resolve().parents[1])
PIPELINE_PYTHON = PROJECT_DIR / ".venv" / "bin" / "python"
CONNECTION_ID = "loyalty_warehouse"
USAGE_ERROR = 2  # run_pipeline.py's exit code for a bad option: nothing ran, a retry cannot help
LOCK_WAIT_SECONDS = 3600  # the pipeline lets one writer at a time: a mart waits for the others

PIPELINE_STEPS = ("00_schema", "10_dimensions", "20_facts", "30_views")
MART_STEPS = ("40_fidelite_segmentation", "41_fidelite_affinity", "50_vente_products", "51_vente_geo_time")

UNSAFE_RUN_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9._:+-]")


def pipeline_run_id(airflow_run_id: str) -> str:
    """The pipeline's run id for a DAG run: its Airflow run id in the characters a run id
    may hold (``[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}``), e.g. ``scheduled__2026-11-30T00:00:00+00:00``."""
    safe = UNSAFE_RUN_ID_CHARACTERS.sub("-", airflow_run_id)
    return ("r" + safe if not safe[:1].isalnum() else safe)[:128]


def pipeline_command(step: str) -> str:
    """The templated command of one step; the DAG run's params choose the source."""
    return " ".join([
        shlex.quote(str(PIPELINE_PYTHON)), "run_pipeline.py",
        "--date {{ ds }}",
        f"--only {step}",
        "--run-id {{ run_id | pipeline_run_id | shell_quote }}",
        "--source {{ params.source | shell_quote }}",
        "{% if params.raw %}--raw {{ params.raw | shell_quote }}{% endif %}",
        "--scale {{ params.scale | shell_quote }}",
        "--seed {{ params.seed | int }}",
        f"--wait {LOCK_WAIT_SECONDS}",
    ])


def project_workdir() -> Path:
    """The pipeline's work folder (holds ``exports/``), found as the pipeline finds it:
    ``ETL_WORKDIR`` from the environment (the command inherits the worker's), then ``.env``."""
    dotenv = PROJECT_DIR / ".env"
    configured = os.environ.get("ETL_WORKDIR") or (dotenv_values(dotenv).get("ETL_WORKDIR") if dotenv.exists() else None)
    return Path(configured) if configured else PROJECT_DIR


class PipelineStep(BashOperator):
    """One notebook of the pipeline through its command line.

    Adds to BashOperator: ``DATABASE_URL`` from the ``loyalty_warehouse`` connection in the
    command's environment (never in a templated field); a usage error (exit code 2) fails the
    task at once instead of being retried; the log ends with the step's executed notebook
    and HTML report.
    """

    def __init__(self, *, step: str, **kwargs: Any) -> None:
        super().__init__(bash_command=pipeline_command(step), cwd=str(PROJECT_DIR), append_env=True,
                         env={}, skip_on_exit_code=None, do_xcom_push=False, **kwargs)
        self.step = step

    def get_env(self, context: Any) -> dict:
        env = super().get_env(context)
        try:
            env["DATABASE_URL"] = BaseHook.get_connection(CONNECTION_ID).get_uri()
        except AirflowNotFoundException:
            self.log.warning("no Airflow connection %r: the pipeline uses its own settings "
                             "(.env, or the embedded PostgreSQL)", CONNECTION_ID)
        return env

    def execute(self, context: Any) -> Any:
        try:
            return super().execute(context)
        except AirflowException as error:
            process = self.subprocess_hook.sub_process
            if process is not None and process.returncode == USAGE_ERROR:
                raise AirflowFailException(f"{self.step}: usage error (exit code {USAGE_ERROR}), "
                                           "not retried: see the command's message above") from error
            raise
        finally:
            self._log_reports(context)

    def _log_reports(self, context: Any) -> None:
        run_date, run_id = context["ds"], pipeline_run_id(context["run_id"])
        exports = project_workdir() / "exports"
        manifest = exports / "pipeline" / run_date / "runs" / run_id / "manifest.json"
        steps = json.loads(manifest.read_text())["steps"] if manifest.is_file() else []
        record = next((s for s in steps if s.get("notebook") == self.step), {})
        if record.get("executed_notebook"):
            self.log.info("executed notebook: %s", exports / record["executed_notebook"])
            if record.get("html_report"):
                self.log.info("HTML report: %s", exports / record["html_report"])
        else:
            self.log.info("no executed notebook for %s (the step did not run): %s", self.step, manifest)


with DAG(
    dag_id="loyalty_pipeline",
    description="Loyalty & sales analytics: load the day's extracts, build the marts, export the reports",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),  # logical date = the day just ended
    start_date=datetime(2026, 11, 1),  # with catchup, the first unpause runs every day since
    catchup=True,
    max_active_runs=1,
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
    },
    params={
        "source": Param("demo", enum=["demo", "canonical", "superstore"], description="where the raw data comes from"),
        "raw": Param("", type="string", description="canonical source: folder of extracts in the contract's layout"),
        "scale": Param("small", enum=["small", "medium", "large"], description="demo source size"),
        "seed": Param(42, type="integer", description="demo source seed"),
    },
    user_defined_filters={"shell_quote": lambda value: shlex.quote(str(value)), "pipeline_run_id": pipeline_run_id},
    doc_md=__doc__,
    tags=["loyalty"],
) as dag:
    pipeline = [PipelineStep(task_id=step, step=step) for step in PIPELINE_STEPS]
    marts = [PipelineStep(task_id=step, step=step) for step in MART_STEPS]
    chain(*pipeline, marts)
