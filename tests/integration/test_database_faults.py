"""Database faults (cases 47-50 of BAD_INPUTS.md), the pipeline's locks, a warehouse's source
and the embedded server's life: every wait is bounded and named, nothing is swallowed."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import psycopg
import pytest
from psycopg import conninfo, sql

from etl_helpers import db, schema, views
from etl_helpers.settings import PROJECT_ROOT, Settings


@pytest.fixture
def fresh_cluster():
    """A PostgreSQL cluster of its own (embedded), started for one test: it may be frozen, and
    it has none of the pipeline's roles yet. Stopped and deleted after."""
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="etl-cluster-"))
    server = pgserver.get_server(folder / "pgdata", cleanup_mode="delete")
    yield server
    _signal_server(server.get_pid(), signal.SIGCONT)
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


def _signal_server(postmaster_pid: int, signum: int) -> None:
    postmaster = psutil.Process(postmaster_pid)
    for process in [postmaster, *postmaster.children(recursive=True)]:
        process.send_signal(signum)


# --- case 48: statement and connection timeouts ---------------------------------------------

def test_48_pipeline_connections_carry_their_time_limits(settings):
    limited = Settings(database_url=settings.database_url, statement_timeout=90, lock_timeout=7,
                       idle_in_transaction_timeout=120)
    with db.connection(limited) as conn:
        shown = {name: conn.execute(sql.SQL("show {}").format(sql.Identifier(name))).fetchone()[0]
                 for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")}
    assert shown == {"statement_timeout": "90s", "lock_timeout": "7s", "idle_in_transaction_session_timeout": "2min"}


def test_48_a_statement_past_its_timeout_is_cancelled_by_the_server(settings):
    with db.connection(Settings(database_url=settings.database_url, statement_timeout=1)) as conn:
        with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
            conn.execute("select pg_sleep(30)")


def test_48_a_frozen_server_fails_the_statement_after_a_bounded_wait(fresh_cluster):
    settings = Settings(database_url=fresh_cluster.get_uri(), statement_timeout=1, connect_timeout=1)
    conn = db.connect(settings)
    conn.execute("select 1")
    _signal_server(fresh_cluster.get_pid(), signal.SIGSTOP)
    try:
        with pytest.raises(db.ServerNotAnswering, match=r"did not answer within 2 s") as raised:
            conn.execute("select count(*) from pg_class")
        assert conn.closed
        assert "frozen or unreachable" in str(raised.value)
        with pytest.raises(db.DatabaseUnavailable, match="cannot connect to the database"):
            db.connect(settings)  # connecting to the frozen server: bounded too
    finally:
        _signal_server(fresh_cluster.get_pid(), signal.SIGCONT)
    with db.connection(settings) as conn:  # the server thawed: a new connection works
        assert conn.execute("select 1").fetchone() == (1,)


# --- case 47: views replaced while an analyst holds a transaction on them ---------------------

def _analyst_reading(url: str, relation: str) -> psycopg.Connection:
    """An analyst's session with an open transaction that has read ``relation``."""
    analyst = psycopg.connect(url)
    analyst.execute(sql.SQL("select * from {} limit 1").format(sql.SQL(relation))).fetchall()
    return analyst


def test_47_an_unchanged_view_is_not_replaced_while_an_analyst_reads_it(warehouse):
    statement = "create or replace view marts.v_probe as select 1 as x"
    with db.connection(warehouse) as conn:
        assert db.replace_view(conn, "marts", "v_probe", statement) is True
    analyst = _analyst_reading(warehouse.database_url, "marts.v_probe")
    try:
        with db.connection(warehouse) as conn:
            assert db.replace_view(conn, "marts", "v_probe", statement, wait_seconds=60) is False
    finally:
        analyst.close()


def test_47_a_changed_view_waits_a_bounded_time_and_names_the_view(warehouse):
    with db.connection(warehouse) as conn:
        db.replace_view(conn, "marts", "v_probe", "create or replace view marts.v_probe as select 1 as x")
    analyst = _analyst_reading(warehouse.database_url, "marts.v_probe")
    try:
        with db.connection(warehouse) as conn:
            with pytest.raises(db.LockTimeout, match=r"waited 1 s for a lock on view marts\.v_probe"):
                db.replace_view(conn, "marts", "v_probe", "create or replace view marts.v_probe as select 2 as x",
                                wait_seconds=1)
        other = psycopg.connect(warehouse.database_url)  # a second analyst does not queue behind the run
        other.execute("set lock_timeout = '10s'")
        assert other.execute("select x from marts.v_probe").fetchone() == (1,)
        other.close()
    finally:
        analyst.close()
    with db.connection(warehouse) as conn:  # once the analyst is gone, the new definition goes in
        db.replace_view(conn, "marts", "v_probe", "create or replace view marts.v_probe as select 2 as x")
        assert conn.execute("select x from marts.v_probe").fetchone() == (2,)


def test_47_a_view_replaced_by_hand_is_made_again(warehouse):
    statement = "create or replace view marts.v_probe as select 1 as x"
    with db.connection(warehouse) as conn:
        db.replace_view(conn, "marts", "v_probe", statement)
        conn.execute("create or replace view marts.v_probe as select 3 as x")
        assert db.replace_view(conn, "marts", "v_probe", statement) is True
        assert conn.execute("select x from marts.v_probe").fetchone() == (1,)


def test_47_the_pipeline_views_are_refreshed_while_an_analyst_reads_one(warehouse):
    with db.connection(warehouse) as conn:
        names = views.create_views(conn)
    analyst = _analyst_reading(warehouse.database_url, "marts.v_sales_lines")
    try:
        with db.connection(Settings(database_url=warehouse.database_url, lock_timeout=2)) as conn:
            assert views.create_views(conn) == names
    finally:
        analyst.close()


# --- the pipeline's advisory locks, declared once in db --------------------------------------

def test_the_advisory_locks_are_bounded_and_named(settings):
    assert db.RUN_LOCK_KEY != db.LOAD_LOCK_KEY
    with db.connect(settings, autocommit=True) as holder, db.advisory_lock(holder, db.RUN_LOCK_KEY, 0):
        with db.connect(settings, autocommit=True) as other:
            with pytest.raises(db.LockTimeout, match="waited 0.5 s for the pipeline run lock"):
                with db.advisory_lock(other, db.RUN_LOCK_KEY, 0.5):
                    pass
    with db.connect(settings) as holder:
        db.advisory_xact_lock(holder, db.LOAD_LOCK_KEY)
        with db.connect(Settings(database_url=settings.database_url, lock_timeout=0.5)) as other:
            with pytest.raises(db.LockTimeout, match="waited 500ms for the load lock"):
                db.advisory_xact_lock(other, db.LOAD_LOCK_KEY)
    with db.connect(settings, autocommit=True) as conn, db.advisory_lock(conn, db.RUN_LOCK_KEY, 0):
        pass  # released by the holders above


# --- cases 49 and 50: privileges -----------------------------------------------------------

@pytest.fixture
def login_role(server_url):
    """Factory: a login role without CREATEROLE (nor superuser); dropped at teardown."""
    made: list[str] = []

    def make() -> str:
        name = f"etl_user_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("create role {} login nocreaterole nocreatedb").format(sql.Identifier(name)))
        made.append(name)
        return name

    yield make
    with psycopg.connect(server_url, autocommit=True) as admin:
        for name in made:  # it owns nothing and holds no privilege on objects: nothing to drop first
            admin.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(name)))


def test_49_without_create_on_the_database_the_schema_step_fails_in_one_clear_line(make_database, login_role):
    url = make_database()
    user = login_role()
    with pytest.raises(schema.SchemaPermissionError) as raised:
        with db.connection(Settings(database_url=conninfo.make_conninfo(url, user=user))) as conn:
            schema.apply_schema(conn)
    message = str(raised.value)
    database = conninfo.conninfo_to_dict(url)["dbname"]
    assert f"user {user} may not create the pipeline's schemas in database {database}" in message
    assert f"grant create on database {database} to {user}" in message and "\n" not in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_49_without_createrole_the_schema_step_warns_and_goes_on(fresh_cluster, caplog):
    """A cluster where the pipeline's roles do not exist yet, and a user who may not create them."""
    admin_url = fresh_cluster.get_uri()
    user, database = "pipeline_user", "loyalty"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create role {} login nocreaterole nocreatedb").format(sql.Identifier(user)))
        admin.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(database), sql.Identifier(user)))
    url = conninfo.make_conninfo(admin_url, dbname=database, user=user)
    with caplog.at_level(logging.WARNING, logger="etl_helpers.schema"):
        with db.connection(Settings(database_url=url)) as conn:
            schema.apply_schema(conn)
            tables = {t for _, t in schema.existing_tables(conn)}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for role in ("etl_loader", "etl_analyst"):
        assert any(f"role {role} is missing and {user} may not create it (no CREATEROLE)" in w for w in warnings)
    assert {"fact_ventes", "loaded_files"} <= tables


@pytest.fixture
def analyst(warehouse, login_role):
    """A login in etl_analyst, present when the schema step runs (as every run does)."""
    user = login_role()
    with db.connection(warehouse) as conn:
        conn.execute(sql.SQL("grant etl_analyst to {}").format(sql.Identifier(user)))
        schema.apply_schema(conn)
    return conninfo.make_conninfo(warehouse.database_url, user=user)


@pytest.mark.parametrize("statement", [
    "create temporary table scratch (id int)",
    "create function pg_temp.shadow() returns int language sql as 'select 1'",
])
def test_50_the_analyst_creates_no_temporary_objects(analyst, statement):
    with psycopg.connect(analyst) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_50_the_analyst_queries_are_bounded(analyst):
    with psycopg.connect(analyst) as conn:
        assert conn.execute("show statement_timeout").fetchone() == ("5min",)
        assert conn.execute("show idle_in_transaction_session_timeout").fetchone() == ("15min",)


def test_50_an_administrator_s_own_limit_for_an_analyst_is_kept(warehouse, analyst):
    user = conninfo.conninfo_to_dict(analyst)["user"]
    with db.connection(warehouse) as conn:
        conn.execute(sql.SQL("alter role {} in database {} set statement_timeout = '20min'").format(
            sql.Identifier(user), sql.Identifier(conn.info.dbname)))
        schema.apply_schema(conn)
    with psycopg.connect(analyst) as conn:
        assert conn.execute("show statement_timeout").fetchone() == ("20min",)


def test_50_the_pipeline_keeps_its_temporary_tables(warehouse):
    with db.connection(warehouse) as conn:
        conn.execute("create temporary table scratch (id int)")


# --- a warehouse keeps to its source (issue 11, point 5) -------------------------------------

def test_a_warehouse_keeps_to_the_source_that_built_it(warehouse):
    with db.connection(warehouse) as conn:
        assert schema.warehouse_source(conn) is None
        schema.claim_source(conn, "demo")
        schema.claim_source(conn, "demo")
        assert schema.warehouse_source(conn) == "demo"
        with pytest.raises(schema.SourceMismatch) as raised:
            schema.claim_source(conn, "superstore")
    message = str(raised.value)
    assert "built from the source 'demo'" in message and "'superstore'" in message
    assert all(way in message for way in ("ETL_PGDATA", "ETL_WORKDIR", "--reset-database"))
    with db.connection(warehouse) as conn:
        schema.drop_pipeline_schemas(conn)
        schema.claim_source(conn, "superstore")  # an emptied warehouse takes a new source
        assert schema.warehouse_source(conn) == "superstore"


def test_a_warehouse_older_than_the_record_keeps_to_its_first_run_source(warehouse):
    with db.connection(warehouse) as conn:
        conn.execute("insert into etl.runs (run_date, source) values ('2026-11-30', 'superstore')")
        with pytest.raises(schema.SourceMismatch):
            schema.claim_source(conn, "demo")
        schema.claim_source(conn, "superstore")


# --- the embedded server stops (issue 11, point 7) -------------------------------------------

START_AND_EXIT = "from etl_helpers import db; db.connect().close()"


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except FileNotFoundError:
        return None
    return pid if psutil.pid_exists(pid) else None


def _python(code: str, pgdata: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ETL_PGDATA": str(pgdata)}
    env.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=True)


def test_the_embedded_server_stops_with_the_last_process_even_after_killed_ones(tmp_path):
    pgdata = tmp_path / "pgdata"
    _python(START_AND_EXIT, pgdata)
    assert _postmaster_pid(pgdata) is None
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that ran and is gone, as a killed notebook kernel's
    (pgdata / ".handle_pids.json").write_text(json.dumps([dead.pid]))
    _python(START_AND_EXIT, pgdata)
    assert _postmaster_pid(pgdata) is None
    assert json.loads((pgdata / ".handle_pids.json").read_text()) == []


def test_stop_db_stops_the_embedded_server_by_its_pid(tmp_path):
    pgdata = tmp_path / "pgdata"
    holder = subprocess.Popen([sys.executable, "-c", START_AND_EXIT + "; import time; time.sleep(600)"],
                              env={**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
                                   "ETL_PGDATA": str(pgdata)})
    try:
        for _ in range(600):
            if _postmaster_pid(pgdata) and (pgdata / ".handle_pids.json").exists():
                break
            holder.poll()
            assert holder.returncode is None
            time.sleep(0.1)
        assert _postmaster_pid(pgdata)
        stopped = _python("from etl_helpers import db; raise SystemExit(db.main(['stop']))", pgdata)
        assert "stopped" in stopped.stdout
        assert _postmaster_pid(pgdata) is None
    finally:
        holder.kill()
        holder.wait()
