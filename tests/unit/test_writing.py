"""Case 28: a write error during export never leaves a truncated file under its final name."""

import errno
import os

import pytest

from etl_helpers import writing


def test_failed_write_keeps_previous_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "mart.csv"
    target.write_text("old complete content\n")
    with pytest.raises(OSError), writing.atomic_path(target) as tmp, tmp.open("w") as out:
        out.write("half of the new")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old complete content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["mart.csv"]


def test_failed_first_write_leaves_nothing(tmp_path):
    target = tmp_path / "sub" / "new.parquet"
    with pytest.raises(OSError), writing.atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_write_bytes_atomic_replaces(tmp_path):
    target = tmp_path / "a.txt"
    writing.write_bytes_atomic(target, b"1")
    writing.write_bytes_atomic(target, b"22")
    assert target.read_bytes() == b"22"
    assert writing.sha256_of(target) == "785f3ec7eb32f30b90cd0fcf3657d388b5ff4297f2f9716ff66e9b69c05ddd09"


def test_the_temporary_file_is_hidden_beside_the_target(tmp_path):
    target = tmp_path / "sales" / "sales_2026-11-30.csv"
    with writing.atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".")
        tmp.write_bytes(b"x\n")
        assert not target.exists()
    assert target.read_bytes() == b"x\n"
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_write_bytes_if_changed_keeps_an_identical_file_untouched(tmp_path):
    target = tmp_path / "regions" / "regions_2016-01-03.csv"
    assert writing.write_bytes_if_changed(target, b"a,b\n1,2\n") is True
    stamp = target.stat().st_mtime_ns
    os.utime(target, ns=(stamp - 10**9, stamp - 10**9))   # an older mtime shows any rewrite
    before = target.stat().st_mtime_ns
    assert writing.write_bytes_if_changed(target, b"a,b\n1,2\n") is False
    assert target.stat().st_mtime_ns == before
    assert writing.write_bytes_if_changed(target, b"a,b\n1,3\n") is True
    assert target.read_bytes() == b"a,b\n1,3\n" and target.stat().st_mtime_ns != before
    assert [p.name for p in target.parent.iterdir()] == [target.name]
