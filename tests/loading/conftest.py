"""Fixtures of the loader's tests: one database per test module, emptied before each test."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import conninfo, sql

from etl_helpers import db, schema
from etl_helpers.settings import Settings
from rawfolder import emptied


@pytest.fixture(scope="module")
def module_database(server_url) -> str:
    """One database with the pipeline schema per server for this module (creating one per test
    costs more than all the loads here)."""
    name = f"etl_loading_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = conninfo.make_conninfo(server_url, dbname=name)
    with db.connect(url=url) as conn:
        schema.apply_schema(conn)
    yield url
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
def warehouse(module_database, tmp_path) -> Settings:
    """Settings for an empty warehouse (the module's database, emptied) and a temporary work folder."""
    return emptied(module_database, tmp_path)
