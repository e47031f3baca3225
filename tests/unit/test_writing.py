"""Case 28: a write error during export never leaves a truncated file under its final name."""

import errno

import pytest

from etl_helpers import writing


def test_failed_write_keeps_previous_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "mart.csv"
    target.write_text("old complete content\n")
    with pytest.raises(OSError):
        with writing.atomic_path(target) as tmp:
            with tmp.open("w") as out:
                out.write("half of the new")
                raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old complete content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["mart.csv"]


def test_failed_first_write_leaves_nothing(tmp_path):
    target = tmp_path / "sub" / "new.parquet"
    with pytest.raises(OSError):
        with writing.atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_write_bytes_atomic_replaces(tmp_path):
    target = tmp_path / "a.txt"
    writing.write_bytes_atomic(target, b"1")
    writing.write_bytes_atomic(target, b"22")
    assert target.read_bytes() == b"22"
    assert writing.sha256_of(target) == "785f3ec7eb32f30b90cd0fcf3657d388b5ff4297f2f9716ff66e9b69c05ddd09"
