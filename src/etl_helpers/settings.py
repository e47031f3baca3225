"""One settings object, rooted at the project folder: every path comes from here.

``DATABASE_URL`` is checked when the settings are made: a malformed one is refused with a
message that never repeats any part of it (it may hold a password), and the password it
carries is remembered so that :func:`etl_helpers.db.redact` hides it wherever it shows up.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

import psycopg
from dotenv import dotenv_values
from psycopg import conninfo

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The seed project's real data lives beside the checkout (never copied into it).
SEED_DATA_DIR = Path(os.environ.get("ETL_SEED_DATA_DIR") or PROJECT_ROOT.parent / "shared" / "seed-data")
SUPERSTORE_CSV = SEED_DATA_DIR / "superstore_sample.csv"

MART_NAMES = ("fact_fidelite_mart", "fact_vente_mart")

# Bounds on every wait of a pipeline connection, in seconds (README, "Database"): each can be
# changed with the environment variable beside it.
TIMEOUT_VARIABLES = {
    "statement_timeout": "ETL_STATEMENT_TIMEOUT",  # one SQL statement (the largest takes minutes)
    "lock_timeout": "ETL_LOCK_TIMEOUT",  # a lock held by another session (an analyst's)
    "idle_in_transaction_timeout": "ETL_IDLE_IN_TRANSACTION_TIMEOUT",  # a transaction left open
    "connect_timeout": "ETL_CONNECT_TIMEOUT",  # one connection attempt
}

MIN_SECRET_LENGTH = 4  # shorter "secrets" would blank out ordinary words in every log line
_known_secrets: set[str] = set()


class SettingsError(ValueError):
    """A setting is unusable; the message says which and why, and never shows a password."""


@dataclass(frozen=True)
class Settings:
    """Paths, connection choice and database time limits for one checkout.

    ``database_url`` is None for the embedded PostgreSQL (the default); it is left out of the
    repr, so a Settings object in a traceback shows no password.
    """

    root: Path = PROJECT_ROOT
    database_url: str | None = field(default=None, repr=False)
    pgdata: Path = field(default=None)  # type: ignore[assignment]
    workdir: Path = field(default=None)  # type: ignore[assignment]  # holds data/ and exports/
    statement_timeout: float = 1800.0
    lock_timeout: float = 60.0
    idle_in_transaction_timeout: float = 1800.0
    connect_timeout: float = 5.0

    def __post_init__(self) -> None:
        if self.pgdata is None:
            object.__setattr__(self, "pgdata", self.root / ".pgdata")
        if self.workdir is None:
            object.__setattr__(self, "workdir", self.root)
        if self.database_url:
            remember_secrets(self.database_url)
            check_database_url(self.database_url)
        for name, variable in TIMEOUT_VARIABLES.items():
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise SettingsError(f"{variable} must be a positive number of seconds, not {value!r}")

    @property
    def raw_dir(self) -> Path:
        return self.workdir / "data" / "raw"

    @property
    def processed_dir(self) -> Path:
        return self.workdir / "data" / "processed"

    @property
    def exports_dir(self) -> Path:
        return self.workdir / "exports"

    @property
    def notebooks_dir(self) -> Path:
        return self.root / "notebooks"

    @property
    def sql_dir(self) -> Path:
        return self.root / "sql"

    def export_dir(self, mart: str, run_date: str) -> Path:
        """Where a mart (or ``pipeline``) writes its files for one run date."""
        return self.exports_dir / mart / run_date

    def rejects_dir(self, run_date: str) -> Path:
        return self.processed_dir / run_date / "rejects"


def load_settings(root: Path | None = None) -> Settings:
    """Settings from the environment, then ``.env`` at the project root.

    ``DATABASE_URL`` selects a real server; without it the embedded one is used.
    ``ETL_PGDATA`` moves the embedded server's data folder; ``ETL_WORKDIR`` moves
    ``data/`` and ``exports/`` (tests point it at a temporary folder). A relative one is relative
    to the project root, not to the working directory: the runner, its notebook kernels (started
    in ``notebooks/``) and JupyterLab all find the same folder. The time limits of
    :data:`TIMEOUT_VARIABLES` are read the same way. Raises :class:`SettingsError`.
    """
    root = root or PROJECT_ROOT
    file_values = dotenv_values(root / ".env") if (root / ".env").exists() else {}

    def lookup(name: str) -> str | None:
        return os.environ.get(name) or file_values.get(name) or None

    for variable in ("PGPASSWORD", "DATABASE_URL"):
        secret = lookup(variable)
        if secret:
            remember_secrets(secret, whole=variable == "PGPASSWORD")
    pgdata = lookup("ETL_PGDATA")
    workdir = lookup("ETL_WORKDIR")
    timeouts = {
        name: _seconds(variable, text)
        for name, variable in TIMEOUT_VARIABLES.items()
        if (text := lookup(variable)) is not None
    }
    return Settings(
        root=root,
        database_url=(lookup("DATABASE_URL") or "").strip() or None,
        pgdata=root / pgdata if pgdata else root / ".pgdata",  # root / an absolute path = that path
        workdir=root / workdir if workdir else root,
        **timeouts,
    )


def _seconds(variable: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise SettingsError(f"{variable} must be a positive number of seconds, not {text!r}")
    return value


# --- DATABASE_URL: checked without ever quoting it --------------------------------------------

_URL_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://", re.ASCII)
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_KEYWORD_PASSWORD = re.compile(r"""password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)""", re.IGNORECASE)
_EXPECTED = (
    "expected postgresql://user@host:port/database, a password after the user (user:...) with its "
    "special characters percent-encoded (or no password in the URL: use ~/.pgpass or PGPASSWORD). "
    "The value is not shown: it may hold a password"
)


def check_database_url(url: str) -> None:
    """Raise :class:`SettingsError` unless libpq can use ``url`` as it was meant; the message
    names the problem, never any part of the value (raised ``from None``: no chained error)."""
    reason = _database_url_problem(url)
    if reason:
        raise SettingsError(
            f"DATABASE_URL is not a valid PostgreSQL connection string: {reason}; {_EXPECTED}"
        ) from None


def _database_url_problem(url: str) -> str | None:
    scheme = _URL_SCHEME.match(url)
    if scheme and scheme["scheme"].lower() not in ("postgres", "postgresql"):
        return "its scheme must be postgresql://"
    if scheme:
        if _BAD_PERCENT.search(url):
            return "it holds a '%' that does not start a percent-escape (write a '%' of the password as %25)"
        if any(ch.isspace() for ch in url):
            return "it holds spaces (write a space of the password as %20)"
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "libpq cannot parse it"
    if "@" in str(params.get("host") or ""):
        return "the host holds an '@' (write an '@' of the user name or password as %40)"
    if any(part and not part.isdigit() for part in str(params.get("port") or "").split(",")):
        return "the port is not a number (write a ':' or '/' of the password as %3A and %2F)"
    return None


def remember_secrets(text: str, *, whole: bool = False) -> None:
    """Remember the password(s) in a connection string (or ``text`` itself when ``whole``),
    in every spelling it may be printed in, for :func:`known_secrets`. Lenient on purpose: it
    runs before the string is checked, so even a malformed URL's password gets hidden."""
    candidates = {text} if whole else set(_passwords_in(text))
    for secret in candidates:
        for spelling in (secret, unquote(secret), quote(secret, safe=""), quote(unquote(secret), safe="")):
            if len(spelling) >= MIN_SECRET_LENGTH:
                _known_secrets.add(spelling)


def known_secrets() -> frozenset[str]:
    return frozenset(_known_secrets)


def _passwords_in(text: str) -> list[str]:
    found = [value.strip("'") for value in _KEYWORD_PASSWORD.findall(text)]
    scheme = _URL_SCHEME.match(text)
    if scheme or "=" not in text:  # a URL, or a mistyped one ("postgres//user:password@host")
        rest = text[scheme.end() :] if scheme else text.split("//", 1)[-1]
        if "@" in rest:
            userinfo = rest[: rest.rfind("@")]
            if ":" in userinfo:
                found.append(userinfo.split(":", 1)[1])
            # a password holding an '@' is cut by libpq at the first one: hide both readings
            if "@" in userinfo:
                found.extend(piece.split(":", 1)[-1] for piece in userinfo.split("@"))
        else:  # no '@': a "port" that is not a number was meant as a password
            authority = re.split(r"[/?]", rest, maxsplit=1)[0]
            if ":" in authority and not authority.rsplit(":", 1)[1].isdigit():
                found.append(authority.split(":", 1)[1])
    return [value for value in found if value]
