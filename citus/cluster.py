"""A Citus cluster on this machine: a coordinator and two workers on localhost.

    .venv/bin/python -m citus.cluster up        # build once, start, print DATABASE_URL
    .venv/bin/python -m citus.cluster status    # nodes and shards
    .venv/bin/python -m citus.cluster down      # stop every node, by its pid
    .venv/bin/python -m citus.cluster stop worker2 / start worker2   # one node (fault tests)

Citus is built once from ``../shared/vendor/citus-<version>.tar.gz`` against a copy of the
PostgreSQL that the ``pgserver`` wheel ships (the environment's own copy is never modified),
all under ``.citus/`` (git-ignored): ``pginstall/`` (PostgreSQL + Citus), ``nodes/<node>/``
(data folders), ``cluster.json`` (the ports). PostgreSQL refuses to run as root: as root the
nodes run as the ``postgres`` user, who owns their data folders.

Ports: ``CITUS_PORT`` (default 9700) and the next two, chosen when the nodes are created;
``CITUS_DATABASE`` (default ``etl``) is the pipeline's database, with the ``citus``
extension on every node.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from etl_helpers.settings import PROJECT_ROOT
from etl_helpers.writing import sha256_of, write_text_atomic

log = logging.getLogger("citus.cluster")

CITUS_VERSION = "13.2.2"
VENDOR_DIR = Path(os.environ.get("CITUS_VENDOR_DIR") or PROJECT_ROOT.parent / "shared" / "vendor")
SOURCE = VENDOR_DIR / f"citus-{CITUS_VERSION}.tar.gz"
HOME = Path(os.environ.get("CITUS_HOME") or PROJECT_ROOT / ".citus")
PGINSTALL = HOME / "pginstall"
BUILD_STAMP = PGINSTALL / ".citus-build"
NODES_DIR = HOME / "nodes"
STATE_FILE = HOME / "cluster.json"
HOST = "127.0.0.1"
NODE_NAMES = ("coordinator", "worker1", "worker2")
RUN_AS = "postgres"  # when started as root
NODE_SETTINGS = {
    "shared_preload_libraries": "'citus'",
    "listen_addresses": f"'{HOST}'",
    "unix_socket_directories": "''",
    "max_connections": "200",
    "shared_buffers": "128MB",
    "citus.shard_count": "8",  # a small cluster: 4 shards per worker are enough and cost less to plan
}


class ClusterError(RuntimeError):
    """Something the user can fix: the message says what."""


@dataclass(frozen=True)
class Node:
    name: str
    port: int

    @property
    def data_dir(self) -> Path:
        return NODES_DIR / self.name

    @property
    def log_file(self) -> Path:
        return NODES_DIR / f"{self.name}.log"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/{database}"

    def pid(self) -> int | None:
        """The postmaster's pid if it runs (from ``postmaster.pid``), else None."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, IndexError, ValueError, ProcessLookupError):
            return None
        except PermissionError:
            return pid


# --- build ------------------------------------------------------------------------------------

def _pgserver_install() -> Path:
    import warnings

    with warnings.catch_warnings():  # platformdirs, imported by pgserver, warns without XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        import pgserver

    return Path(pgserver.__file__).parent / "pginstall"


def build() -> Path:
    """PostgreSQL with Citus in ``.citus/pginstall`` (built once; a finished build is stamped
    with the source's sha256 and reused)."""
    if not SOURCE.is_file():
        raise ClusterError(f"Citus source not found: {SOURCE} (the shared folder beside the checkout, "
                           "../shared/vendor; CITUS_VENDOR_DIR points elsewhere)")
    stamp = f"citus {CITUS_VERSION} {sha256_of(SOURCE)}"
    if BUILD_STAMP.is_file() and BUILD_STAMP.read_text().strip() == stamp:
        return PGINSTALL
    missing = [tool for tool in ("gcc", "make") if shutil.which(tool) is None]
    if missing:
        raise ClusterError(f"cannot build Citus: {' and '.join(missing)} not found "
                           "(Debian: apt-get install -y gcc make libzstd-dev liblz4-dev)")
    log.info("building Citus %s into %s (about a minute on 2 cores)", CITUS_VERSION, PGINSTALL)
    shutil.rmtree(PGINSTALL, ignore_errors=True)  # an unfinished build
    HOME.mkdir(parents=True, exist_ok=True)
    shutil.copytree(_pgserver_install(), PGINSTALL, symlinks=True)
    # its client tools link the wheel's own libpq (in ``pgserver.libs``), found on LD_LIBRARY_PATH
    for library in (_pgserver_install().parent.parent / "pgserver.libs").glob("*.so*"):
        shutil.copy2(library, PGINSTALL / "lib" / library.name)
    options = ["--without-libcurl"]
    if not Path("/usr/include/zstd.h").exists():
        options.append("--without-zstd")
    if not Path("/usr/include/lz4.h").exists():
        options.append("--without-lz4")
    with tempfile.TemporaryDirectory(prefix="citus-build-", dir=HOME) as build_dir:
        with tarfile.open(SOURCE) as archive:
            archive.extractall(build_dir, filter="data")
        source_dir = Path(build_dir) / f"citus-{CITUS_VERSION}"
        env = {**os.environ, "PG_CONFIG": str(PGINSTALL / "bin" / "pg_config")}
        for command in (["./configure", *options], ["make", "-j2"], ["make", "install"]):
            done = subprocess.run(command, cwd=source_dir, env=env, capture_output=True, text=True)
            if done.returncode:
                tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
                raise ClusterError(f"building Citus failed at `{' '.join(command)}`:\n{tail}")
    write_text_atomic(BUILD_STAMP, stamp + "\n")
    log.info("Citus built")
    return PGINSTALL


# --- nodes ------------------------------------------------------------------------------------

def _as_node_user() -> list[str]:
    return ["runuser", "-u", RUN_AS, "--"] if os.geteuid() == 0 else []


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "LD_LIBRARY_PATH": str(PGINSTALL / "lib")}
    return subprocess.run(_as_node_user() + command, env=env, cwd=HOME, capture_output=True, text=True, **kwargs)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
            return True
        except OSError:
            return False


def nodes() -> list[Node]:
    """The cluster's nodes with their ports (from ``cluster.json``, else from ``CITUS_PORT``)."""
    if STATE_FILE.is_file():
        ports = json.loads(STATE_FILE.read_text())["ports"]
        return [Node(name, ports[name]) for name in NODE_NAMES]
    base = int(os.environ.get("CITUS_PORT") or 9700)
    return [Node(name, base + i) for i, name in enumerate(NODE_NAMES)]


def database_name() -> str:
    if STATE_FILE.is_file():
        return json.loads(STATE_FILE.read_text())["database"]
    return os.environ.get("CITUS_DATABASE") or "etl"


def database_url(database: str | None = None) -> str:
    """The coordinator's URL: what ``DATABASE_URL`` is set to."""
    return nodes()[0].url(database or database_name())


def _init_node(node: Node) -> None:
    if (node.data_dir / "PG_VERSION").exists():
        return
    NODES_DIR.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        user = pwd.getpwnam(RUN_AS)
        os.chown(NODES_DIR, user.pw_uid, user.pw_gid)
    # as the embedded server is initialised (pgserver): same encoding, the environment's locale
    done = _run([str(PGINSTALL / "bin" / "initdb"), "--auth=trust", "--auth-local=trust", "--encoding=utf8",
                 "-U", "postgres", "-D", str(node.data_dir)])
    if done.returncode:
        raise ClusterError(f"initdb of {node.name} failed:\n{done.stderr.strip()}")
    with (node.data_dir / "postgresql.conf").open("a") as conf:
        conf.write("\n# Citus node (citus/cluster.py)\n")
        conf.writelines(f"{key} = {value}\n" for key, value in NODE_SETTINGS.items())
        conf.write(f"port = {node.port}\n")
    log.info("initialised %s in %s", node.name, node.data_dir)


def start_node(node: Node) -> None:
    """Start one node (nothing if it runs); a port another process holds is an error."""
    if node.pid():
        return
    if not _port_free(node.port):
        raise ClusterError(f"port {node.port} ({node.name}) is in use by another process: stop it, or choose "
                           f"other ports with CITUS_PORT=<base> after `make citus-down && rm -rf {NODES_DIR} "
                           f"{STATE_FILE}`")
    done = _run([str(PGINSTALL / "bin" / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(node.data_dir),
                 "-l", str(node.log_file)])
    if done.returncode:
        log_tail = node.log_file.read_text(errors="replace").splitlines()[-10:] if node.log_file.exists() else []
        raise ClusterError(f"{node.name} did not start on port {node.port}:\n" + "\n".join(log_tail))
    log.info("%s runs on %s:%d (pid %s)", node.name, HOST, node.port, node.pid())


def stop_node(node: Node, timeout: float = 60) -> None:
    """Stop one node by its pid (a fast shutdown: sessions are ended, nothing is lost)."""
    pid = node.pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while node.pid() == pid and time.monotonic() < deadline:
        time.sleep(0.1)
    if node.pid() == pid:
        raise ClusterError(f"{node.name} (pid {pid}) did not stop within {timeout:.0f}s")
    log.info("%s stopped (pid %d)", node.name, pid)


def create_database(database: str) -> str:
    """The database on every node with the ``citus`` extension, the workers registered in it
    (Citus keeps its metadata per database); returns the coordinator's URL. Idempotent."""
    coordinator, *workers = nodes()
    for node in (coordinator, *workers):
        with psycopg.connect(node.url("postgres"), autocommit=True) as admin:
            if not admin.execute("select 1 from pg_database where datname = %s", (database,)).fetchone():
                admin.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
        with psycopg.connect(node.url(database), autocommit=True) as conn:
            conn.execute("create extension if not exists citus")
    with psycopg.connect(coordinator.url(database), autocommit=True) as conn:
        # the coordinator in the metadata: it holds a copy of the reference tables, so the
        # tables local to it (ledger, aggregates) join the dimensions there
        conn.execute("select citus_set_coordinator_host(%s, %s)", (HOST, coordinator.port))
        registered = {port for (port,) in conn.execute("select nodeport from pg_dist_node").fetchall()}
        for worker in workers:
            if worker.port not in registered:
                conn.execute("select citus_add_node(%s, %s)", (HOST, worker.port))
    return coordinator.url(database)


def drop_database(database: str) -> None:
    """Drop a database from every node (tests' throw-away databases)."""
    for node in reversed(nodes()):
        with psycopg.connect(node.url("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database)))


def up() -> str:
    """Build if needed, initialise and start every node, create the pipeline's database;
    returns its URL."""
    build()
    cluster = nodes()
    database = database_name()
    for node in cluster:
        _init_node(node)
    write_text_atomic(STATE_FILE, json.dumps({"ports": {n.name: n.port for n in cluster}, "database": database}) + "\n")
    for node in cluster:
        start_node(node)
    return create_database(database)


def down() -> None:
    for node in reversed(nodes()):
        stop_node(node)


def status() -> str:
    """The nodes (running or not) and, on the coordinator, the shards each worker holds."""
    lines = [f"{n.name:12} {HOST}:{n.port}  " + (f"running (pid {n.pid()})" if n.pid() else "stopped")
             for n in nodes()]
    coordinator = nodes()[0]
    if coordinator.pid():
        with psycopg.connect(coordinator.url(database_name()), connect_timeout=5) as conn:
            lines.append("")
            lines.append("registered nodes (pg_dist_node) and their shard placements:")
            for name, port, role, active, shards in conn.execute(
                    """
                    select n.nodename, n.nodeport, case when n.groupid = 0 then 'coordinator' else 'worker' end,
                           n.isactive, count(p.shardid)
                    from pg_dist_node n left join pg_dist_placement p on p.groupid = n.groupid
                    group by 1, 2, 3, 4 order by n.nodeport""").fetchall():
                lines.append(f"  {name}:{port}  {role:11} {'active' if active else 'inactive'}  {shards} shards")
            tables = conn.execute("select table_name::text, citus_table_type, distribution_column, shard_count "
                                  "from citus_tables order by 1").fetchall()
            lines.append(f"distributed and reference tables: {len(tables)}")
            lines += [f"  {t:40} {kind:12} {column:14} {count} shards" for t, kind, column, count in tables]
    return "\n".join(lines)


def _node(name: str) -> Node:
    for node in nodes():
        if node.name == name:
            return node
    raise ClusterError(f"no node {name!r}: the nodes are {', '.join(NODE_NAMES)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m citus.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("build", "up", "down", "status", "url", "stop", "start"))
    parser.add_argument("node", nargs="?", help="stop/start: the node (coordinator, worker1, worker2)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command == "build":
            build()
        elif args.command == "up":
            url = up()
            print(f"DATABASE_URL={url}")
        elif args.command == "down":
            down()
        elif args.command == "status":
            print(status())
        elif args.command == "url":
            print(database_url())
        else:
            if not args.node:
                parser.error(f"{args.command} needs a node: {', '.join(NODE_NAMES)}")
            (stop_node if args.command == "stop" else start_node)(_node(args.node))
    except (ClusterError, psycopg.OperationalError) as error:
        print(f"citus: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
