"""fact_vente_mart: sales tables computed *as of* a run date, with their charts.

Every table is one set-based query, ``sql/marts/vente_<table>.sql``, over the named view
``marts.v_sales_lines`` or the exact pre-aggregates built from it (``marts.agg_*``, see
``etl_helpers.aggregates``): nothing dated after the run date counts and every window ends on
it. Figures are net of returns (return lines carry negative quantities and amounts):

- ``quantity`` = net units, ``revenue`` = net amount rounded to the cent;
- ``tickets`` = distinct tickets holding at least one sale (non-return) line in the group;
- ``avg_basket`` = net revenue / tickets (null when there is no ticket).

pandas only types and draws the (small) results. ``build_table`` computes a table and writes
it as CSV and Parquet, sorted by its stable key, so a rerun is byte-identical;
``build_chart`` draws a chart and saves it under ``charts/`` (charts are drawn on plain
matplotlib Figures, not pyplot, so nothing piles up in long runs). See ``docs/marts_ventes.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import pandas as pd
import psycopg
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from etl_helpers import aggregates
from etl_helpers.exports import SavedChart, export_dir, save_chart, write_table
from etl_helpers.marts import as_date, read_sql_file, window
from etl_helpers.settings import Settings

log = logging.getLogger(__name__)

MART = "fact_vente_mart"
TOP_N = 20               # top_products_by_quantity
GROUP_TOP_N = 10         # top products per category / region / year
DAILY_DAYS = 90          # sales_daily window

# --------------------------------------------------------------------------- the tables


TRAILING_YEAR_DAYS = 365
HISTORY_START = date(1, 1, 1)  # top_products_by_year counts every year


def _trailing_year(run_date: str | date) -> dict[str, date]:
    last_day = as_date(run_date)
    return window(last_day - timedelta(days=TRAILING_YEAR_DAYS - 1), last_day)


def top_products_by_quantity(conn: psycopg.Connection, run_date: str | date, top_n: int = TOP_N) -> pd.DataFrame:
    """The ``top_n`` products by net quantity over [run_date - 364, run_date], revenue beside."""
    aggregates.check_current(conn, ("agg_product_region_month",))
    return read_sql_file(conn, "vente_top_products_by_quantity", **_trailing_year(run_date), top_n=top_n)


def top_products_by_category(conn: psycopg.Connection, run_date: str | date,
                             top_n: int = GROUP_TOP_N) -> pd.DataFrame:
    """The ``top_n`` products of each category by net quantity over the trailing year."""
    aggregates.check_current(conn, ("agg_product_region_month",))
    return read_sql_file(conn, "vente_top_products_by_category", **_trailing_year(run_date), top_n=top_n)


def top_products_by_region(conn: psycopg.Connection, run_date: str | date,
                           top_n: int = GROUP_TOP_N) -> pd.DataFrame:
    """The ``top_n`` products of each region by net quantity over the trailing year."""
    aggregates.check_current(conn, ("agg_product_region_month",))
    return read_sql_file(conn, "vente_top_products_by_region", **_trailing_year(run_date), top_n=top_n)


def top_products_by_year(conn: psycopg.Connection, run_date: str | date, top_n: int = GROUP_TOP_N) -> pd.DataFrame:
    """The ``top_n`` products of each calendar year up to the run date (its year partial)."""
    aggregates.check_current(conn, ("agg_product_region_month",))
    return read_sql_file(conn, "vente_top_products_by_year", **window(HISTORY_START, as_date(run_date)),
                         top_n=top_n)


def sales_by_region_month(conn: psycopg.Connection, run_date: str | date) -> pd.DataFrame:
    """Net sales per region and month, every month up to the run date's (partial) month."""
    aggregates.check_current(conn, ("agg_sales_store_month",))
    return read_sql_file(conn, "vente_sales_by_region_month", run_date=as_date(run_date))


def sales_by_store_month(conn: psycopg.Connection, run_date: str | date) -> pd.DataFrame:
    """Net sales per store and month, every month up to the run date's (partial) month."""
    aggregates.check_current(conn, ("agg_sales_store_month",))
    return read_sql_file(conn, "vente_sales_by_store_month", run_date=as_date(run_date))


def sales_by_category_month(conn: psycopg.Connection, run_date: str | date) -> pd.DataFrame:
    """Net sales per product category and month, up to the run date's (partial) month."""
    aggregates.check_current(conn, ("agg_category_day",))
    return read_sql_file(conn, "vente_sales_by_category_month", run_date=as_date(run_date))


def sales_daily(conn: psycopg.Connection, run_date: str | date, days: int = DAILY_DAYS) -> pd.DataFrame:
    """One row per day of the ``days`` days ending on the run date, zero days included."""
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    aggregates.check_current(conn, ("agg_sales_store_day",))
    return read_sql_file(conn, "vente_sales_daily", run_date=as_date(run_date), days=days)


def sales_by_weekday_hour(conn: psycopg.Connection, run_date: str | date) -> pd.DataFrame:
    """Net sales per weekday x local hour over the trailing year (all 168 cells)."""
    aggregates.check_current(conn, ("agg_sales_hour_day",))
    return read_sql_file(conn, "vente_sales_by_weekday_hour", run_date=as_date(run_date))


def sales_period_comparison(conn: psycopg.Connection, run_date: str | date) -> pd.DataFrame:
    """Month- and year-to-date against the same period a year earlier: total, region, banner."""
    aggregates.check_current(conn, ("agg_sales_store_day",))
    return read_sql_file(conn, "vente_sales_period_comparison", run_date=as_date(run_date))


@dataclass(frozen=True)
class MartTable:
    name: str
    compute: Callable[..., pd.DataFrame]
    sort_by: tuple[str, ...]  # the table's key: a stable row order for byte-identical exports


TABLES: dict[str, MartTable] = {
    t.name: t
    for t in (
        MartTable("top_products_by_quantity", top_products_by_quantity, ("rank",)),
        MartTable("top_products_by_category", top_products_by_category, ("category", "rank")),
        MartTable("top_products_by_region", top_products_by_region, ("region_code", "rank")),
        MartTable("top_products_by_year", top_products_by_year, ("year", "rank")),
        MartTable("sales_by_region_month", sales_by_region_month, ("month", "region_code")),
        MartTable("sales_by_store_month", sales_by_store_month, ("month", "store_code")),
        MartTable("sales_by_category_month", sales_by_category_month, ("month", "category")),
        MartTable("sales_daily", sales_daily, ("sale_date",)),
        MartTable("sales_by_weekday_hour", sales_by_weekday_hour, ("day_of_week", "hour")),
        MartTable("sales_period_comparison", sales_period_comparison, ("period", "dimension", "code")),
    )
}


def mart_dir(run_date: str | date, settings: Settings | None = None) -> Path:
    """``exports/fact_vente_mart/<run_date>/`` (created)."""
    return export_dir(MART, as_date(run_date).isoformat(), settings)


def build_table(conn: psycopg.Connection, name: str, run_date: str | date, directory: Path,
                **params) -> pd.DataFrame:
    """Compute table ``name`` as of ``run_date``, write ``<name>.csv`` and ``.parquet`` into
    ``directory`` sorted by the table's key, and return it."""
    if name not in TABLES:
        raise KeyError(f"unknown fact_vente_mart table {name!r}; one of {', '.join(TABLES)}")
    table = TABLES[name]
    frame = table.compute(conn, run_date, **params)
    write_table(frame, name, directory, sort_by=list(table.sort_by))
    return frame


# --------------------------------------------------------------------------- charts


def _euros(value: float, _position=None) -> str:
    return f"{value:,.0f} €".replace(",", "\u202f")


def _figure(width: float, height: float, nrows: int = 1, ncols: int = 1, **kwargs):
    figure = Figure(figsize=(width, height), layout="constrained")
    with sns.axes_style("whitegrid"):  # a local style: no global matplotlib state changes
        return figure, figure.subplots(nrows, ncols, squeeze=False, **kwargs)


def plot_top_products(frame: pd.DataFrame) -> Figure:
    """Horizontal bars of net quantity per product (top_products_by_quantity), revenue beside."""
    figure, axes = _figure(10, 0.35 * max(len(frame), 4) + 1.5)
    ax = axes[0][0]
    if frame.empty:
        ax.set_title("Top products by net quantity: no sales in the window")
        return figure
    data = frame.sort_values("rank").assign(
        label=lambda f: f["product_code"] + "  " + f["product_name"].str.slice(0, 40))
    sns.barplot(data=data, y="label", x="quantity", hue="category", dodge=False, ax=ax, orient="h")
    for position, (_, row) in enumerate(data.iterrows()):
        ax.annotate(_euros(row["revenue"]), (row["quantity"], position), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8)
    ax.set(xlabel="net quantity (units)", ylabel="",
           title=f"Top {len(data)} products by net quantity, {data['period_start'].iloc[0]} to "
                 f"{data['period_end'].iloc[0]} (net revenue beside)")
    ax.margins(x=0.15)
    ax.legend(title="category", loc="lower right", fontsize=8)
    return figure


def plot_monthly_sales_by_region(frame: pd.DataFrame) -> Figure:
    """Lines of net revenue per month, one per region (sales_by_region_month)."""
    figure, axes = _figure(11, 5)
    ax = axes[0][0]
    if frame.empty:
        ax.set_title("Net revenue by region and month: no sales")
        return figure
    data = frame.assign(month=pd.to_datetime(frame["month"]))
    sns.lineplot(data=data, x="month", y="revenue", hue="region_name", marker="o", ax=ax)
    last = frame.sort_values("month").iloc[-1]
    note = f" (last month up to {last['period_end']})" if bool(last["is_partial_month"]) else ""
    ax.set(xlabel="", ylabel="net revenue", title=f"Net revenue by region and month{note}")
    ax.yaxis.set_major_formatter(FuncFormatter(_euros))
    ax.legend(title="region", fontsize=8)
    return figure


def plot_sales_daily(frame: pd.DataFrame) -> Figure:
    """Bars of daily net revenue (weekends shaded) with the trailing 7-day average (sales_daily)."""
    figure, axes = _figure(12, 4.5)
    ax = axes[0][0]
    if frame.empty:
        return figure
    data = frame.assign(sale_date=pd.to_datetime(frame["sale_date"]),
                        day=lambda f: f["is_weekend"].map({True: "weekend", False: "weekday"}))
    palette = {"weekday": "#4c72b0", "weekend": "#dd8452"}
    for kind, part in data.groupby("day"):
        ax.bar(part["sale_date"], part["revenue"], width=0.8, color=palette[kind], label=kind)
    sns.lineplot(data=data, x="sale_date", y="revenue_7d_avg", color="black", ax=ax,
                 label="7-day average")
    ax.set(xlabel="", ylabel="net revenue",
           title=f"Daily net revenue, {len(data)} days ending {frame['sale_date'].iloc[-1]}")
    ax.yaxis.set_major_formatter(FuncFormatter(_euros))
    ax.legend(fontsize=8)
    return figure


def plot_weekday_hour(frame: pd.DataFrame) -> Figure:
    """Heatmap of average net revenue per day, by weekday and hour (sales_by_weekday_hour)."""
    figure, axes = _figure(12, 4.5)
    ax = axes[0][0]
    if frame.empty:
        return figure
    active = frame.loc[frame["revenue"] != 0, "hour"]
    first, last = (int(active.min()), int(active.max())) if len(active) else (0, 23)
    shown = frame[frame["hour"].between(first, last)]
    grid = shown.pivot(index=["day_of_week", "weekday"], columns="hour", values="revenue_per_day")
    grid.index = grid.index.get_level_values("weekday")
    sns.heatmap(grid, cmap="rocket_r", ax=ax, linewidths=0.5, cbar_kws={"label": "€ per day"})
    ax.set(xlabel="hour (Europe/Paris)", ylabel="",
           title="Average net revenue per day by weekday and hour, trailing year")
    return figure


def plot_period_comparison(frame: pd.DataFrame) -> Figure:
    """Bars of net revenue now vs a year earlier, MTD and YTD, by region and by banner."""
    periods, dimensions = ["month_to_date", "year_to_date"], ["region", "banner"]
    figure, axes = _figure(13, 8, nrows=2, ncols=2)
    for i, period in enumerate(periods):
        for j, dimension in enumerate(dimensions):
            ax = axes[i][j]
            part = frame[(frame["period"] == period) & (frame["dimension"] == dimension)]
            if part.empty:
                ax.set_title(f"{period} by {dimension}: no sales")
                continue
            first = part.iloc[0]
            labels = part["code"] + "\n" + part["revenue_growth_pct"].map(
                lambda g: "n/a" if pd.isna(g) else f"{g:+.1f} %")
            long = pd.concat([
                pd.DataFrame({"label": labels, "revenue": part["revenue"],
                              "period": f"{first['current_start']} to {first['current_end']}"}),
                pd.DataFrame({"label": labels, "revenue": part["previous_revenue"],
                              "period": f"{first['previous_start']} to {first['previous_end']}"}),
            ])
            sns.barplot(data=long, x="label", y="revenue", hue="period", ax=ax)
            ax.set(xlabel="", ylabel="net revenue", title=f"{period.replace('_', ' ')} by {dimension}")
            ax.yaxis.set_major_formatter(FuncFormatter(_euros))
            ax.legend(fontsize=8)
    return figure


CHARTS: dict[str, Callable[[pd.DataFrame], Figure]] = {
    "top_products": plot_top_products,
    "monthly_sales_by_region": plot_monthly_sales_by_region,
    "sales_daily": plot_sales_daily,
    "sales_by_weekday_hour": plot_weekday_hour,
    "sales_period_comparison": plot_period_comparison,
}
CHART_SOURCE = {  # chart -> the table it draws
    "top_products": "top_products_by_quantity",
    "monthly_sales_by_region": "sales_by_region_month",
    "sales_daily": "sales_daily",
    "sales_by_weekday_hour": "sales_by_weekday_hour",
    "sales_period_comparison": "sales_period_comparison",
}


def build_chart(name: str, frame: pd.DataFrame, directory: Path) -> SavedChart:
    """Draw chart ``name`` from its table and save it as ``charts/<name>.png``."""
    if name not in CHARTS:
        raise KeyError(f"unknown fact_vente_mart chart {name!r}; one of {', '.join(CHARTS)}")
    figure = CHARTS[name](frame)
    return save_chart(figure, name, directory)


def build_mart(conn: psycopg.Connection, run_date: str | date, settings: Settings | None = None, *,
               top_n: int = TOP_N, group_top_n: int = GROUP_TOP_N, days: int = DAILY_DAYS,
               charts: bool = True) -> dict[str, pd.DataFrame]:
    """Every table (and chart) of fact_vente_mart as of ``run_date``, written to its export folder."""
    directory = mart_dir(run_date, settings)
    params: dict[str, dict] = {
        "top_products_by_quantity": {"top_n": top_n},
        "top_products_by_category": {"top_n": group_top_n},
        "top_products_by_region": {"top_n": group_top_n},
        "top_products_by_year": {"top_n": group_top_n},
        "sales_daily": {"days": days},
    }
    frames = {name: build_table(conn, name, run_date, directory, **params.get(name, {})) for name in TABLES}
    if charts:
        for chart, source in CHART_SOURCE.items():
            build_chart(chart, frames[source], directory)
    return frames
