"""Regression guard: the demo's files stay byte-identical across refactors.

The expected digests below were computed by running the generator as it stood *before* the
demo module was reorganised (fixed data moved out, long functions split); they are not results
worked out by hand. A change of any byte in any file of these small windows (reference
snapshots, the banner change, public holidays and their eves, a DST change, every scale)
changes the digest. If a deliberate change of the demo's data is ever wanted, recompute them
and say so in the commit.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from etl_helpers.sources import demo

# (scale, seed, run date, history days) -> sha256 of the folder's files
WINDOWS = {
    # the banner-change snapshot, a Sunday, 1 June
    ("small", 42, date(2026, 6, 2), 4):
        "2028c70e3cd80b23576d326264c61c6f074452a24d126c7f4d10555390252692",
    # Christmas Eve .. 2 January: closed days and eves
    ("small", 42, date(2026, 1, 2), 10):
        "e371a5692092616b907488e55fd6c21faea09a4ae1d97252ae64dbb0b13a86a4",
    # the spring DST change, another seed
    ("small", 7, date(2026, 3, 30), 3):
        "a57586690393cd48a05745743bddd78132b7e7cf53368c595fb0eeb85e04e834",
    ("medium", 42, date(2026, 11, 30), 2):
        "a39fe95d3aebc24b6cba75647481133973bfbcf9858d8f43019006ba837fa3da",
    ("large", 42, date(2026, 11, 30), 1):
        "ce93db08bf68813a68e6d5ac0a4bd23a7a8b4c8fc68306f0b61ab6d82db5cd37",
}


def folder_digest(root: Path) -> str:
    """sha256 over every file's relative path and bytes, in path order (hidden files included)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@pytest.mark.parametrize(("scale", "seed", "run_date", "history_days"), list(WINDOWS))
def test_demo_files_are_byte_identical_to_the_pinned_digest(tmp_path, scale, seed, run_date, history_days):
    demo.generate(tmp_path, run_date, scale=scale, seed=seed, history_days=history_days)
    assert folder_digest(tmp_path) == WINDOWS[scale, seed, run_date, history_days]
