"""Dated exports: tables as CSV and Parquet, charts as PNG, all byte-identical on rerun.

Every file is written to a temporary name and renamed into place (see ``writing``), rows
are sorted by the caller's key before writing, and no timestamp goes into any file.
"""

from __future__ import annotations

import io
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from etl_helpers.settings import Settings, load_settings
from etl_helpers.writing import write_bytes_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)


def export_dir(mart: str, run_date: str, settings: Settings | None = None) -> Path:
    """``exports/<mart>/<run_date>/`` (created)."""
    path = (settings or load_settings()).export_dir(mart, run_date)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_table(frame: pd.DataFrame, name: str, directory: Path, *, sort_by: list[str] | None = None) -> list[Path]:
    """Write ``<name>.csv`` and ``<name>.parquet``; rows sorted by ``sort_by`` (default: all columns)."""
    ordered = frame.sort_values(sort_by or list(frame.columns), kind="mergesort").reset_index(drop=True)
    csv_bytes = ordered.to_csv(index=False, lineterminator="\n").encode("utf-8")
    table = pa.Table.from_pandas(ordered, preserve_index=False).replace_schema_metadata(None)
    parquet = io.BytesIO()
    pq.write_table(table, parquet, compression="zstd")
    paths = [directory / f"{name}.csv", directory / f"{name}.parquet"]
    write_bytes_atomic(paths[0], csv_bytes)
    write_bytes_atomic(paths[1], parquet.getvalue())
    log.info("exported %s: %d rows", name, len(ordered))
    return paths


@dataclass(frozen=True)
class SavedChart:
    """A chart written to disk; a notebook displays it as the very PNG that was exported."""

    name: str
    path: Path
    figure: Figure

    def _repr_png_(self) -> bytes:
        return self.path.read_bytes()


def save_chart(figure: Figure, name: str, directory: Path) -> SavedChart:
    """Save a matplotlib figure as ``charts/<name>.png`` with no timestamp metadata. The figure
    is closed in pyplot if pyplot made it, so a notebook shows the saved PNG instead of drawing
    the figure a second time."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    path = directory / "charts" / f"{name}.png"
    write_bytes_atomic(path, buffer.getvalue())
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(figure)
    return SavedChart(name, path, figure)
