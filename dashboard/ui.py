"""What every page shares: the chosen run, number formats, the reports' colours,
tables with their CSV download, and messages for refused or missing exports."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.data import ExportMissing, ExportRefused, Selection
from etl_helpers.exports import neutralise_formulas
from etl_helpers.palette import CURRENCY_SYMBOLS, SEGMENT_COLORS, SEGMENTS
from etl_helpers.palette import PALETTE as REPORT_PALETTE

# The reports' colours: seaborn's default palette, the segment map's colours, weekday/weekend.
PALETTE = list(REPORT_PALETTE)
BLUE, ORANGE = PALETTE[0], PALETTE[1]
SEGMENT_SCALE = alt.Scale(domain=list(SEGMENTS), range=[SEGMENT_COLORS[s] for s in SEGMENTS])

SELECTION_KEY = "selection"
# rows a table shows in the page (the browser gets them all at every run of the page; the
# large scale's 40,000 RFM customers took seconds): its CSV download has every row
SHOWN_ROWS = 1_000


def selection() -> Selection:
    """The run chosen in the sidebar (set by the app before the page runs)."""
    return st.session_state[SELECTION_KEY]


def symbol(currency: str) -> str:
    return CURRENCY_SYMBOLS.get(currency, currency)


def money(value: float | None, currency: str, decimals: int = 0) -> str:
    """``12 345 €`` (a narrow space between thousands, as the reports) or ``$12,345``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    number = f"{value:,.{decimals}f}"
    if currency == "USD":
        return f"-${number[1:]}" if number.startswith("-") else f"${number}"
    return f"{number.replace(',', chr(0x202F))} {symbol(currency)}"


def count(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.0f}".replace(",", "\u202f")


def percent(value: float | None, decimals: int = 1, signed: bool = False) -> str:
    """A value already in percent (12.5 = 12.5 %)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:{'+' if signed else ''}.{decimals}f} %"


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return neutralise_formulas(frame).to_csv(index=False, lineterminator="\n").encode("utf-8")


def table(frame: pd.DataFrame, name: str, *, column_config: dict | None = None) -> None:
    """A table (its first ``SHOWN_ROWS`` rows) and its CSV download of every row (named after the
    table and the run date; made when the button is clicked, not on every run of the page)."""
    st.dataframe(frame.head(SHOWN_ROWS), hide_index=True, column_config=column_config)
    if len(frame) > SHOWN_ROWS:
        st.caption(f"The first {count(SHOWN_ROWS)} of {count(len(frame))} rows: filter or search to narrow them, "
                   "the download has them all.")
    st.download_button(f"Download {name}.csv", lambda: csv_bytes(frame),
                       file_name=f"{name}_{selection().run.run_date}.csv", mime="text/csv",
                       key=f"download_{name}", on_click="ignore")


def load(mart: str, name: str) -> pd.DataFrame | None:
    """A verified table of the chosen run; shows why and returns None when it cannot be shown."""
    chosen = selection()
    try:
        return data.table(chosen.root, chosen.run, mart, name)
    except ExportRefused as refused:
        st.error(f"Refused: {refused}. Rerun the pipeline for {chosen.run.run_date} to publish it again.",
                 icon=":material/block:")
    except ExportMissing as missing:
        st.info(f"Nothing to show: {missing}.")
    return None


def load_rows(mart: str, name: str, what: str) -> pd.DataFrame | None:
    """A verified table of the chosen run that has rows; shows why and returns None when it
    cannot be shown or its window holds no data (``what``: the data, as in :func:`no_rows`)."""
    frame = load(mart, name)
    if frame is not None and frame.empty:
        no_rows(what)
        return None
    return frame


def load_previous(mart: str, name: str) -> pd.DataFrame | None:
    """The same table from the run before, silently None when it cannot be read."""
    chosen = selection()
    if chosen.previous is None:
        return None
    try:
        return data.table(chosen.root, chosen.previous, mart, name)
    except (ExportRefused, ExportMissing):
        return None


def chart(spec: alt.Chart | alt.LayerChart) -> None:
    st.altair_chart(spec, width="stretch")


def no_rows(what: str) -> None:
    st.info(f"No data for {what} in this run's window.")
