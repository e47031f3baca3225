"""The pipeline on a real Citus cluster (coordinator + 2 workers, ``make citus-up``) against one
PostgreSQL (the embedded one), on the same demo raw folder: byte-identical data exports, the
warehouse distributed as designed, the analyst's limits, and a worker stopped mid-run.

Runs when ``CITUS_DATABASE_URL`` is set (``.ci/run`` starts the cluster and sets it); each
test database is created on every node of the cluster by ``citus.cluster``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo, sql

from etl_helpers import db
from etl_helpers.settings import PROJECT_ROOT, Settings
from etl_helpers.sources import demo

pytestmark = [
    pytest.mark.notebooks,
    pytest.mark.skipif(not os.environ.get("CITUS_DATABASE_URL"),
                       reason="no Citus cluster: `make citus-up`, then CITUS_DATABASE_URL=<the URL it prints>"),
]

FIRST_DATE, NEXT_DATE = "2026-11-30", "2026-12-01"
DATA_SUFFIXES = {".csv", ".parquet", ".png"}
TEST_PGDATA = PROJECT_ROOT / ".pgdata-test"


@pytest.fixture(scope="module")
def cluster():
    from citus import cluster

    if cluster.database_url(conninfo.conninfo_to_dict(os.environ["CITUS_DATABASE_URL"])["dbname"]) \
            != os.environ["CITUS_DATABASE_URL"]:
        pytest.fail("CITUS_DATABASE_URL is not the coordinator of this checkout's cluster (.citus/cluster.json)")
    return cluster


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory) -> Path:
    """Demo ``small`` raw files up to NEXT_DATE (a run for FIRST_DATE ignores the later ones)."""
    raw = tmp_path_factory.mktemp("citus-raw")
    demo.generate(raw, date.fromisoformat(NEXT_DATE), scale="small", seed=42,
                  history_days=731)  # the same first day as a window ending on FIRST_DATE
    return raw


@pytest.fixture(scope="module")
def citus_url(cluster):
    name = f"etl_citus_{uuid.uuid4().hex[:8]}"
    url = cluster.create_database(name)
    yield url
    cluster.drop_database(name)


@pytest.fixture(scope="module")
def single_url():
    server = db.database_url(Settings(pgdata=TEST_PGDATA))
    name = f"etl_single_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    yield conninfo.make_conninfo(server, dbname=name)
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def _pipeline(url: str, workdir: Path, raw: Path, run_date: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "ETL_WORKDIR": str(workdir)}
    return subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "run_pipeline.py"), "--date", run_date, "--source", "canonical",
         "--raw", str(raw)],
        env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _run(url: str, workdir: Path, raw: Path, run_date: str) -> str:
    process = _pipeline(url, workdir, raw, run_date)
    output = process.communicate()[0]
    assert process.returncode == 0, output[-3000:]
    return output


def _data_exports(workdir: Path, run_date: str) -> dict[str, bytes]:
    """Every data file (CSV, Parquet, PNG) under a dated folder of the exports, by path."""
    root = workdir / "exports"
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*"))
            if path.is_file() and path.suffix in DATA_SUFFIXES and run_date in path.relative_to(root).parts}


@pytest.fixture(scope="module")
def single_run(single_url, raw_dir, tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("single")
    _run(single_url, workdir, raw_dir, FIRST_DATE)
    return workdir


@pytest.fixture(scope="module")
def citus_run(citus_url, raw_dir, tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("citus")
    _run(citus_url, workdir, raw_dir, FIRST_DATE)
    return workdir


def test_exports_are_byte_identical_to_one_postgresql(single_run, citus_run):
    single, citus = _data_exports(single_run, FIRST_DATE), _data_exports(citus_run, FIRST_DATE)
    assert any(p.endswith(".parquet") for p in single) and any(p.endswith(".png") for p in single)
    assert sorted(citus) == sorted(single)
    assert [p for p in single if citus[p] != single[p]] == []


def test_up_again_changes_nothing_and_status_shows_nodes_and_shards(cluster, citus_run):
    pids = [node.pid() for node in cluster.nodes()]
    up = subprocess.run([sys.executable, "-m", "citus.cluster", "up"], cwd=PROJECT_ROOT,
                        capture_output=True, text=True, check=True)
    assert f"DATABASE_URL={cluster.database_url()}" in up.stdout
    assert [node.pid() for node in cluster.nodes()] == pids
    status = subprocess.run([sys.executable, "-m", "citus.cluster", "status"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, check=True).stdout
    for node in cluster.nodes():
        assert f"{node.name:12} {cluster.HOST}:{node.port}  running (pid {node.pid()})" in status
    assert "coordinator active" in status and status.count(" worker      active") == 2


def test_the_warehouse_is_distributed_as_designed(citus_run, citus_url):
    with psycopg.connect(citus_url) as conn:
        tables = dict(conn.execute(
            "select logicalrelid::text, case when partmethod = 'h' then 'distributed by '"
            " || column_to_column_name(logicalrelid, partkey) when repmodel = 't' then 'reference' end "
            "from pg_dist_partition where logicalrelid::text like 'warehouse.%'").fetchall())
        colocated = conn.execute("select count(distinct colocationid) from pg_dist_partition "
                                 "where partmethod = 'h' and logicalrelid::text like 'warehouse.fact_%'").fetchone()[0]
        local = conn.execute("select count(*) from pg_dist_partition where logicalrelid::text like 'marts.%' "
                             "or logicalrelid::text like 'etl.%'").fetchone()[0]
        workers_with_shards = conn.execute(
            "select count(distinct p.groupid) from pg_dist_placement p join pg_dist_shard s using (shardid) "
            "where s.logicalrelid = 'warehouse.fact_ventes'::regclass").fetchone()[0]
    for dimension in ("dim_region", "dim_magasin", "dim_produit", "dim_client", "dim_temps"):
        assert tables[f"warehouse.{dimension}"] == "reference"
    assert tables["warehouse.fact_ventes"] == "distributed by ticket_id"
    assert tables["warehouse.fact_fidelite"] == "distributed by event_id"
    partitions = [t for t in tables if t.startswith("warehouse.fact_ventes_")]
    assert len(partitions) > 12 and all(tables[t] == "distributed by ticket_id" for t in partitions)
    assert colocated == 1  # every fact table and partition in one co-location group
    assert local == 0      # aggregates, ledger and run log stay on the coordinator
    assert workers_with_shards == 2


def test_a_new_month_is_distributed_with_its_fact_table_before_it_is_attached(citus_run, citus_url):
    from etl_helpers import citus

    with psycopg.connect(citus_url) as conn:
        conn.execute("create table warehouse.fact_ventes_2030_01 (like warehouse.fact_ventes including constraints)")
        assert citus.distribute_new_partition(conn, "fact_ventes_2030_01", "fact_ventes")
        groups = conn.execute("select count(distinct colocationid) from pg_dist_partition where logicalrelid in "
                              "('warehouse.fact_ventes'::regclass, 'warehouse.fact_ventes_2030_01'::regclass)").fetchone()
        conn.execute("alter table warehouse.fact_ventes attach partition warehouse.fact_ventes_2030_01 "
                     "for values from ('2030-01-01') to ('2030-02-01')")
        conn.rollback()
    assert groups == (1,)


def test_on_one_postgresql_nothing_is_distributed(single_run, single_url):
    from etl_helpers import citus

    with psycopg.connect(single_url) as conn:
        assert not citus.is_citus(conn)
        assert citus.distribute_warehouse(conn) == []
        conn.execute("create table warehouse.fact_ventes_2030_01 (like warehouse.fact_ventes)")
        assert not citus.distribute_new_partition(conn, "fact_ventes_2030_01", "fact_ventes")
        conn.rollback()


FORBIDDEN = [
    "select count(*) from warehouse.fact_ventes",
    "select count(*) from warehouse.fact_ventes_2026_11",  # a month distributed by the load
    "select count(*) from warehouse.dim_client",
    "insert into warehouse.dim_region (region_code, region_name, population) values ('X', 'X', 1)",
    "delete from warehouse.fact_ventes",
    "delete from etl.loaded_files",
    "create table marts.sneaky (id int)",
    "delete from marts.agg_baskets",
]


def test_the_analyst_reads_the_marts_and_nothing_else_on_the_cluster(citus_run, citus_url):
    name = f"analyst_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(citus_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create role {} login in role etl_analyst").format(sql.Identifier(name)))
    try:
        with psycopg.connect(conninfo.make_conninfo(citus_url, user=name), autocommit=True) as conn:
            # views over the distributed facts and the reference dimensions, and an aggregate
            assert conn.execute("select count(*) from marts.v_sales_lines").fetchone()[0] > 40_000
            assert conn.execute("select count(*) from marts.v_stores").fetchone()[0] > 0
            assert conn.execute("select count(*) from marts.agg_sales_store_month").fetchone()[0] > 0
            for statement in FORBIDDEN:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
    finally:
        with psycopg.connect(citus_url, autocommit=True) as admin:
            admin.execute(sql.SQL("drop owned by {}").format(sql.Identifier(name)))
            admin.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))


def _ledger_and_facts(url: str) -> tuple[list, list]:
    """The ledger's current files with their counts, and the facts' rows per file."""
    with psycopg.connect(url) as conn:
        ledger = [(Path(path).name, *counts) for path, *counts in conn.execute(
            "select path, rows_read, rows_loaded, rows_rejected from etl.loaded_files where is_current "
            "order by path").fetchall()]
        facts = conn.execute(
            "select file_id, count(*) from warehouse.fact_ventes group by 1 union all "
            "select file_id, count(*) from warehouse.fact_fidelite group by 1 order by 1").fetchall()
        loaded = conn.execute("select file_id, rows_loaded from etl.loaded_files where is_current "
                              "and entity in ('sales', 'loyalty') and rows_loaded > 0 order by 1").fetchall()
    assert facts == loaded  # every file's rows are all there, or none of them
    return ledger, facts


def test_a_worker_stopped_mid_run_fails_clearly_and_the_rerun_completes_identically(
        cluster, citus_run, citus_url, single_run, single_url, raw_dir):
    before = _ledger_and_facts(citus_url)
    worker = cluster.nodes()[2]
    process = _pipeline(citus_url, citus_run, raw_dir, NEXT_DATE)
    output = []
    for line in process.stdout:  # the worker goes down as the run starts loading the new day's facts
        output.append(line)
        if "20_facts for" in line:
            cluster.stop_node(worker)
    process.wait()
    try:
        assert process.returncode == 1, "".join(output)[-3000:]
        assert f"{cluster.HOST}:{worker.port}" in "".join(output)  # the error names the node
    finally:
        cluster.start_node(worker)
    after_failure = _ledger_and_facts(citus_url)  # nothing half-written: whole files or none
    assert set(before[0]) <= set(after_failure[0])

    _run(citus_url, citus_run, raw_dir, NEXT_DATE)
    _run(single_url, single_run, raw_dir, NEXT_DATE)
    single, citus = _data_exports(single_run, NEXT_DATE), _data_exports(citus_run, NEXT_DATE)
    assert single and sorted(citus) == sorted(single)
    assert [p for p in single if citus[p] != single[p]] == []
    assert _ledger_and_facts(citus_url)[0] == _ledger_and_facts(single_url)[0]


def test_repeated_ticket_lines_go_through_staging_on_the_cluster(citus_run, citus_url, raw_dir, tmp_path):
    """A day already loaded delivered again as the next day's file (last: it adds a file to the
    cluster's ledger; the same file name elsewhere would be the same file): the COPY into the
    distributed fact table meets the keys, and the staged path refuses each line."""
    from etl_helpers.data_tests import run_data_tests
    from etl_helpers.loading.load import load_raw_folder

    later = date.fromisoformat(NEXT_DATE) + timedelta(days=1)
    copy = tmp_path / "raw" / "sales"
    copy.mkdir(parents=True)
    shutil.copy(raw_dir / "sales" / f"sales_{NEXT_DATE}.csv", copy / f"sales_{later.isoformat()}.csv")
    (tmp_path / "raw" / "format.json").write_text('{"max_reject_rate": 1}')  # every line refused, not the file
    settings = Settings(database_url=citus_url, workdir=tmp_path)
    [result] = load_raw_folder(settings, tmp_path / "raw", later, entities=["sales"])
    assert result.rows_read > 0 and result.rows_loaded == 0 and result.rows_rejected == result.rows_read
    with psycopg.connect(citus_url) as conn:
        reasons = conn.execute("select distinct reason from etl.rejected_rows where file_id = %s",
                               (result.file_id,)).fetchall()
        assert reasons == [("ticket line already loaded from another file",)]
        run_data_tests(conn)
