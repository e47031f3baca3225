"""Where the published runs live and what their manifests say: the only module of the
dashboard that knows paths and manifest fields (the run-record layout of the README).

Relative to the exports folder:

- ``pipeline/<date>/manifest.json``: the published manifest of a run date;
- ``pipeline/<date>/runs/<run_id>/manifest.json``: the record of every run of that date
  (optional: a checkout whose runner keeps no such records shows the published ones);
- ``<mart>/<date>/<table>.parquet``: a published table, listed in the manifest's ``files``
  (``path`` relative to the exports folder, ``sha256``, ``rows``, ``bytes``);
- the steps' ``html_report`` paths are relative to the exports folder as well.

Rejected rows are beside the exports, in ``../data/processed/<date>/rejects/*.csv``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXPORTS_ENV = "DASHBOARD_EXPORTS_DIR"  # another exports folder than the checkout's
LOYALTY_MART = "fact_fidelite_mart"
SALES_MART = "fact_vente_mart"
SUCCEEDED = "succeeded"
DEFAULT_CURRENCY = "EUR"  # manifests written before the currency was recorded are in euros

_PIPELINE = "pipeline"
_MANIFEST = "manifest.json"
_RUNS = "runs"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def exports_dir() -> Path:
    """``$DASHBOARD_EXPORTS_DIR``, else the exports folder of the project's settings."""
    if os.environ.get(EXPORTS_ENV):
        return Path(os.environ[EXPORTS_ENV]).expanduser().resolve()
    from etl_helpers.settings import load_settings

    return load_settings().exports_dir


@dataclass(frozen=True)
class ExportFile:
    path: str          # relative to the exports folder
    sha256: str
    rows: int | None
    bytes: int | None


@dataclass(frozen=True)
class Run:
    """One run as its manifest describes it."""

    run_date: str
    run_id: str
    status: str
    source: str
    currency: str
    started_at: str | None
    finished_at: str | None
    steps: list[dict[str, Any]]
    loads: list[dict[str, Any]]
    files: dict[str, ExportFile] = field(repr=False)
    manifest_path: Path
    manifest_sha256: str
    published: bool     # the dated manifest (what the exports hold), not a run record

    @property
    def key(self) -> str:
        return f"{self.run_date}/{self.run_id}"


def parse_manifest(text: str, manifest_path: Path, published: bool) -> Run:
    """A manifest's JSON as a :class:`Run`; fields a manifest may lack get their defaults."""
    raw = json.loads(text)
    files = {
        entry["path"]: ExportFile(entry["path"], entry["sha256"], entry.get("rows"), entry.get("bytes"))
        for entry in raw.get("files") or []
    }
    run_id = raw.get("run_id")
    return Run(
        run_date=str(raw["run_date"]),
        run_id=str(run_id) if run_id is not None else manifest_path.parent.name,
        status=str(raw.get("status") or "unknown"),
        source=str(raw.get("source") or ""),
        currency=str(raw.get("currency") or DEFAULT_CURRENCY),
        started_at=raw.get("started_at"),
        finished_at=raw.get("finished_at"),
        steps=list(raw.get("steps") or []),
        loads=list(raw.get("loads") or []),
        files=files,
        manifest_path=manifest_path,
        manifest_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        published=published,
    )


def published_manifests(root: Path) -> list[Path]:
    """The dated manifests, newest date first."""
    folder = root / _PIPELINE
    if not folder.is_dir():
        return []
    dated = [p for p in folder.iterdir() if p.is_dir() and _ISO_DATE.match(p.name)]
    return [p / _MANIFEST for p in sorted(dated, reverse=True) if (p / _MANIFEST).is_file()]


def run_record_manifests(root: Path, run_date: str) -> list[Path]:
    """The manifests of every run of a date (none when the runner keeps no run records)."""
    folder = root / _PIPELINE / run_date / _RUNS
    if not folder.is_dir():
        return []
    return sorted(p / _MANIFEST for p in folder.iterdir() if (p / _MANIFEST).is_file())


def table_path(mart: str, run_date: str, name: str) -> str:
    """A published table's path relative to the exports folder, as the manifest lists it."""
    return f"{mart}/{run_date}/{name}.parquet"


def resolve(root: Path, relative: str) -> Path | None:
    """A path the manifest gives relative to the exports folder; None if it leaves the folder."""
    path = (root / relative).resolve()
    return path if path.is_relative_to(root.resolve()) else None


def report_path(root: Path, run: Run, relative: str) -> Path | None:
    """A step's HTML report: relative to the exports folder, else to the run's own folder."""
    for path in (resolve(root, relative), resolve(root, str(run.manifest_path.parent.relative_to(root) / relative))):
        if path is not None and path.is_file():
            return path
    return None


def rejects_dir(root: Path, run_date: str) -> Path:
    """The rejected rows of a run date (CSV files with a ``reason`` column)."""
    return root.parent / "data" / "processed" / run_date / "rejects"
