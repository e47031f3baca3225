"""The one connection factory: embedded PostgreSQL by default, ``DATABASE_URL`` otherwise.

psycopg connections for COPY and SQL, an SQLAlchemy engine for pandas.
Connection strings never reach logs: use :func:`redact` before showing one.
"""

from __future__ import annotations

import logging
import re
import time
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Iterator

import psycopg

from etl_helpers.settings import Settings, load_settings

if TYPE_CHECKING:
    import sqlalchemy

log = logging.getLogger(__name__)

CONNECT_ATTEMPTS = 3
CONNECT_BACKOFF_SECONDS = 1.0
CONNECT_TIMEOUT_SECONDS = 5


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached after a short bounded retry."""


def redact(text: str) -> str:
    """Hide any password in connection strings inside ``text``."""
    text = re.sub(r"(postgres(?:ql)?(?:\+\w+)?://[^:/@\s]*):[^@\s]*@", r"\1:***@", text)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", text, flags=re.IGNORECASE)


@lru_cache(maxsize=None)
def _embedded_server(pgdata: str):
    """Start (or reuse) the embedded PostgreSQL whose data lives in ``pgdata``."""
    import pgserver  # imported lazily: only the embedded path needs it

    logging.getLogger("pgserver").setLevel(logging.WARNING)  # its start/stop chatter is not ours

    log.info("starting embedded PostgreSQL in %s", pgdata)
    return pgserver.get_server(pgdata, cleanup_mode="stop")


def database_url(settings: Settings | None = None) -> str:
    """The libpq URL of the database the pipeline uses."""
    settings = settings or load_settings()
    if settings.database_url:
        return settings.database_url
    settings.pgdata.mkdir(parents=True, exist_ok=True)
    return _embedded_server(str(settings.pgdata)).get_uri()


def connect(settings: Settings | None = None, *, autocommit: bool = False, url: str | None = None) -> psycopg.Connection:
    """A psycopg connection, retried briefly; raises DatabaseUnavailable with a redacted reason."""
    url = url or database_url(settings)
    last_error: Exception | None = None
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            return psycopg.connect(url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        except psycopg.OperationalError as error:
            last_error = error
            if "password" in str(error).lower() or "does not exist" in str(error).lower():
                break  # retrying a refused login cannot help
            log.warning("database not reachable (attempt %d/%d)", attempt, CONNECT_ATTEMPTS)
            time.sleep(CONNECT_BACKOFF_SECONDS * attempt)
    raise DatabaseUnavailable(f"cannot connect to the database: {redact(str(last_error)).strip()}")


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

    url = url or database_url(settings)
    return sqlalchemy.create_engine("postgresql+psycopg://", creator=lambda: connect(url=url), pool_pre_ping=True)
