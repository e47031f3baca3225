"""How the marts look: one theme for every chart, money in the source's currency, number
formats, and the one helper that shows a table to people in a notebook report.

Charts are drawn on plain matplotlib ``Figure`` objects (never pyplot), inside a local
seaborn style, so no global state changes and nothing piles up in a long run.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import Any

import matplotlib.dates as mdates
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from etl_helpers.palette import CURRENCY_SYMBOLS as SYMBOLS
from etl_helpers.sources import SOURCE_CURRENCY

log = logging.getLogger(__name__)

DEFAULT_CURRENCY = "EUR"
TABLE_ROWS = 20  # rows a report shows of a table; the rest is in the exported CSV
STYLE = "whitegrid"


def currency_for(source: str) -> str:
    """The ISO currency code of a source's amounts (``EUR`` for demo and canonical, ``USD`` for superstore)."""
    if source not in SOURCE_CURRENCY:
        raise ValueError(f"unknown source {source!r}; one of {', '.join(SOURCE_CURRENCY)}")
    return SOURCE_CURRENCY[source]


def check_currency(currency: str) -> str:
    if currency not in SYMBOLS:
        raise ValueError(f"currency must be one of {', '.join(SYMBOLS)}, got {currency!r}")
    return currency


def money(value: float, currency: str = DEFAULT_CURRENCY, decimals: int = 0) -> str:
    """``1 234 €`` or ``$1,234``: grouped digits, the currency's symbol where readers expect it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if currency == "USD":
        return f"{'-' if value < 0 else ''}${abs(value):,.{decimals}f}"
    return f"{value:,.{decimals}f} {SYMBOLS[currency]}".replace(",", "\u202f")


def money_axis(ax: Axes, currency: str, axis: str = "y") -> None:
    """Ticks of ``axis`` labelled as whole amounts of ``currency``."""
    formatter = FuncFormatter(lambda value, _position=None: money(value, currency))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


MONTH_TICKS = 8  # at most this many months labelled on a time axis


def month_ticks(ax: Axes, months: pd.Series) -> None:
    """Label a time axis at the first of every few months of ``months`` (month starts, as
    datetimes), ``Jan 2026``: ticks placed once, where matplotlib's date locator would search
    for them on every draw of every panel (most of the time a chart of monthly panels took)."""
    firsts = sorted(months.unique())
    step = math.ceil(len(firsts) / MONTH_TICKS) or 1
    shown = firsts[::step]
    ax.set_xticks([mdates.date2num(month) for month in shown], [f"{month:%b %Y}" for month in shown])


def figure(width: float, height: float, nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Figure, Any]:
    """A figure in the house style (constrained layout) and its grid of axes (always 2-D)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    with sns.axes_style(STYLE):  # a local style: no global matplotlib state changes
        return fig, fig.subplots(nrows, ncols, squeeze=False, **kwargs)


def single(width: float, height: float) -> tuple[Figure, Any]:
    """A house-style figure with one plot, and that plot's axes."""
    fig, axes = figure(width, height)
    return fig, axes[0][0]


def nothing_to_show(title: str) -> Figure:
    """A small figure saying there is no data (a run date before any sale, say)."""
    fig, ax = single(6, 1.5)
    ax.text(0.5, 0.5, "no data as of this run date", ha="center", va="center")
    ax.set_axis_off()
    ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- tables for people

# Column kinds, by name: shares and rates are fractions (0.25 -> 25.0 %), ``*_pct`` columns
# already hold percentages, money columns are amounts of the source's currency.
_SHARE = re.compile(r"(_share|_rate|^support|^confidence)$")
_PCT = re.compile(r"_pct$")
_MONEY = re.compile(r"(revenue|sales|monetary|basket|amount|spend)(_7d_avg|_per_day|_per_member)?$")


def column_format(column: str, currency: str = DEFAULT_CURRENCY):
    """How a report shows a column's values (None: pandas' default)."""
    if _SHARE.search(column):
        return lambda v: "" if pd.isna(v) else f"{v:.1%}".replace("%", " %")
    if _PCT.search(column):
        return lambda v: "" if pd.isna(v) else f"{v:+.1f} %"
    if _MONEY.search(column):
        return lambda v: "" if pd.isna(v) else money(v, currency, decimals=2)
    return None


def _plain_number(value: Any) -> str:
    """A float as people write it: no decimals when whole (a quantity), at most four otherwise."""
    if pd.isna(value):
        return ""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.4f}".rstrip("0")


@dataclass(frozen=True)
class ReportTable:
    """A table as a report shows it: no index, percentages as %, money with two decimals,
    blanks instead of NaN, at most ``rows`` rows (the first, or the ``last``: the latest of a
    table ordered by time) and a line saying where the rest is."""

    frame: pd.DataFrame
    name: str | None = None
    rows: int = TABLE_ROWS
    currency: str = DEFAULT_CURRENCY
    last: bool = False

    @property
    def hidden(self) -> int:
        return max(len(self.frame) - self.rows, 0)

    def footer(self) -> str:
        if not self.hidden:
            return f"{len(self.frame)} rows" if self.name is None else f"{len(self.frame)} rows ({self.name}.csv)"
        where = f"{self.name}.csv" if self.name else "the full table"
        return f"… {self.hidden} {'earlier rows' if self.last else 'more'} in {where}"

    def shown(self) -> pd.DataFrame:
        return self.frame.tail(self.rows) if self.last else self.frame.head(self.rows)

    def _repr_html_(self) -> str:
        head = self.shown()
        formats = {
            c: column_format(str(c), self.currency) or _plain_number
            for c in head.columns
            if pd.api.types.is_float_dtype(head[c]) or column_format(str(c), self.currency)
        }
        styler = head.style.hide(axis="index").format(formats, na_rep="")
        return styler.to_html() + f"<p><em>{self.footer()}</em></p>"

    def __repr__(self) -> str:
        text = self.shown().to_string(index=False, na_rep="")
        return f"{text}\n{self.footer()}"


def show_table(
    frame: pd.DataFrame,
    name: str | None = None,
    *,
    rows: int = TABLE_ROWS,
    currency: str = DEFAULT_CURRENCY,
    last: bool = False,
) -> ReportTable:
    """The table formatted for a report (display it as a cell's result)."""
    return ReportTable(frame, name, rows, currency, last)


@dataclass(frozen=True)
class ReportWarning:
    """A warning a report shows in a box (and that was logged as a warning)."""

    message: str

    def _repr_html_(self) -> str:
        from html import escape

        return (
            '<div style="border-left:4px solid #d9822b;background:#fff4e5;padding:6px 10px">'
            f"<strong>Warning:</strong> {escape(self.message)}</div>"
        )

    def __repr__(self) -> str:
        return f"Warning: {self.message}"


def warn(message: str) -> ReportWarning:
    """Log ``message`` as a warning and return it as a block a notebook shows."""
    log.warning("%s", message)
    return ReportWarning(message)


def percent_formatter() -> FuncFormatter:
    """Ticks of fractions shown as percentages (0.25 -> 25 %)."""
    return FuncFormatter(lambda value, _position=None: f"{value:.0%}".replace("%", " %"))


def display(item: Any) -> None:
    """Show ``item`` in the notebook output (IPython), whatever the cell returns."""
    try:
        from IPython import get_ipython
        from IPython.display import display as ipython_display
    except ImportError:  # not in a notebook: the warning was logged
        return
    if get_ipython() is not None:
        ipython_display(item)
