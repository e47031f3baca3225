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
