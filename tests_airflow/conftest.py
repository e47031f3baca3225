"""The Airflow tests run in ``.venv-airflow`` (``make airflow-test``), never in the main suite.

They use a temporary ``AIRFLOW_HOME`` (its own metadata database), a temporary work folder
and PostgreSQL data folder for every pipeline run (the checkout's data is never touched), and
a real PostgreSQL: ``TEST_DATABASE_URL`` when set, else the embedded server, held open by a
helper running in the pipeline's own environment (``database_server.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Callable, Iterator

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
PIPELINE_PYTHON = PROJECT_DIR / ".venv" / "bin" / "python"
AIRFLOW = Path(sys.executable).parent / "airflow"
PASSWORD = "Pw-airflow-5Rk2Tz9q"  # the connection's password: must never show anywhere
RUN_DATE = "2026-11-30"
DATA_SUFFIXES = {".csv", ".parquet", ".png"}
PIPELINE_STEPS = ["00_schema", "10_dimensions", "20_facts", "30_views"]
MART_STEPS = ["40_fidelite_segmentation", "41_fidelite_affinity", "50_vente_products", "51_vente_geo_time"]

# Airflow reads its configuration when first imported: point it at a home of our own first.
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-home-"))
os.environ.update({
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
})
sys.path.insert(0, str(PROJECT_DIR / "dags"))  # the DAG file's helpers, for the unit tests
for name in ("DATABASE_URL", "ETL_WORKDIR", "ETL_PGDATA", "AIRFLOW_CONN_LOYALTY_WAREHOUSE"):
    os.environ.pop(name, None)


def pytest_sessionfinish(session, exitstatus) -> None:
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """The temporary AIRFLOW_HOME with its metadata database created."""
    subprocess.run([str(AIRFLOW), "db", "migrate"], check=True, capture_output=True)
    return AIRFLOW_HOME


class DatabaseServer:
    """Creates and drops databases through ``database_server.py`` (see its docstring)."""

    def __init__(self, pgdata: Path) -> None:
        self.process = subprocess.Popen(
            [str(PIPELINE_PYTHON), str(Path(__file__).with_name("database_server.py")), str(pgdata)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._answer()

    def _answer(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the database helper stopped (see its error above)")
        return json.loads(line)

    def create(self) -> dict:
        self.process.stdin.write("create\n")
        self.process.stdin.flush()
        return self._answer()

    def drop(self, name: str) -> None:
        self.process.stdin.write(f"drop {name}\n")
        self.process.stdin.flush()
        self._answer()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=120)


@pytest.fixture(scope="session")
def database_server() -> Iterator[DatabaseServer]:
    # as root, the embedded server runs as its own user: its folder must be reachable by it
    pgdata = Path(tempfile.mkdtemp(prefix="airflow-tests-pgdata-"))
    pgdata.chmod(0o755)
    server = DatabaseServer(pgdata)
    yield server
    server.close()
    shutil.rmtree(pgdata, ignore_errors=True)


@pytest.fixture
def make_database(database_server) -> Iterator[Callable[[], dict]]:
    """Factory: an empty database's connection parameters (host, port, user, dbname)."""
    created: list[str] = []

    def make() -> dict:
        params = database_server.create()
        created.append(params["dbname"])
        return params

    yield make
    for name in created:
        database_server.drop(name)


def database_url(params: dict) -> str:
    """A libpq URL for the database, with the password (trust authentication ignores it)."""
    from urllib.parse import quote

    host = quote(params.get("host", "127.0.0.1"), safe="")
    return (f"postgresql://{quote(params.get('user', 'postgres'))}:{PASSWORD}@{host}:{params.get('port', 5432)}"
            f"/{params['dbname']}")


def airflow_connection(params: dict) -> str:
    """The ``loyalty_warehouse`` connection as Airflow reads it from ``AIRFLOW_CONN_*`` (JSON)."""
    return json.dumps({"conn_type": "postgres", "host": params.get("host", "127.0.0.1"),
                       "port": int(params.get("port", 5432)), "login": params.get("user", "postgres"),
                       "password": PASSWORD, "schema": params["dbname"]})


def pipeline_env(workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of a run: its own work folder and embedded data folder, never the checkout's."""
    workdir.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "ETL_WORKDIR": str(workdir), "ETL_PGDATA": str(workdir / "pgdata-unused"), **extra}


@pytest.fixture(scope="session")
def demo_raw(tmp_path_factory) -> Path:
    """Demo ``small`` raw files up to 2026-11-30 in the canonical layout (one copy for all runs)."""
    raw = tmp_path_factory.mktemp("demo-raw")
    subprocess.run([str(PIPELINE_PYTHON), "-c",
                    "import sys; from datetime import date; from etl_helpers.sources import demo; "
                    "demo.generate(sys.argv[1], date.fromisoformat(sys.argv[2]), scale='small', seed=42)",
                    str(raw), RUN_DATE], check=True)
    return raw


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """``run_pipeline.py`` in the pipeline's environment, as a user runs it."""
    return subprocess.run([str(PIPELINE_PYTHON), "run_pipeline.py", *args], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True)


def run_airflow(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(AIRFLOW), *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)


def data_exports(workdir: Path, run_date: str) -> dict[str, bytes]:
    """Every data file (tables and charts) the marts exported for a date, by path."""
    exports = workdir / "exports"
    return {str(p.relative_to(exports)): p.read_bytes()
            for mart in ("fact_fidelite_mart", "fact_vente_mart")
            for p in sorted((exports / mart / run_date).rglob("*")) if p.suffix in DATA_SUFFIXES}


def dates(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def files_holding(root: Path, secret: str) -> list[str]:
    return [str(p) for p in root.rglob("*")
            if p.is_file() and not p.is_symlink() and secret.encode() in p.read_bytes()]
