"""The ledger of loaded raw files (``etl.loaded_files``) and the run log (``etl.runs``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg

from etl_helpers import db
from etl_helpers.contract import RawFile
from etl_helpers.writing import sha256_of as file_sha256  # noqa: F401  (the ledger's file hash)


@dataclass(frozen=True)
class LedgerEntry:
    file_id: int
    sha256: str
    size: int | None = None  # the file's size and modification time when it was hashed
    mtime_ns: int | None = None

    def same_file(self, path: Path) -> bool:
        """Unchanged since it was hashed, by size and modification time (a rewrite moves the
        time): hashing two years of daily files at every run would cost more than the day's load."""
        stat = path.stat()
        return (self.size, self.mtime_ns) == (stat.st_size, stat.st_mtime_ns)


def ledger_key(path: Path) -> str:
    """A raw file's identity in the ledger: its place in the raw layout (``sales/sales_2026-11-30.csv``),
    not its absolute path, so that a raw folder moved or mounted elsewhere is the same folder:
    its unchanged files stay loaded and a late correction replaces its own rows."""
    return f"{path.parent.name}/{path.name}"


def current_entries(conn: psycopg.Connection, keys: list[str]) -> dict[str, LedgerEntry]:
    """The current ledger entry of each ledger key (:func:`ledger_key`) that has one."""
    rows = conn.execute(
        "select path, file_id, sha256, file_size, file_mtime_ns from etl.loaded_files "
        "where path = any(%s) and is_current",
        (keys,),
    ).fetchall()
    return {path: LedgerEntry(*entry) for path, *entry in rows}


def retire(conn: psycopg.Connection, entries: list[LedgerEntry]) -> None:
    """Changed files replace their previous versions: those are no longer current."""
    conn.execute(
        "update etl.loaded_files set is_current = false where file_id = any(%s)", ([e.file_id for e in entries],)
    )


def register(
    conn: psycopg.Connection, files: list[tuple[RawFile, str]], run_id: int | None, keys: list[str]
) -> list[int]:
    """Record the files (with their sha256, size and modification time; ``keys``: their ledger
    keys, in order) as being loaded; returns their file ids, in order (counts are filled in
    by :func:`finish`)."""
    stats = [raw.path.stat() for raw, _ in files]
    rows = conn.execute(
        """
        insert into etl.loaded_files
            (run_id, path, read_from, entity, business_date, sha256, file_size, file_mtime_ns,
             rows_read, rows_loaded, rows_rejected)
        select %s, path, read_from, entity, business_date, sha256, file_size, file_mtime_ns, 0, 0, 0
        from unnest(%s::text[], %s::text[], %s::text[], %s::date[], %s::text[], %s::bigint[], %s::bigint[])
            with ordinality as f (path, read_from, entity, business_date, sha256, file_size, file_mtime_ns, position)
        order by position
        returning file_id
        """,
        (
            run_id,
            keys,
            [str(raw.path.absolute()) for raw, _ in files],
            [raw.entity.name for raw, _ in files],
            [raw.business_date for raw, _ in files],
            [sha for _, sha in files],
            [st.st_size for st in stats],
            [st.st_mtime_ns for st in stats],
        ),
    ).fetchall()
    return [file_id for (file_id,) in rows]


def record_stat(conn: psycopg.Connection, files: list[tuple[int, Path]]) -> None:
    """Files hashed again and found unchanged (copied, touched, moved): remember their new size,
    time and place, so the next run does not read them again."""
    if files:
        stats = [path.stat() for _, path in files]
        conn.execute(
            "update etl.loaded_files as l set file_size = f.size, file_mtime_ns = f.mtime_ns, "
            "read_from = f.read_from "
            "from unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[]) "
            "as f (file_id, size, mtime_ns, read_from) "
            "where l.file_id = f.file_id",
            (
                [file_id for file_id, _ in files],
                [st.st_size for st in stats],
                [st.st_mtime_ns for st in stats],
                [str(path.absolute()) for _, path in files],
            ),
        )


@dataclass(frozen=True)
class FileCounts:
    file_id: int
    read: int
    loaded: int
    rejected: int
    sha256: str  # of the bytes loaded: a file new to the ledger is hashed as it is read
    first_date: date | None = None  # the event dates the loaded rows span (daily files)
    last_date: date | None = None


def finish(conn: psycopg.Connection, counts: list[FileCounts]) -> None:
    """Record each file's counts (read = loaded + rejected), hash and event dates."""
    for c in counts:
        if c.read != c.loaded + c.rejected:
            raise AssertionError(f"file {c.file_id}: rows read {c.read} != loaded {c.loaded} + rejected {c.rejected}")
    columns = list(
        zip(*((c.file_id, c.read, c.loaded, c.rejected, c.sha256, c.first_date, c.last_date) for c in counts))
    )
    conn.execute(
        """
        update etl.loaded_files as l
        set rows_read = c.read, rows_loaded = c.loaded, rows_rejected = c.rejected, sha256 = c.sha256,
            first_date = c.first_date, last_date = c.last_date
        from unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::date[], %s::date[])
            as c (file_id, read, loaded, rejected, sha256, first_date, last_date)
        where l.file_id = c.file_id
        """,
        [list(column) for column in columns],
    )


def start_run(conn: psycopg.Connection, run_date: date, source: str) -> int:
    return db.scalar(
        conn, "insert into etl.runs (run_date, source) values (%s, %s) returning run_id", (run_date, source)
    )


def end_run(conn: psycopg.Connection, run_id: int, succeeded: bool) -> None:
    conn.execute(
        "update etl.runs set finished_at = now(), status = %s where run_id = %s",
        ("succeeded" if succeeded else "failed", run_id),
    )
