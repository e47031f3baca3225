"""Run records: each run's folder and manifest, the atomic publication of a date's mart
folders with its manifest, and the history of runs (the layout is in the README).

- ``exports/pipeline/<date>/runs/<run_id>/``: every run's ``manifest.json``, ``run.log``,
  executed notebooks and HTML reports, never overwritten by another run;
- ``exports/<mart>/<date>/`` and ``exports/pipeline/<date>/manifest.json``: the published
  data of the last successful run of that date. A run builds its marts in a staging copy,
  removes the published manifest, swaps the staged folders in, then publishes its manifest:
  a run killed at any point never leaves a ``succeeded`` manifest over files it did not list.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import re
import secrets
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq

from etl_helpers.settings import MART_NAMES, Settings
from etl_helpers.writing import sha256_of, write_text_atomic

log = logging.getLogger(__name__)

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$")
MANIFEST = "manifest.json"


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def runs_dir(settings: Settings, run_date: date) -> Path:
    return settings.export_dir("pipeline", run_date.isoformat()) / "runs"


def run_dir(settings: Settings, run_date: date, run_id: str) -> Path:
    return runs_dir(settings, run_date) / run_id


def published_manifest_path(settings: Settings, run_date: date) -> Path:
    return settings.export_dir("pipeline", run_date.isoformat()) / MANIFEST


def read_manifest(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_manifest(path: Path, manifest: dict) -> None:
    write_text_atomic(path, json.dumps(manifest, indent=2, default=str) + "\n")


def staging_dir(run_folder: Path, mart: str) -> Path:
    return run_folder / "staging" / mart


def stage_mart(settings: Settings, run_date: date, run_folder: Path, mart: str) -> Path:
    """The run's working copy of ``exports/<mart>/<date>/``: a copy of the published files (not
    links: a notebook may rewrite a file in place), which the run's notebooks then overwrite."""
    staged = staging_dir(run_folder, mart)
    shutil.rmtree(staged, ignore_errors=True)
    published = settings.export_dir(mart, run_date.isoformat())
    if published.is_dir():
        shutil.copytree(published, staged)
    else:
        staged.mkdir(parents=True)
    return staged


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False if the
    system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0


def swap_in(staged: Path, target: Path) -> None:
    """Make ``staged`` the folder at ``target``; the previous one is deleted."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and _exchange(staged, target):
        shutil.rmtree(staged)
        return
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(staged, target)
        shutil.rmtree(old)
    else:
        os.replace(staged, target)


def _row_count(path: Path) -> int | None:
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    if path.suffix == ".csv":
        with path.open("rb") as stream:
            return max(sum(1 for _ in stream) - 1, 0)
    return None


def file_inventory(settings: Settings, run_date: date) -> list[dict]:
    """Every published file of the date's mart folders, with its rows and sha256."""
    files = []
    for mart in MART_NAMES:
        folder = settings.export_dir(mart, run_date.isoformat())
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
            files.append(
                {
                    "path": path.relative_to(settings.exports_dir).as_posix(),
                    "bytes": path.stat().st_size,
                    "rows": _row_count(path),
                    "sha256": sha256_of(path),
                }
            )
    return files


def merged_with_published(manifest: dict, previous: dict | None, step_order: list[str]) -> dict:
    """The manifest to publish: this run's steps and loads, plus the entries of steps (and
    loads) an earlier run published and this one did not redo (a partial run keeps them)."""
    merged = dict(manifest)

    def key(step: dict) -> tuple[str, str]:
        return step["notebook"], step["mart"]

    ran = {key(s): s for s in manifest["steps"] if s["status"] != "skipped"}
    skipped = {key(s): s for s in manifest["steps"] if s["status"] == "skipped"}
    kept = {key(s): s for s in (previous or {}).get("steps", []) if key(s) not in ran}
    steps = {**skipped, **kept, **ran}  # an entry of an earlier run stands over a step skipped now
    rank = {name: index for index, name in enumerate(step_order)}
    merged["steps"] = [steps[k] for k in sorted(steps, key=lambda k: (rank.get(k[0], len(rank)), k))]
    new_paths = {load["path"] for load in manifest["loads"]}
    merged["loads"] = [load for load in (previous or {}).get("loads", []) if load["path"] not in new_paths]
    merged["loads"] += manifest["loads"]
    return merged


def publish(
    settings: Settings, run_date: date, run_folder: Path, manifest: dict, staged_marts: list[str], step_order: list[str]
) -> dict:
    """Swap the run's staged mart folders in and publish its manifest (see the module's doc)."""
    published = published_manifest_path(settings, run_date)
    merged = merged_with_published(manifest, read_manifest(published), step_order)
    published.unlink(missing_ok=True)
    for mart in staged_marts:
        swap_in(staging_dir(run_folder, mart), settings.export_dir(mart, run_date.isoformat()))
    shutil.rmtree(run_folder / "staging", ignore_errors=True)
    merged["files"] = file_inventory(settings, run_date)
    write_manifest(published, merged)
    return merged


def history(settings: Settings) -> list[dict]:
    """Every recorded run, oldest first: date, status, duration, rows, report folder."""
    entries = []
    for path in settings.exports_dir.glob(f"pipeline/*/runs/*/{MANIFEST}"):
        manifest = read_manifest(path)
        if not manifest:
            continue
        started, finished = manifest.get("started_at"), manifest.get("finished_at")
        seconds = None
        if started and finished:
            seconds = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
        loads = manifest.get("loads", [])
        entries.append(
            {
                "run_id": manifest.get("run_id"),
                "run_date": manifest.get("run_date"),
                "status": manifest.get("status"),
                "source": manifest.get("source"),
                "started_at": started,
                "seconds": seconds,
                "rows_loaded": sum(load.get("rows_loaded") or 0 for load in loads),
                "rows_rejected": sum(load.get("rows_rejected") or 0 for load in loads),
                "report_folder": str(path.parent),
            }
        )
    return sorted(entries, key=lambda e: (e["started_at"] or "", e["run_id"] or ""))


def abandon_stale_runs(settings: Settings) -> list[str]:
    """Run folders left ``running`` by a killed process: marked ``abandoned``, their staged
    marts deleted (called under the run lock, when no other run can be running)."""
    closed = []
    for path in settings.exports_dir.glob(f"pipeline/*/runs/*/{MANIFEST}"):
        manifest = read_manifest(path)
        if manifest and manifest.get("status") == "running":
            manifest["status"], manifest["finished_at"] = "abandoned", manifest.get("finished_at") or now()
            write_manifest(path, manifest)
            shutil.rmtree(path.parent / "staging", ignore_errors=True)  # its unpublished marts
            closed.append(manifest.get("run_id") or path.parent.name)
    return closed
