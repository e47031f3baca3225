"""The ledger of loaded raw files (``etl.loaded_files``) and the run log (``etl.runs``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg

from etl_helpers.contract import RawFile
from etl_helpers.writing import sha256_of as file_sha256


@dataclass(frozen=True)
class LedgerEntry:
    file_id: int
    sha256: str


def ledger_key(path: Path) -> str:
    return str(path.resolve())


def current_entry(conn: psycopg.Connection, path: Path) -> LedgerEntry | None:
    row = conn.execute(
        "select file_id, sha256 from etl.loaded_files where path = %s and is_current",
        (ledger_key(path),),
    ).fetchone()
    return LedgerEntry(*row) if row else None


def retire(conn: psycopg.Connection, entry: LedgerEntry) -> None:
    """A changed file replaces its previous version: that version is no longer current."""
    conn.execute("update etl.loaded_files set is_current = false where file_id = %s", (entry.file_id,))


def register(conn: psycopg.Connection, raw: RawFile, sha256: str, run_id: int | None) -> int:
    """Record the file as being loaded (counts are filled in by :func:`finish`)."""
    return conn.execute(
        """
        insert into etl.loaded_files
            (run_id, path, entity, business_date, sha256, rows_read, rows_loaded, rows_rejected)
        values (%s, %s, %s, %s, %s, 0, 0, 0)
        returning file_id
        """,
        (run_id, ledger_key(raw.path), raw.entity.name, raw.business_date, sha256),
    ).fetchone()[0]


def finish(conn: psycopg.Connection, file_id: int, read: int, loaded: int, rejected: int,
           first_date: date | None = None, last_date: date | None = None) -> None:
    """Record the counts (read = loaded + rejected) and the event dates the loaded rows span."""
    if read != loaded + rejected:
        raise AssertionError(f"file {file_id}: rows read {read} != loaded {loaded} + rejected {rejected}")
    conn.execute(
        "update etl.loaded_files set rows_read = %s, rows_loaded = %s, rows_rejected = %s, "
        "first_date = %s, last_date = %s where file_id = %s",
        (read, loaded, rejected, first_date, last_date, file_id),
    )


def start_run(conn: psycopg.Connection, run_date: date, source: str) -> int:
    return conn.execute(
        "insert into etl.runs (run_date, source) values (%s, %s) returning run_id", (run_date, source)
    ).fetchone()[0]


def end_run(conn: psycopg.Connection, run_id: int, succeeded: bool) -> None:
    conn.execute(
        "update etl.runs set finished_at = now(), status = %s where run_id = %s",
        ("succeeded" if succeeded else "failed", run_id),
    )
