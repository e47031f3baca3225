"""The colours and symbols the reports and the dashboard share (etl_helpers.palette)."""

from __future__ import annotations

import subprocess
import sys

import seaborn as sns

from etl_helpers import charts, palette
from etl_helpers.marts import fidelite
from etl_helpers.settings import PROJECT_ROOT


def test_the_palette_is_seaborns_default_the_reports_draw_with():
    assert [colour.lower() for colour in palette.PALETTE] == sns.color_palette("deep").as_hex()


def test_every_segment_has_a_colour_and_the_reports_use_the_same_ones():
    assert set(palette.SEGMENT_COLORS) == set(palette.SEGMENTS)
    assert fidelite.SEGMENTS is palette.SEGMENTS and fidelite.SEGMENT_COLORS is palette.SEGMENT_COLORS
    assert {segment for row in fidelite.SEGMENT_GRID.values() for segment in row} == set(palette.SEGMENTS)
    assert charts.SYMBOLS is palette.CURRENCY_SYMBOLS


def test_the_dashboard_starts_without_a_plotting_library():
    """The dashboard's first page in a new app does not pay for matplotlib and seaborn (about a second)."""
    code = "import sys, dashboard.ui; print(sorted({'matplotlib', 'seaborn'} & set(sys.modules)))"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shown.stdout.strip() == "[]"


def test_the_exports_and_the_dashboards_downloads_neutralise_the_same_formulas():
    """One rule (etl_helpers.writing): the four operators, and a tab or carriage return first."""
    import pandas as pd
    from dashboard import ui

    from etl_helpers import exports

    frame = pd.DataFrame({"text": ["=1+1", "+33 6", "-cmd", "@SUM(A1)", "\tx", "\r=1", "plain"]})
    expected = ["'=1+1", "'+33 6", "'-cmd", "'@SUM(A1)", "'\tx", "'\r=1", "plain"]
    assert exports.neutralise_formulas(frame)["text"].tolist() == expected
    assert ui.csv_bytes(frame) == exports.neutralise_formulas(frame).to_csv(index=False, lineterminator="\n").encode()
