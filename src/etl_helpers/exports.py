"""Dated exports: tables as CSV and Parquet, charts as PNG, all byte-identical on rerun.

Every file is written to a temporary name and renamed into place (see ``writing``), rows
are sorted by the caller's key before writing, and no timestamp goes into any file.

Formula neutralising (CSV only): a text value that starts with ``=``, ``+``, ``-`` or ``@``
would be run as a formula by a spreadsheet that opens the CSV, so it is written with a single
quote in front (``=HYPERLINK(...)`` -> ``'=HYPERLINK(...)``), which spreadsheets show as text.
Numbers are never changed (a negative amount stays ``-12.5``), and Parquet keeps every value
verbatim: read the Parquet file for the exact text.
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

from etl_helpers.writing import neutralise_formula, write_bytes_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text values are neutralised for spreadsheets (:func:`writing.neutralise_formula`:
    a leading single quote before ``=``, ``+``, ``-``, ``@``, a tab or a carriage return), for CSV
    files only: the exports and the dashboard's downloads."""
    result = frame.copy()
    for column in result.columns:
        values = result[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            neutralised = values.map(neutralise_formula)
            if not neutralised.equals(values):
                result[column] = neutralised
    return result


def write_table(frame: pd.DataFrame, name: str, directory: Path, *, sort_by: list[str] | None = None) -> list[Path]:
    """Write ``<name>.csv`` and ``<name>.parquet``; rows sorted by ``sort_by`` (default: all columns)."""
    ordered = frame.sort_values(sort_by or list(frame.columns), kind="mergesort").reset_index(drop=True)
    csv_bytes = neutralise_formulas(ordered).to_csv(index=False, lineterminator="\n").encode("utf-8")
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
