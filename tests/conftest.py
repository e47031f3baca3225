"""Shared fixtures: real PostgreSQL servers (embedded, plus TEST_DATABASE_URL when set)
and a fresh database with the pipeline schema for each test that asks for one."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo, sql

from etl_helpers import db, schema
from etl_helpers.settings import PROJECT_ROOT, SEED_DATA_DIR, Settings

TEST_PGDATA = PROJECT_ROOT / ".pgdata-test"


def _server_params() -> list:
    servers = [pytest.param("embedded", id="embedded")]
    if os.environ.get("TEST_DATABASE_URL"):
        servers.append(pytest.param("external", id="external"))
    return servers


@pytest.fixture(scope="session", params=_server_params())
def server_url(request) -> str:
    """An admin URL of a real PostgreSQL server: the embedded one, or TEST_DATABASE_URL."""
    if request.param == "external":
        return os.environ["TEST_DATABASE_URL"]
    return db.database_url(Settings(pgdata=TEST_PGDATA))


def _with_dbname(url: str, dbname: str) -> str:
    params = conninfo.conninfo_to_dict(url)
    params["dbname"] = dbname
    return conninfo.make_conninfo(**params)


@pytest.fixture
def make_database(server_url):
    """Factory: create an empty database on the server; dropped at teardown."""
    created: list[str] = []

    def make() -> str:
        name = f"etl_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        created.append(name)
        return _with_dbname(server_url, name)

    yield make
    with psycopg.connect(server_url, autocommit=True) as admin:
        for name in created:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
def settings(make_database, tmp_path) -> Settings:
    """Settings for a fresh, empty database and a temporary work folder (data/, exports/)."""
    url = make_database()
    return Settings(database_url=url, workdir=tmp_path)


@pytest.fixture
def warehouse(settings) -> Settings:
    """Like ``settings``, with the pipeline schema already created."""
    with db.connection(settings) as conn:
        schema.apply_schema(conn)
    return settings


@pytest.fixture(scope="session")
def seed_data_dir() -> Path:
    if not SEED_DATA_DIR.is_dir():
        pytest.skip(f"seed data not found at {SEED_DATA_DIR}")
    return SEED_DATA_DIR


DEMO_RUN_DATE = "2026-11-30"


@pytest.fixture(scope="session")
def demo_raw_dir(tmp_path_factory) -> Path:
    """Demo ``small`` raw files up to 2026-11-30, generated once per test session."""
    from datetime import date

    from etl_helpers.sources import demo

    raw_dir = tmp_path_factory.mktemp("demo-raw")
    demo.generate(raw_dir, date.fromisoformat(DEMO_RUN_DATE), scale="small", seed=42)
    return raw_dir


@pytest.fixture(scope="session")
def demo_warehouse(server_url, demo_raw_dir, tmp_path_factory) -> Settings:
    """A database loaded with demo ``small`` as of 2026-11-30, views created (read-only use!).

    ``settings.raw_dir`` is the folder of raw files it was loaded from.
    """
    from datetime import date

    from etl_helpers import warehouse
    from etl_helpers.sources import SourceOptions

    name = f"etl_demo_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    workdir = tmp_path_factory.mktemp("demo-work")
    (workdir / "data").mkdir()
    (workdir / "data" / "raw").symlink_to(demo_raw_dir)
    settings = Settings(database_url=_with_dbname(server_url, name), workdir=workdir)
    warehouse.build_warehouse(settings, date.fromisoformat(DEMO_RUN_DATE), "canonical",
                              SourceOptions(raw=demo_raw_dir))
    yield settings
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
