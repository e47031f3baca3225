"""Read the published runs: manifests, and tables checked against their manifest's sha256.

Reads are cached per run (``st.cache_data`` keyed by the file, the run date and the sha256 of
the manifest that lists it), so a page reads a table from disk once per published run and a
new run of the same date is read afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import streamlit as st

from dashboard import layout
from dashboard.layout import Run
from etl_helpers.writing import sha256_of


class ExportRefused(RuntimeError):
    """A published file that does not match its run's manifest: it is not shown."""


class ExportMissing(LookupError):
    """The run published no such table."""


@st.cache_data(show_spinner=False, max_entries=2000)
def _parsed_manifest(path: str, mtime_ns: int, size: int, published: bool) -> Run:
    """Parsed once per version of the file (its modification time and size are in the cache key)."""
    return layout.parse_manifest(Path(path).read_text(encoding="utf-8"), Path(path), published)


def _manifest(path: Path, published: bool) -> Run | None:
    try:
        stat = path.stat()
        return _parsed_manifest(str(path), stat.st_mtime_ns, stat.st_size, published)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a manifest being written or unreadable: not a run to show


def published_runs(root: Path) -> list[Run]:
    """The published run of every date (any status), newest date first."""
    return [run for path in layout.published_manifests(root) if (run := _manifest(path, True))]


def succeeded_runs(root: Path) -> list[Run]:
    """The dates whose published run succeeded, newest first: what the run-date picker offers."""
    return [run for run in published_runs(root) if run.status == layout.SUCCEEDED]


def run_history(root: Path) -> list[Run]:
    """Every recorded run, newest date first (a date without run records: its published run)."""
    history: list[Run] = []
    for published in published_runs(root):
        records = [replace(run, published=run.run_id == published.run_id)  # the record of what is published
                   for path in layout.run_record_manifests(root, published.run_date)
                   if (run := _manifest(path, False))]
        history.extend(sorted(records, key=lambda r: (r.started_at or "", r.run_id), reverse=True)
                       or [published])
    return history


@st.cache_data(show_spinner=False, max_entries=256)
def _verified_table(path: str, mtime_ns: int, size: int, expected_sha256: str, run_date: str,
                    manifest_sha256: str) -> pd.DataFrame:
    """The table at ``path`` if its sha256 is the manifest's: cached per run date and manifest, and
    per version of the file (a file changed later is checked again)."""
    if sha256_of(Path(path)) != expected_sha256:
        raise ExportRefused(f"{Path(path).name} of {run_date} was changed after the run published it: "
                            "its sha256 does not match the run's manifest, so it is not shown")
    return pq.read_table(path).to_pandas()


def table(root: Path, run: Run, mart: str, name: str) -> pd.DataFrame:
    """A published table of ``run``, verified against the run's manifest."""
    relative = layout.table_path(mart, run.run_date, name)
    path = layout.resolve(root, relative)
    listed = run.files.get(relative)
    if path is None or not path.is_file():
        raise ExportMissing(f"the run of {run.run_date} published no {name} table")
    if listed is None:
        raise ExportRefused(f"{name} of {run.run_date} is not listed in the run's manifest, so it is not shown")
    stat = path.stat()
    return _verified_table(str(path), stat.st_mtime_ns, stat.st_size, listed.sha256, run.run_date,
                           run.manifest_sha256)


def verified_report(root: Path, run: Run, relative: str) -> Path:
    """A step's HTML report; checked against the manifest when the manifest lists it."""
    path = layout.report_path(root, run, relative)
    if path is None:
        raise ExportMissing(f"report {relative} is not there")
    listed = run.files.get(relative)
    if listed is not None and sha256_of(path) != listed.sha256:
        raise ExportRefused(f"report {relative} does not match the run's manifest, so it is not shown")
    return path


@st.cache_data(show_spinner=False, max_entries=64)
def _rejects_by_reason(folder: str, signature: tuple) -> pd.DataFrame:
    """Counted once per set of files (``signature``: their names, times and sizes)."""
    counts: dict[str, int] = {}
    for path in sorted(Path(folder).glob("*.csv")):
        reasons = pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(include_columns=["reason"]))
        for reason, count in reasons.to_pandas()["reason"].value_counts().items():
            counts[str(reason)] = counts.get(str(reason), 0) + int(count)
    return (pd.DataFrame({"reason": list(counts), "rows": list(counts.values())})
            .sort_values(["rows", "reason"], ascending=[False, True], ignore_index=True))


def rejects_by_reason(root: Path, run_date: str) -> pd.DataFrame | None:
    """Rejected rows of a run date counted by reason; None when no rejects file is there."""
    folder = layout.rejects_dir(root, run_date)
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not files:
        return None
    signature = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    return _rejects_by_reason(str(folder), signature)


@dataclass(frozen=True)
class Selection:
    """What every page shows: the exports folder, the chosen run and the one before it."""

    root: Path
    run: Run
    previous: Run | None

    @property
    def currency(self) -> str:
        return self.run.currency
