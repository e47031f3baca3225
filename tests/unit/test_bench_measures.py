"""What the benchmark samples: a run's kernels (forked by its kernel server) are counted as
kernels, and a local server's CPU is measured (its postmaster found while the backend lives)."""

from __future__ import annotations

import time

import psutil
import psycopg

from bench import run
from etl_helpers.kernel_server import KernelServer
from etl_helpers.kernels import WarmKernels, kernel_environment


def test_peak_memory_counts_the_forked_kernels_as_kernels(tmp_path):
    server = KernelServer(kernel_environment(), ())
    kernel = WarmKernels(tmp_path, server=server).take()
    try:
        with run.PeakMemory(interval=0.05) as memory:
            time.sleep(0.5)
    finally:
        kernel.stop()
        server.close()
    assert memory.mb["kernel_mb"] > 0


def test_server_cpu_finds_the_postmaster_of_a_local_server(server_url):
    measured = run.ServerCpu(server_url)
    assert "postgres" in psutil.Process(measured.postmasters["server"]).name()
    with psycopg.connect(server_url) as conn, measured:  # measured while the backend lives
        conn.execute("select count(*) from generate_series(1, 3000000)").fetchone()
    assert measured.seconds["server_cpu_seconds"]["server"] > 0


FACTS = """select sale_date, ticket_id, line_number, sold_at, store_id, customer_id, product_id, quantity,
                  unit_price, discount, amount, is_return
           from warehouse.fact_ventes order by sale_date, ticket_id, line_number"""
PARTITIONS = """select c.relname, pg_get_expr(c.relpartbound, c.oid)
                from pg_inherits i join pg_class c on c.oid = i.inhrelid
                where i.inhparent = 'warehouse.fact_ventes'::regclass order by 1"""


def test_the_database_share_replays_the_very_rows_and_months_our_load_writes(make_database, demo_raw_dir, tmp_path):
    share_url, load_url = make_database(), make_database()
    seconds, replayed = run.database_share(share_url, demo_raw_dir, tmp_path / "share")
    _, loaded = run.our_load(load_url, demo_raw_dir, tmp_path / "load")
    assert seconds > 0 and replayed == loaded > 0
    with psycopg.connect(share_url) as share, psycopg.connect(load_url) as load:
        for query in (FACTS, PARTITIONS):
            assert share.execute(query).fetchall() == load.execute(query).fetchall()
