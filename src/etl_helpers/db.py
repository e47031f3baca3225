"""The one connection factory: embedded PostgreSQL by default, ``DATABASE_URL`` otherwise.

psycopg connections for COPY and SQL, an SQLAlchemy engine for pandas. Every wait is
bounded (README, "Database"): connecting (``connect_timeout``, a short retry), each statement
(``statement_timeout``, enforced by the server, and by the client too when the server does not
answer at all), each lock (``lock_timeout``), a transaction left open
(``idle_in_transaction_session_timeout``), a dead network (TCP keepalives).

The pipeline's advisory locks are declared here, once, with the context managers that take
them. Connection strings never reach logs: use :func:`redact` before showing one.

``python -m etl_helpers.db stop`` stops the embedded server (``make stop-db``);
``python -m etl_helpers.db url`` prints a URL a SQL client can use, never with a password
(``make db-url``).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import psycopg
from psycopg import conninfo, errors

from etl_helpers.settings import Settings, known_secrets, load_settings

if TYPE_CHECKING:
    import sqlalchemy

log = logging.getLogger(__name__)

CONNECT_ATTEMPTS = 3
CONNECT_BACKOFF_SECONDS = 1.0
# a server that has not answered this long after its own statement timeout should have fired
# is frozen or cut off (the grace is the statement timeout itself, at most one minute)
MAX_ANSWER_GRACE_SECONDS = 60.0
KEEPALIVES = {"keepalives": "1", "keepalives_idle": "60", "keepalives_interval": "10", "keepalives_count": "6"}

# The pipeline's advisory locks (their keys show in pg_locks.objid).
RUN_LOCK_KEY = 7_262_000  # session-level: one pipeline run writes at a time
LOAD_LOCK_KEY = 7_262_001  # transaction-level: one load, or one refresh of the aggregates, at a time
LOCK_NAMES = {
    RUN_LOCK_KEY: "the pipeline run lock (another run is writing to this database)",
    LOAD_LOCK_KEY: "the load lock (a load or a refresh of the aggregates is running)",
}


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached after a short bounded retry."""


class ServerNotAnswering(DatabaseUnavailable):
    """The server stopped answering in the middle of a statement (frozen, or cut off)."""


class LockTimeout(RuntimeError):
    """A bounded wait for a lock ran out; the message names the lock and the wait."""


# --- redaction ------------------------------------------------------------------------------

# scheme://userinfo@host…: everything up to the last '@' of the line is userinfo (a password
# may hold an '@', a space or a bad escape); without an '@', a "port" that is not a number
_URL = re.compile(r"\b(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<rest>[^\r\n]*)")
_USERINFO = re.compile(r"(?P<user>[\w.-]+):[^\s@/]+@(?=[\w.\[-])")  # user:password@host outside a URL
_KEYWORD = re.compile(
    r"""(?P<key>\b\w*(?:password|passwd|pwd)\w*["']?\s*[=:]\s*)(?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s,;&)}\]]+)""",
    re.IGNORECASE,
)
# libpq quotes the piece of a connection string it cannot parse
_LIBPQ_QUOTES = re.compile(
    r'(?P<lead>(?:invalid percent-encoded token|unexpected spaces found in|missing "=" after'
    r'|in URI|invalid (?:integer )?value|invalid connection option|for connection option)[^"\n]*)"[^"\n]*"',
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """Hide every password in ``text``: the settings' known secrets in any spelling, the
    userinfo of URLs (odd escapes, spaces and extra '@' included), ``password=`` in any form,
    and the pieces of a connection string that libpq quotes in its errors."""
    for secret in sorted(known_secrets(), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _URL.sub(_redact_url, text)
    text = _USERINFO.sub(lambda m: m["user"] + ":***@", text)
    text = _KEYWORD.sub(lambda m: m["key"] + "***", text)
    return _LIBPQ_QUOTES.sub(lambda m: m["lead"] + '"***"', text)


def _redact_url(match: re.Match) -> str:
    scheme, rest = match["scheme"], match["rest"]
    at = rest.rfind("@")
    if at >= 0:
        userinfo, tail = rest[:at], rest[at:]
        if ":" in userinfo:
            return f"{scheme}{userinfo.split(':', 1)[0]}:***{tail}"
        return scheme + rest
    authority, *remainder = re.split(r"([/?\s])", rest, maxsplit=1)
    return scheme + _hide_bad_port(authority) + "".join(remainder)


def _hide_bad_port(authority: str) -> str:
    _, colon, port = authority.rpartition(":")
    if colon and port and not all(p.isdigit() for p in port.split(",")) and not authority.endswith("]"):
        return authority.split(":", 1)[0] + ":***"
    return authority


# --- the embedded server ----------------------------------------------------------------------


@cache
def _embedded_server(pgdata: str):
    """Start (or reuse) the embedded PostgreSQL whose data lives in ``pgdata``.

    pgserver counts the processes using the server in ``.handle_pids.json`` and stops it when
    the last one exits. A process killed without running its exit hooks (a notebook kernel)
    would stay counted forever and the server would never stop: dead pids are dropped before
    this process counts itself, and again when it exits (before pgserver's own hook).
    """
    import pgserver  # imported lazily: only the embedded path needs it

    logging.getLogger("pgserver").setLevel(logging.WARNING)  # its start/stop chatter is not ours
    _forget_dead_handles(Path(pgdata))
    log.info("starting embedded PostgreSQL in %s", pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    atexit.register(_forget_dead_handles, Path(pgdata))  # runs before pgserver's (last in, first out)
    return server


def _forget_dead_handles(pgdata: Path) -> list[int]:
    """Drop the pids of processes that no longer run from pgserver's list; returns the others."""
    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import DiskList

    handles = DiskList(pgdata / ".handle_pids.json")
    with PostgresServer._lock:
        pids = handles.get()
        alive = [pid for pid in pids if _running(pid)]
        if alive != pids:
            handles.put(alive)
    return alive


def _running(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stop_embedded_server(settings: Settings | None = None, wait_seconds: float = 30.0) -> bool:
    """Stop the embedded server of ``settings`` (fast shutdown: open sessions are ended), by the
    pid in its ``postmaster.pid``; returns False when it was not running."""
    import psutil

    settings = settings or load_settings()
    pgdata = Path(settings.pgdata).resolve()
    try:
        postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0]))
        if postmaster.name() != "postgres" or str(pgdata) not in postmaster.cmdline():
            return False  # a stale pid file: that pid is another process now
        postmaster.send_signal(signal.SIGINT)
        postmaster.wait(wait_seconds)
    except (FileNotFoundError, ValueError, psutil.NoSuchProcess):
        return False
    except psutil.TimeoutExpired:
        raise TimeoutError(
            f"the embedded PostgreSQL (pid {postmaster.pid}) did not stop within {wait_seconds:g} s"
        ) from None
    handles = pgdata / ".handle_pids.json"
    if handles.exists():
        handles.write_text("[]")
    return True


# --- connections ------------------------------------------------------------------------------


# Set by a runner in the environment of the processes it starts (its notebook kernels and mart
# workers), which die with it: the embedded server it holds running, and its data folder. A child
# connects to it at once, without pgserver's machine-wide lock (seconds when other processes use
# it) nor counting itself among the server's users (the runner outlives it).
EMBEDDED_URI_ENV = "ETL_EMBEDDED_URI"
EMBEDDED_PGDATA_ENV = "ETL_EMBEDDED_PGDATA"


def database_url(settings: Settings | None = None) -> str:
    """The libpq URL of the database the pipeline uses."""
    settings = settings or load_settings()
    if settings.database_url:
        return settings.database_url
    inherited = os.environ.get(EMBEDDED_URI_ENV)
    if inherited and os.environ.get(EMBEDDED_PGDATA_ENV) == str(settings.pgdata):
        return inherited
    settings.pgdata.mkdir(parents=True, exist_ok=True)
    return _embedded_server(str(settings.pgdata)).get_uri()


def children_environment(settings: Settings) -> dict[str, str]:
    """What a runner adds to its children's environment (:data:`EMBEDDED_URI_ENV`): the embedded
    server's URI when the pipeline uses it (nothing with ``DATABASE_URL``). Starts the server if
    it is not running (this process then holds it)."""
    if settings.database_url:
        return {}
    return {EMBEDDED_URI_ENV: database_url(settings), EMBEDDED_PGDATA_ENV: str(settings.pgdata)}


class PipelineConnection(psycopg.Connection):
    """A psycopg connection that gives up on a server which stops answering mid-statement.

    The server enforces ``statement_timeout`` itself, unless it is frozen (stopped, swapped
    out, cut off behind a live TCP peer): then no answer ever comes. Every wait for an answer
    is bounded by ``answer_timeout``; past it the connection is closed and
    :class:`ServerNotAnswering` says what it waited for.
    """

    answer_timeout: float | None = None

    def wait(self, gen, interval: float | None = None, timeout: float | None = None):
        kwargs = {} if interval is None else {"interval": interval}
        if timeout is not None or self.answer_timeout is None:
            return super().wait(gen, timeout=timeout, **kwargs)
        try:
            return super().wait(gen, timeout=self.answer_timeout, **kwargs)
        except errors._WaitTimeout:
            self.pgconn.finish()
            raise ServerNotAnswering(
                f"the database server did not answer within {self.answer_timeout:g} s "
                f"(the statement timeout plus a grace): it may be frozen or unreachable; "
                f"the connection was closed"
            ) from None


def session_parameters(settings: Settings, url: str) -> dict[str, str]:
    """libpq parameters for a pipeline connection: the server-side time limits (in
    ``options``, after any the URL sets, which win) and TCP keepalives unless the URL sets them."""
    given = conninfo.conninfo_to_dict(url)
    limits = {
        "statement_timeout": settings.statement_timeout,
        "lock_timeout": settings.lock_timeout,
        "idle_in_transaction_session_timeout": settings.idle_in_transaction_timeout,
    }
    ours = " ".join(f"-c {name}={round(seconds * 1000)}" for name, seconds in limits.items())
    params = {name: value for name, value in KEEPALIVES.items() if name not in given}
    params["options"] = f"{ours} {given.get('options') or ''}".strip()
    return params


def answer_timeout(settings: Settings) -> float:
    """How long the client waits for an answer before deciding the server is not answering."""
    return settings.statement_timeout + min(settings.statement_timeout, MAX_ANSWER_GRACE_SECONDS)


def scalar(conn: psycopg.Connection | psycopg.Cursor, query: Any, params: Any = None) -> Any:
    """The first column of the one row ``query`` returns (a query that returns no row is a bug)."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise LookupError(f"the query returned no row: {query}")
    return row[0]


def connect(
    settings: Settings | None = None, *, autocommit: bool = False, url: str | None = None
) -> psycopg.Connection:
    """A pipeline connection with bounded waits (see the module), retried briefly; raises
    DatabaseUnavailable with a redacted reason."""
    settings = settings or load_settings()
    url = url or database_url(settings)
    try:
        params = session_parameters(settings, url)
    except psycopg.Error:
        raise DatabaseUnavailable(
            "cannot connect to the database: the connection string cannot be parsed (not shown: it may hold a password)"
        ) from None
    last_error: Exception | None = None
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            conn = PipelineConnection.connect(
                conninfo.make_conninfo(url, **params),
                autocommit=autocommit,
                connect_timeout=max(1, round(settings.connect_timeout)),
            )
            conn.answer_timeout = answer_timeout(settings)
            return conn
        except psycopg.OperationalError as error:
            last_error = error
            if "password" in str(error).lower() or "does not exist" in str(error).lower():
                break  # retrying a refused login cannot help
            log.warning("database not reachable (attempt %d/%d)", attempt, CONNECT_ATTEMPTS)
            if attempt < CONNECT_ATTEMPTS:
                time.sleep(CONNECT_BACKOFF_SECONDS * attempt)
    raise DatabaseUnavailable(f"cannot connect to the database: {redact(str(last_error)).strip()}") from None


@contextmanager
def connection(settings: Settings | None = None, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """Context manager: a connection that commits on success, rolls back on error, and closes."""
    conn = connect(settings, autocommit=autocommit)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def engine(settings: Settings | None = None, *, url: str | None = None) -> sqlalchemy.Engine:
    """An SQLAlchemy engine for pandas (``pd.read_sql``) on the same database; its
    connections come from :func:`connect`, so a URL or a key=value string both work.
    (SQLAlchemy is imported here: most notebooks never need it, and it costs every kernel
    half a second to import.)"""
    import sqlalchemy

    settings = settings or load_settings()
    url = url or database_url(settings)
    return sqlalchemy.create_engine(
        "postgresql+psycopg://", creator=lambda: connect(settings, url=url), pool_pre_ping=True
    )


# --- locks ------------------------------------------------------------------------------------


@contextmanager
def lock_timeout(conn: psycopg.Connection, seconds: float, what: str) -> Iterator[None]:
    """Statements in the block wait at most ``seconds`` for a lock; past that,
    :class:`LockTimeout` names ``what`` was waited for. The previous limit is restored after."""
    previous = scalar(conn, "select current_setting('lock_timeout')")
    conn.execute("select set_config('lock_timeout', %s, false)", (f"{round(seconds * 1000)}ms",))
    try:
        yield
    except errors.LockNotAvailable:
        raise LockTimeout(
            f"waited {seconds:g} s for a lock on {what}: another session holds it (an analyst's open "
            f"transaction? see pg_stat_activity); try again when it ends, or raise ETL_LOCK_TIMEOUT"
        ) from None
    finally:
        if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.INERROR:
            conn.execute("select set_config('lock_timeout', %s, false)", (previous,))


@contextmanager
def advisory_lock(conn: psycopg.Connection, key: int, wait_seconds: float) -> Iterator[None]:
    """Hold the session-level advisory lock ``key`` for the block, waiting at most
    ``wait_seconds`` for another session to release it (:class:`LockTimeout` otherwise)."""
    deadline = time.monotonic() + wait_seconds
    while not scalar(conn, "select pg_try_advisory_lock(%s)", (key,)):
        if time.monotonic() >= deadline:
            raise LockTimeout(f"waited {wait_seconds:g} s for {LOCK_NAMES.get(key, f'advisory lock {key}')}")
        time.sleep(0.5)
    try:
        yield
    finally:
        if not conn.closed:
            conn.execute("select pg_advisory_unlock(%s)", (key,))


def advisory_xact_lock(conn: psycopg.Connection, key: int) -> None:
    """Take the transaction-level advisory lock ``key`` (held until the transaction ends),
    waiting at most the session's ``lock_timeout``; :class:`LockTimeout` names the lock."""
    waited = scalar(conn, "select current_setting('lock_timeout')")
    try:
        conn.execute("select pg_advisory_xact_lock(%s)", (key,))
    except errors.LockNotAvailable:
        raise LockTimeout(
            f"waited {waited} for {LOCK_NAMES.get(key, f'advisory lock {key}')}; "
            f"try again when it ends, or raise ETL_LOCK_TIMEOUT"
        ) from None


# --- views ------------------------------------------------------------------------------------


def replace_view(
    conn: psycopg.Connection, schema: str, name: str, statement: str, wait_seconds: float | None = None
) -> bool:
    """Run ``statement`` (a ``create or replace view`` of ``schema.name``) unless the view
    already stands as that very statement made it; returns whether it ran.

    An unchanged view is left alone, so an analyst's open transaction on it blocks nothing; a
    changed one waits at most ``wait_seconds`` (default: the session's lock timeout) for the
    analyst, and the error names the view. The statement's text and the definition it gave are
    recorded in ``etl.view_definitions``: a view someone else replaced is made again.
    """
    qualified = f"{schema}.{name}"
    if _view_is_current(conn, schema, name, statement):
        log.info("view %s unchanged", qualified)
        return False
    if wait_seconds is None:
        wait_seconds = _setting_seconds(conn, "lock_timeout") or Settings.lock_timeout
    with lock_timeout(conn, wait_seconds, f"view {qualified}"):
        conn.execute(statement)
    conn.execute(
        """
        insert into etl.view_definitions (view_name, statement, definition)
        values (%(name)s, %(statement)s, pg_get_viewdef(to_regclass(%(name)s)))
        on conflict (view_name) do update set statement = excluded.statement,
            definition = excluded.definition, created_at = now()
        """,
        {"name": qualified, "statement": statement},
    )
    return True


def _view_is_current(conn: psycopg.Connection, schema: str, name: str, statement: str) -> bool:
    row = conn.execute(
        """
        select d.statement = %(statement)s and d.definition = pg_get_viewdef(c.oid)
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        join etl.view_definitions d on d.view_name = n.nspname || '.' || c.relname
        where n.nspname = %(schema)s and c.relname = %(name)s and c.relkind = 'v'
        """,
        {"schema": schema, "name": name, "statement": statement},
    ).fetchone()
    return bool(row and row[0])


def _setting_seconds(conn: psycopg.Connection, name: str) -> float:
    milliseconds = scalar(
        conn,
        "select setting::float * case unit when 's' then 1000 when 'min' then 60000 else 1 end "
        "from pg_settings where name = %s",
        (name,),
    )
    return milliseconds / 1000 if milliseconds else 0.0


def client_url(settings: Settings | None = None) -> str:
    """A URL for a SQL client (psql, a notebook) to the pipeline's database, without any password.

    With ``DATABASE_URL``: that URL, password removed (the client reads it from ``~/.pgpass`` or
    ``PGPASSWORD``). Embedded: the URL of its Unix socket; the server is started if needed and
    left running for the client (``make stop-db`` stops it).
    """
    settings = settings or load_settings()
    if settings.database_url:
        params = conninfo.conninfo_to_dict(settings.database_url)
    else:
        import pgserver

        settings.pgdata.mkdir(parents=True, exist_ok=True)
        _forget_dead_handles(settings.pgdata.resolve())
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        server = pgserver.get_server(settings.pgdata, cleanup_mode=None)  # None: outlives this process
        params = conninfo.conninfo_to_dict(server.get_uri())
    return _url_without_password(params)


def _url_without_password(params: dict) -> str:
    params = {key: str(value) for key, value in params.items() if key != "password" and value not in (None, "")}
    user, host, port, dbname = (params.pop(key, None) for key in ("user", "host", "port", "dbname"))
    authority = quote(user, safe="") + "@" if user else ""
    if host and not host.startswith("/") and "," not in host:
        authority += f"[{host}]" if ":" in host else host
        authority += f":{port}" if port else ""
    else:  # a socket directory or several hosts go in the query, as libpq reads them
        params = {**({"host": host} if host else {}), **({"port": port} if port else {}), **params}
    query = "?" + urlencode(params, safe="/,") if params else ""
    return f"postgresql://{authority}/{quote(dbname or '', safe='')}{query}"


USAGE = "usage: python -m etl_helpers.db stop | url"


def main(argv: list[str] | None = None) -> int:
    """``python -m etl_helpers.db stop|url``: stop the embedded PostgreSQL of this checkout, or
    print a password-free URL to the pipeline's database for a SQL client."""
    args = sys.argv[1:] if argv is None else argv
    if args not in (["stop"], ["url"]):
        print(USAGE, file=sys.stderr)
        return 2
    from etl_helpers.kernels import quiet_jupyter_paths

    quiet_jupyter_paths()  # the runner's runtime folder: the same socket fallback, no platformdirs warning
    settings = load_settings()
    if args == ["url"]:
        print(client_url(settings))
        if settings.database_url:
            print("(no password shown: the client reads it from ~/.pgpass or PGPASSWORD)", file=sys.stderr)
        else:
            print("(the embedded PostgreSQL keeps running for your client: `make stop-db` stops it)", file=sys.stderr)
        return 0
    if settings.database_url:
        print("DATABASE_URL is set: no embedded PostgreSQL to stop")
        return 0
    stopped = stop_embedded_server(settings)
    print(f"embedded PostgreSQL in {settings.pgdata} {'stopped' if stopped else 'was not running'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
