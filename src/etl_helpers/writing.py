"""Write files safely: to a temporary name in the same folder, then rename into place,
so no reader ever sees a truncated file under its final name; and the one rule for text
written into a CSV file meant for spreadsheets (:func:`neutralise_formula`, case 45).

``atomic_path`` is the one way the package writes a file atomically; the other helpers here
are short forms of it. The temporary name starts with a dot (``.<name>.tmp-<pid>``), so the
contract's file lister never takes it for a raw file, and it is removed whatever happens.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# Text starting with one of these is run as a formula by a spreadsheet opening a CSV file
# (OWASP's list: the four operators, and a tab or carriage return before one).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is synced and replaces ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        with tmp.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: Path, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def write_bytes_if_changed(target: Path, data: bytes) -> bool:
    """Write ``data`` atomically unless ``target`` already holds exactly it (its mtime is then
    kept). Returns True when the file was (re)written."""
    if target.is_file() and target.stat().st_size == len(data) and target.read_bytes() == data:
        return False
    write_bytes_atomic(target, data)
    return True


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def neutralise_formula(value: T) -> T | str:
    """``value`` with a leading single quote when it is text starting with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return, so a spreadsheet shows it as text instead of running it; anything else as is.
    Used for every CSV file the pipeline writes for people (exports, rejects); the database
    and the Parquet files keep the text verbatim."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) else value
