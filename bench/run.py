"""The benchmark: our load against ``psql \\copy`` and the seed's pandas ``to_sql``, side by side
on the same files and server; each pipeline step and notebook (``run_pipeline.py`` in its own
process: a full run from an empty database up to ``--runs`` days before the month's end, then
one new day at a time up to it, each recomputing its month in the monthly aggregates, then
``--runs`` reruns of the month's end with nothing new, every step reused); peak memory; the
heaviest mart aggregates against DuckDB.

    .venv/bin/python -m bench.run --scale medium --scale large --runs 3 --profile wholesale

Demo data (``--profile``: the basket shape, retail or wholesale) is generated once per scale and
profile under ``bench/cache/`` (git-ignored). Results go to
``bench/results/<run date>-<scale>-<profile>.json`` and a table is printed. Uses ``DATABASE_URL`` when
set, else the embedded PostgreSQL; each measurement gets a fresh database.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import date, timedelta
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import psutil
import psycopg
from psycopg import conninfo, sql

from etl_helpers import db, warehouse
from etl_helpers.contract import ENTITIES, RawFormat, list_raw_files
from etl_helpers.loading import facts
from etl_helpers.loading.load import load_raw_folder, prepare_session
from etl_helpers.loading.shared import FileResult
from etl_helpers.settings import PROJECT_ROOT, Settings, load_settings
from etl_helpers.sources import SourceOptions, demo, demo_folder_name

BENCH_DIR = PROJECT_ROOT / "bench"
CACHE_DIR = BENCH_DIR / "cache"
RESULTS_DIR = BENCH_DIR / "results"
RUN_DATE = date(2026, 11, 30)
SEED_SLICE_LINES = 1_000_000  # the seed's method on at most this many lines (all of medium), scaled to the file
SALES_COLUMNS = ("ticket_id text, line_number int, sold_at timestamptz, store_code text, customer_code text, "
                 "product_code text, quantity int, unit_price numeric(12,2), discount numeric(5,4), "
                 "amount numeric(14,4)")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- data and databases -----------------------------------------------------------------

def demo_raw(scale: str, run_date: date = RUN_DATE, profile: str = "retail") -> Path:
    """The demo's raw files, in a cache folder per scale and profile (named as the demo source
    names its folders: ``medium-seed42``, ``medium-seed42-wholesale``)."""
    raw = CACHE_DIR / demo_folder_name(SourceOptions(scale=scale, seed=42, profile=profile))
    started = time.perf_counter()
    demo.generate(raw, run_date, scale=scale, seed=42, profile=profile)
    log(f"demo {profile} {scale} ready in {time.perf_counter() - started:.1f} s ({raw})")
    return raw


def all_sales_csv(raw: Path, scale: str) -> Path:
    """Every daily sales file concatenated without headers: the \\copy reference input."""
    target = CACHE_DIR / f"{scale}-sales-all.csv"
    if not target.exists():
        with target.open("wb") as out:
            for f in list_raw_files(raw, RUN_DATE):
                if f.entity.name == "sales":
                    with f.path.open("rb") as src:
                        src.readline()
                        shutil.copyfileobj(src, out)
    return target


CITUS = False  # --target citus: the local Citus cluster (make citus-up) instead of one server


def _create_database(admin_url: str, name: str) -> str:
    if CITUS:  # on every node, with the citus extension and the workers registered
        from citus import cluster

        return cluster.create_database(name)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return conninfo.make_conninfo(admin_url, dbname=name)


def _drop_database(admin_url: str, name: str) -> None:
    if CITUS:
        from citus import cluster

        return cluster.drop_database(name)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@contextmanager
def fresh_database(admin_url: str):
    """A new database for one measurement, which starts with the previous one's writes flushed
    (the server's checkpoint, the system's dirty pages), so that it does not pay for them."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    url = _create_database(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        try:
            admin.execute("checkpoint")
        except psycopg.errors.InsufficientPrivilege:
            pass  # a server we may not checkpoint: measured as it is
    os.sync()
    try:
        yield url
    finally:
        _drop_database(admin_url, name)


def _plan_nodes(plan: dict):
    """Every node of an EXPLAIN (format json) plan, Citus' distributed subplans and tasks included."""
    yield plan
    for value in plan.values():
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, dict):
                yield from _plan_nodes(child)


def distributed_plans(url: str) -> dict[str, str]:
    """On Citus, how each aggregate's query over the facts runs (``EXPLAIN``, a rebuild): the
    top plan node and the number of tasks it sends to the workers (pushed down: one per shard)."""
    from etl_helpers import aggregates

    plans = {}
    with psycopg.connect(url) as conn:
        for aggregate in aggregates.AGGREGATES:
            plan = conn.execute(sql.SQL("explain (format json) ") + sql.SQL(aggregate.query()),  # type: ignore[arg-type]
                                {"dates": None}).fetchone()[0][0]["Plan"]
            tasks = [node["Distributed Query"]["Job"]["Task Count"] for node in _plan_nodes(plan)
                     if "Task Count" in node.get("Distributed Query", {}).get("Job", {})]
            plans[aggregate.name] = (f"distributed: {len(tasks)} step(s) pushed down to the workers, up to "
                                     f"{max(tasks)} tasks (one per shard)" if tasks
                                     else "on the coordinator: reads other aggregates")
    return plans


def psql_binary() -> str:
    import pgserver

    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
    return str(bundled) if bundled.exists() else "psql"


# --- memory -------------------------------------------------------------------------------

class PeakMemory:
    """Samples the resident memory of a process tree: the process itself (this one by default)
    and, apart, its notebook kernels (the run's kernel server and the kernels it forked, or
    kernels started on their own)."""

    def __init__(self, pid: int | None = None, interval: float = 0.2):
        self.pid, self.interval, self.me, self.kernels = pid, interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        process = psutil.Process(self.pid)
        while not self._stop.is_set():
            try:
                self.me = max(self.me, process.memory_info().rss)
                for child in process.children(recursive=True):
                    if re.search(r"ipykernel|etl_helpers\.kernel_server", " ".join(child.cmdline())):
                        self.kernels = max(self.kernels, child.memory_info().rss)
                    else:
                        self.me = max(self.me, child.memory_info().rss)
            except psutil.Error:
                pass
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def mb(self) -> dict:
        return {"pipeline_process_mb": round(self.me / 2**20), "kernel_mb": round(self.kernels / 2**20)}


class ServerCpu:
    """The CPU seconds each database server spent meanwhile: every process of its postmaster,
    the ones that ended included (their time is added to the postmaster's children's). On
    Citus, per node (the coordinator and each worker); else the one server of ``url``."""

    def __init__(self, url: str):
        if CITUS:
            from citus import cluster

            self.postmasters = {node.name: node.pid() for node in cluster.nodes()}
        else:
            with psycopg.connect(url) as conn:  # the backend's parent, while the backend lives
                backend = db.scalar(conn, "select pg_backend_pid()")
                try:
                    self.postmasters = {"server": psutil.Process(backend).ppid()}
                except psutil.Error:  # a server on another machine: not measured
                    self.postmasters = {}
        self.seconds: dict = {}

    @staticmethod
    def _total(pid: int | None) -> float:
        if pid is None:
            return 0.0
        postmaster = psutil.Process(pid)
        times = postmaster.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in postmaster.children():
            try:
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
            except psutil.Error:  # ended meanwhile: counted in the postmaster's children's time
                pass
        return total

    def __enter__(self):
        self._start = {name: self._total(pid) for name, pid in self.postmasters.items()}
        return self

    def __exit__(self, *exc):
        self.seconds = {"server_cpu_seconds": {name: round(self._total(pid) - self._start[name], 1)
                                               for name, pid in self.postmasters.items()}}


# --- measurements ---------------------------------------------------------------------------

def time_psql_copy(url: str, csv_path: Path) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"create table bare_sales ({SALES_COLUMNS})")
    env = {**os.environ, "PGOPTIONS": ""}
    started = time.perf_counter()
    subprocess.run([psql_binary(), url, "-q", "-c", f"\\copy bare_sales from '{csv_path}' (format csv)"],
                   check=True, env=env)
    return time.perf_counter() - started


def in_own_process(function, *args):
    """``function(*args)`` in a new process (its peak memory is its own), with that peak
    resident memory in MB appended to what it returns."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as process:
        return process.submit(_with_peak_memory, function, *args).result()


def _with_peak_memory(function, *args) -> tuple:
    return (*function(*args), peak_rss_mb())


def peak_rss_mb() -> int:
    """This process's peak resident memory: VmHWM, the high-water mark of its own address space.
    (ru_maxrss would do elsewhere, but on Linux it keeps the parent's resident size from the fork
    that started this process, the benchmark's own.)"""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _with_dimensions(url: str, raw: Path, workdir: Path) -> Settings:
    """The pipeline's schema in the database of ``url``, its dimensions loaded from ``raw``."""
    settings = Settings(database_url=url, workdir=workdir)
    warehouse.create_schema(settings)
    warehouse.load_dimensions(RUN_DATE, "canonical", SourceOptions(raw=raw), settings)
    return settings


def our_load(url: str, raw: Path, workdir: Path) -> tuple[float, int]:
    """Our load of every ticket-line file: its seconds and the rows loaded."""
    settings = _with_dimensions(url, raw, workdir)
    started = time.perf_counter()
    results = load_raw_folder(settings, raw, RUN_DATE, entities=["sales"], progress=False)
    return time.perf_counter() - started, sum(r.rows_loaded for r in results)


def database_share(url: str, raw: Path, workdir: Path) -> tuple[float, int]:
    """The database's own part of our load of every ticket-line file, alone: the COPY blocks
    and month attachments the loader sends (read, checked and encoded first, by the loader's
    own functions, and held in memory), replayed in one transaction with nothing else to wait
    for. Our load cannot take less than this, however fast the rest of it: its seconds and
    the rows replayed."""
    settings = _with_dimensions(url, raw, workdir)
    sales = [f for f in list_raw_files(raw, RUN_DATE) if f.entity.name == "sales"]
    todo = [(f, FileResult(str(f.path), "sales", f.business_date.isoformat(), "loaded", file_id=number))
            for number, f in enumerate(sales, 1)]  # no file is registered: fact rows name theirs by number only
    with db.connection(settings) as conn:
        prepare_session(conn)
        with tempfile.TemporaryFile("w+") as reject_spool:
            files = facts.EventFiles(ENTITIES["sales"], todo, RawFormat.read(raw), RUN_DATE, reject_spool, False)
            encoded = list(facts.fact_blocks(conn, facts.Dimensions.read(conn), files))
        started = time.perf_counter()
        facts.write_facts(conn, "sales", encoded)
        conn.commit()
        return time.perf_counter() - started, sum(result.rows_loaded for _, result in todo)


def seed_method(url: str, csv_path: Path) -> tuple[float, int]:
    """The seed project's way, both halves timed: pandas.read_csv, then DataFrame.to_sql, of
    the first SEED_SLICE_LINES lines (the caller scales the time to the whole file)."""
    import pandas as pd
    names = [c.split()[0] for c in SALES_COLUMNS.split(", ")]
    engine = db.engine(url=url)
    started = time.perf_counter()
    frame = pd.read_csv(csv_path, names=names, nrows=SEED_SLICE_LINES)
    frame.to_sql("seed_sales", engine, index=False, if_exists="replace")
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, len(frame)


BIG_FILE_DAYS = 350  # the big file's lines are the last days' ticket lines: within max_event_age_days of its date


def big_sales_raw(gigabytes: float, source_scale: str = "medium") -> Path:
    """A raw folder whose sales are one file of about ``gigabytes`` GB, dated the run date: the
    demo's ticket lines of its last ``BIG_FILE_DAYS`` days, each day's lines written again and
    again (a ticket's copies get the suffix ``-<copy>``, so every key stays unique), day after
    day; the reference snapshots are the demo's. Generated once into ``bench/cache/``."""
    source = demo_raw(source_scale)
    raw = CACHE_DIR / f"big-{gigabytes:g}gb-sales"
    target = raw / "sales" / f"sales_{RUN_DATE}.csv"
    if target.exists():
        return raw
    shutil.rmtree(raw, ignore_errors=True)
    (raw / "sales").mkdir(parents=True)
    for entry in source.iterdir():
        if entry.name != "sales":
            (raw / entry.name).symlink_to(entry.resolve())
    first_day = RUN_DATE - timedelta(days=BIG_FILE_DAYS)
    days = [f.path for f in list_raw_files(source, RUN_DATE)
            if f.entity.name == "sales" and f.business_date > first_day]
    header, bodies = b"", []
    for path in days:
        header, _, body = path.read_bytes().partition(b"\n")
        bodies.append(body.rstrip(b"\n").split(b"\n") if body.strip() else [])
    copies = max(1, round(gigabytes * 2**30 / sum(len(b"\n".join(lines)) + 1 for lines in bodies)))
    started = time.perf_counter()
    with (tmp := target.with_name(f".{target.name}.part")).open("wb") as out:  # the loader skips dot files
        out.write(header + b"\n")
        for lines in bodies:
            if not lines:
                continue
            out.write(b"\n".join(lines) + b"\n")
            for copy in range(1, copies):
                suffix = b"-%d," % copy
                out.write(b"\n".join(line.replace(b",", suffix, 1) for line in lines) + b"\n")
    tmp.rename(target)
    log(f"big file: {target.stat().st_size / 2**30:.2f} GB ({copies} copies of {len(days)} days) "
        f"in {time.perf_counter() - started:.0f} s")
    return raw


def bench_big_file(admin_url: str, gigabytes: float) -> dict:
    """Our load of one ~``gigabytes`` GB sales file, in its own process: its rows/s and peak RSS."""
    raw = big_sales_raw(gigabytes)
    path = next((raw / "sales").glob("*.csv"))
    with fresh_database(admin_url) as url:
        seconds, loaded, peak_mb = in_own_process(our_load, url, raw, CACHE_DIR / "work-big")
    return {"file_gb": round(path.stat().st_size / 2**30, 2), "rows_loaded": loaded, "seconds": round(seconds, 1),
            "rows_per_second": round(loaded / seconds), "loader_peak_rss_mb": peak_mb}


def run_pipeline(url: str, raw: Path, workdir: Path, run_date: date) -> tuple[dict, dict, list[str]]:
    """``run_pipeline.py`` for one date, as a user runs it (a new process: its imports and
    notebook start-ups count); returns each step's seconds (its manifest: 0 for a reused step),
    peak memory and the steps it reused."""
    env = {**os.environ, "DATABASE_URL": url, "ETL_WORKDIR": str(workdir)}
    command = [sys.executable, str(PROJECT_ROOT / "run_pipeline.py"), "--date", run_date.isoformat(),
               "--source", "canonical", "--raw", str(raw), "--log-level", "WARNING"]
    process = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT)
    with PeakMemory(process.pid) as memory, ServerCpu(url) as cpu:
        if process.wait() != 0:
            raise RuntimeError(f"run_pipeline.py --date {run_date} failed (exit code {process.returncode})")
    manifest = json.loads((workdir / "exports" / "pipeline" / run_date.isoformat() / "manifest.json").read_text())
    reused = [step["notebook"] for step in manifest["steps"] if step["status"] == "reused"]
    return {step["notebook"]: step["seconds"] for step in manifest["steps"]}, memory.mb | cpu.seconds, reused


HEAVY_AGGREGATES = ("sales_by_store_month", "product_pairs", "rfm_trailing_year")


def time_heavy_aggregates_postgres(url: str, run_date: date, runs: int) -> dict[str, list[float]]:
    """The heaviest mart aggregates as the marts compute them: in PostgreSQL, except the product
    pairs, whose baskets are streamed out of it once and counted in numpy (etl_helpers.marts.rules)."""
    from etl_helpers import marts
    from etl_helpers.marts import rules

    calls = {
        "sales_by_store_month": lambda conn: marts.compute(conn, "sales_by_store_month", run_date),
        "product_pairs": lambda conn: rules.count_basket_itemsets(conn, run_date, level="product", window_days=365,
                                                                  min_support=0.01, max_len=2),
        "rfm_trailing_year": lambda conn: marts.compute(conn, "rfm_customers", run_date),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    with psycopg.connect(url) as conn:
        for _ in range(runs):
            for name, call in calls.items():
                started = time.perf_counter()
                call(conn)
                times[name].append(time.perf_counter() - started)
                conn.rollback()
    return times


def time_aggregate_refresh(url: str, runs: int) -> dict[str, list[float]]:
    """The refresh the heavy aggregates cost the pipeline (etl_helpers.aggregates, step 30_views,
    two at a time as there): a full rebuild (as on a first run, measured once), and ``runs``
    incremental refreshes of the last day loaded (its files' dates recomputed, as in a daily run)."""
    from etl_helpers import aggregates

    times: dict[str, list[float]] = {"full": [], "one_day": []}
    with psycopg.connect(url) as conn:
        for run in range(runs):
            if run == 0:  # a full rebuild once: it is the first run's cost, minutes at large
                conn.execute("truncate etl.aggregate_refreshes")
                conn.commit()  # the refreshing sessions write to it
                started = time.perf_counter()
                aggregates.refresh(conn, connect=partial(psycopg.connect, url))
                conn.commit()
                times["full"].append(time.perf_counter() - started)
            conn.execute("""
                update etl.aggregate_refreshes set last_file_id = (
                    select min(file_id) - 1 from etl.loaded_files
                    where business_date = (select max(business_date) from etl.loaded_files))""")
            conn.commit()
            started = time.perf_counter()
            aggregates.refresh(conn, connect=partial(psycopg.connect, url))
            conn.commit()
            times["one_day"].append(time.perf_counter() - started)
    return times


def time_heavy_aggregates_duckdb(raw: Path, run_date: date, runs: int) -> dict[str, list[float]]:
    """The same aggregates in DuckDB over the same raw files (the sale date is the local date
    the demo writes with its Europe/Paris offset). DuckDB is a benchmark-only dependency."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"""
        create table sales as
        select *, cast(left(sold_at, 10) as date) as sale_date
        from read_csv('{raw / "sales"}/*.csv', header = true, all_varchar = false,
                      types = {{'customer_code': 'VARCHAR', 'sold_at': 'VARCHAR'}})
    """)
    day = run_date.isoformat()
    queries = {
        "sales_by_store_month": f"""
            select store_code, date_trunc('month', sale_date) as month, sum(quantity), sum(amount),
                   count(distinct ticket_id) filter (where quantity > 0)
            from sales where sale_date <= date '{day}' group by all""",
        "product_pairs": f"""
            with lines as (
                select distinct ticket_id, product_code from sales
                where sale_date > date '{day}' - 365 and sale_date <= date '{day}' and quantity > 0),
            baskets as (select count(distinct ticket_id) as n from lines),
            frequent as (
                select product_code from lines group by product_code
                having count(*) >= (select ceil(0.01 * n) from baskets)),
            kept as (select * from lines where product_code in (select product_code from frequent))
            select a.product_code, b.product_code, count(*) as baskets
            from kept a join kept b on a.ticket_id = b.ticket_id and a.product_code < b.product_code
            group by all having count(*) >= (select ceil(0.01 * n) from baskets)""",
        "rfm_trailing_year": f"""
            with per_customer as (
                select customer_code, date '{day}' - max(sale_date) as recency,
                       count(distinct ticket_id) filter (where sale_date > date '{day}' - 365) as frequency,
                       sum(amount) filter (where sale_date > date '{day}' - 365) as monetary
                from sales where customer_code is not null and sale_date <= date '{day}' group by all)
            select *, ntile(5) over (order by recency desc) as r, ntile(5) over (order by frequency) as f,
                   ntile(5) over (order by monetary) as m
            from per_customer""",
    }
    times: dict[str, list[float]] = {name: [] for name in queries}
    for _ in range(runs):
        for name, query in queries.items():
            started = time.perf_counter()
            con.execute(query).fetchall()
            times[name].append(time.perf_counter() - started)
    return times


def bench_scale(scale: str, admin_url: str, runs: int, with_pipeline: bool, profile: str = "retail") -> dict:
    raw = demo_raw(scale, profile=profile)
    csv_path = all_sales_csv(raw, scale if profile == "retail" else f"{scale}-{profile}")
    lines = sum(1 for _ in csv_path.open("rb"))
    result: dict = {"scale": scale, "profile": profile, "ticket_lines": lines, "runs": runs, "load": {},
                    "pipeline": {}}
    copy_times, our_times, seed_times, memories, seed_memories, share_times = [], [], [], [], [], []
    for run in range(runs):
        log(f"{scale}: load run {run + 1}/{runs}")
        with fresh_database(admin_url) as url:
            copy_times.append(time_psql_copy(url, csv_path))
            seed_seconds, seed_rows, seed_peak_mb = in_own_process(seed_method, url, csv_path)
            seed_times.append(seed_seconds * lines / seed_rows)
            seed_memories.append(seed_peak_mb)
        with fresh_database(admin_url) as url:
            seconds, loaded, peak_mb = in_own_process(our_load, url, raw, CACHE_DIR / "work")
            our_times.append(seconds)
            memories.append(peak_mb)
        with fresh_database(admin_url) as url:
            share_times.append(in_own_process(database_share, url, raw, CACHE_DIR / "work")[0])
    copy_s, ours_s, seed_s, share_s = (statistics.median(t) for t in (copy_times, our_times, seed_times, share_times))
    result["load"] = {
        "psql_copy_seconds": copy_times, "ours_seconds": our_times, "seed_to_sql_seconds_scaled": seed_times,
        "seed_slice_lines": min(SEED_SLICE_LINES, lines),
        "median_rows_per_second": {"psql_copy": round(lines / copy_s), "ours": round(lines / ours_s),
                                   "seed_to_sql": round(lines / seed_s)},
        "ours_vs_copy_throughput": round(copy_s / ours_s, 3),
        # the database's part of our load alone, and the most our load could reach against \copy with it
        "database_share_seconds": share_times,
        "database_share_vs_copy_throughput": round(copy_s / share_s, 3),
        "ours_vs_seed_speedup": round(seed_s / ours_s, 1),
        "loader_peak_rss_mb": memories,  # per run
        "seed_peak_rss_mb": seed_memories,
    }
    if with_pipeline:
        log(f"{scale}: full pipeline from an empty database, as of {RUN_DATE - timedelta(days=runs)}")
        with fresh_database(admin_url) as url:
            workdir = CACHE_DIR / f"work-{raw.name}"
            shutil.rmtree(workdir, ignore_errors=True)
            started = time.perf_counter()
            steps, memory, _ = run_pipeline(url, raw, workdir, RUN_DATE - timedelta(days=runs))
            full = time.perf_counter() - started
            incremental_times, incremental_runs = [], []
            for days in range(runs - 1, -1, -1):  # then one new day at a time, up to the month's end
                next_day = RUN_DATE - timedelta(days=days)
                log(f"{scale}: incremental run for {next_day}")
                started = time.perf_counter()
                incremental_runs.append(run_pipeline(url, raw, workdir, next_day))
                incremental_times.append(time.perf_counter() - started)
            incremental = statistics.median(incremental_times)
            middle = sorted(range(runs), key=lambda i: incremental_times[i])[runs // 2]
            incremental_steps, incremental_memory, _ = incremental_runs[middle]
            rerun_times, rerun_reused = [], []
            for run in range(runs):  # the month's end again, nothing new: every step reused
                log(f"{scale}: rerun {run + 1}/{runs} of {RUN_DATE}, nothing new")
                started = time.perf_counter()
                _, rerun_memory, reused = run_pipeline(url, raw, workdir, RUN_DATE)
                rerun_times.append(time.perf_counter() - started)
                rerun_reused.append(len(reused))
            log(f"{scale}: heavy aggregates, PostgreSQL against DuckDB")
            ours = time_heavy_aggregates_postgres(url, RUN_DATE, runs)
            log(f"{scale}: aggregate refresh, full and one day")
            refresh = time_aggregate_refresh(url, runs)
            if CITUS:
                result["distributed_plans"] = distributed_plans(url)
        duck = time_heavy_aggregates_duckdb(raw, RUN_DATE, runs)
        result["heavy_aggregates"] = {
            name: {"postgres_seconds": ours[name], "duckdb_seconds": duck[name],
                   "ratio_ours_over_duckdb": round(statistics.median(ours[name]) / statistics.median(duck[name]), 1)}
            for name in HEAVY_AGGREGATES}
        result["aggregate_refresh_seconds"] = refresh
        result["pipeline"] = {"full_seconds": round(full, 1), "full_steps": steps, "full_memory": memory,
                              "incremental_seconds": round(incremental, 1),
                              "incremental_runs_seconds": [round(t, 1) for t in incremental_times],
                              "incremental_steps": incremental_steps, "incremental_memory": incremental_memory,
                              "rerun_seconds": round(statistics.median(rerun_times), 1),
                              "rerun_runs_seconds": [round(t, 1) for t in rerun_times],
                              "rerun_steps_reused": rerun_reused, "rerun_steps": len(steps),
                              "rerun_memory": rerun_memory}
    return result


def print_table(result: dict) -> None:
    load = result["load"]
    rps = load["median_rows_per_second"]
    print(f"\n== {result['scale']} {result.get('profile', 'retail')}: {result['ticket_lines']:,} ticket lines, "
          f"medians of {result['runs']} runs ==")
    print(f"{'method':<28}{'rows/s':>12}")
    for name in ("psql_copy", "ours", "seed_to_sql"):
        print(f"{name:<28}{rps[name]:>12,}")
    print(f"(seed_to_sql: read_csv + to_sql of {load['seed_slice_lines']:,} lines, scaled to the file's "
          f"{result['ticket_lines']:,})")
    print(f"ours / \\copy throughput: {load['ours_vs_copy_throughput']:.0%}   "
          f"ours vs seed: {load['ours_vs_seed_speedup']}x")
    print(f"the database's share of our load alone: {statistics.median(load['database_share_seconds']):.2f} s, "
          f"{load['database_share_vs_copy_throughput']:.0%} of \\copy's throughput (the most our load can reach)")
    print(f"peak RSS (median, max of the runs): ours {statistics.median(load['loader_peak_rss_mb']):.0f}, "
          f"{max(load['loader_peak_rss_mb'])} MB; seed {statistics.median(load['seed_peak_rss_mb']):.0f}, "
          f"{max(load['seed_peak_rss_mb'])} MB")
    if result.get("pipeline"):
        p = result["pipeline"]
        print(f"full pipeline: {p['full_seconds']} s  (peak: {p['full_memory']})")
        for step, seconds in p["full_steps"].items():
            print(f"  {step:<30}{seconds:>8} s   incremental {p['incremental_steps'].get(step)} s")
        print(f"incremental one-day run: {p['incremental_seconds']} s (median of {p['incremental_runs_seconds']}; "
              f"steps above from the median run; peak: {p['incremental_memory']})")
        if "rerun_seconds" in p:
            print(f"rerun with nothing new: {p['rerun_seconds']} s (median of {p['rerun_runs_seconds']}; steps reused "
                  f"{p['rerun_steps_reused']} of {p['rerun_steps']}; peak: {p['rerun_memory']})")
    for name, figures in result.get("heavy_aggregates", {}).items():
        print(f"{name:<24} ours {statistics.median(figures['postgres_seconds']):7.2f} s   "
              f"DuckDB {statistics.median(figures['duckdb_seconds']):7.2f} s   "
              f"ours / DuckDB {figures['ratio_ours_over_duckdb']}x")
    for kind, seconds in result.get("aggregate_refresh_seconds", {}).items():
        print(f"aggregate refresh, {kind:<11} {statistics.median(seconds):7.2f} s   (step 30_views, once per run)")
    for name, plan in result.get("distributed_plans", {}).items():
        print(f"EXPLAIN {name:<26} {plan}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", action="append", choices=("small", "medium", "large"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", choices=demo.PROFILE_NAMES, default="retail",
                        help="the demo's basket shape (retail: ~5 lines per ticket, wholesale: ~25)")
    parser.add_argument("--no-pipeline", action="store_true", help="measure the load only")
    parser.add_argument("--target", choices=("server", "citus"), default="server",
                        help="one server (DATABASE_URL, else the embedded one), or the local Citus cluster "
                             "(make citus-up): results then go to bench/results/<date>-<scale>-<profile>-citus.json")
    parser.add_argument("--big-file-gb", type=float, default=0, help="also load one sales file of this many GB")
    args = parser.parse_args(argv)
    global CITUS
    CITUS = args.target == "citus"
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    if CITUS:
        from citus import cluster

        admin_url = cluster.database_url("postgres")
    else:
        admin_url = db.database_url(load_settings())
    machine = {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30),
               "server_version": psycopg.connect(admin_url).execute("show server_version").fetchone()[0]}
    for scale in args.scale or ["medium"]:
        result = bench_scale(scale, admin_url, args.runs, not args.no_pipeline, args.profile) | {"machine": machine}
        name = f"{RUN_DATE}-{scale}-{args.profile}{'-citus' if CITUS else ''}.json"
        (RESULTS_DIR / name).write_text(json.dumps(result, indent=2) + "\n")
        print_table(result)
    if args.big_file_gb:
        log(f"one sales file of {args.big_file_gb:g} GB")
        big = bench_big_file(admin_url, args.big_file_gb) | {"machine": machine}
        (RESULTS_DIR / f"{RUN_DATE}-big-file-{args.big_file_gb:g}gb.json").write_text(json.dumps(big, indent=2) + "\n")
        print(f"\n== one sales file of {big['file_gb']} GB: {big['rows_loaded']:,} rows in {big['seconds']} s "
              f"({big['rows_per_second']:,} rows/s), loader peak RSS {big['loader_peak_rss_mb']} MB ==")
    return 0


if __name__ == "__main__":
    sys.exit(main())
