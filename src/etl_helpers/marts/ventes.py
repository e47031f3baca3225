"""fact_vente_mart: sales tables computed *as of* a run date, with their charts.

Every table is one set-based query, ``sql/marts/vente_<table>.sql``, over the named view
``marts.v_sales_lines`` or the exact pre-aggregates built from it (``marts.agg_*``, see
``etl_helpers.aggregates``): nothing dated after the run date counts and every window ends on
it. Figures are net of returns (return lines carry negative quantities and amounts):

- ``quantity`` = net units, ``revenue`` = net amount rounded to the cent;
- ``tickets`` = distinct tickets holding at least one sale (non-return) line in the group;
- ``avg_basket`` = net revenue / tickets (null when there is no ticket).

The tables are declared in :data:`etl_helpers.marts.TABLES`; this module holds the windows
of the queries that read monthly aggregates and the charts (plain matplotlib figures in the
house style of :mod:`etl_helpers.charts`). See ``docs/marts_ventes.md``.
"""

from __future__ import annotations

import logging
import math
from datetime import date, timedelta

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from etl_helpers import charts

log = logging.getLogger(__name__)

TRAILING_YEAR_DAYS = 365
HISTORY_START = date(1, 1, 1)  # top_products_by_year counts every year
REGION_PANELS = 4  # monthly_sales_by_region: panels per row (one panel per region)


def trailing_year(run_date: date) -> dict[str, date]:
    """The bounds of [run_date - 364, run_date]."""
    return {"first_day": run_date - timedelta(days=TRAILING_YEAR_DAYS - 1), "last_day": run_date}


def whole_history(run_date: date) -> dict[str, date]:
    """The bounds of every day up to the run date."""
    return {"first_day": HISTORY_START, "last_day": run_date}


# --------------------------------------------------------------------------- charts


def plot_top_products(frame: pd.DataFrame, currency: str = charts.DEFAULT_CURRENCY) -> Figure:
    """Horizontal bars of net quantity per product (top_products_by_quantity), revenue beside."""
    figure, ax = charts.single(10, 0.35 * max(len(frame), 4) + 1.5)
    if frame.empty:
        ax.set_title("Top products by net quantity: no sales in the window")
        return figure
    data = frame.sort_values("rank").assign(
        label=lambda f: f["product_code"] + "  " + f["product_name"].str.slice(0, 40)
    )
    sns.barplot(data=data, y="label", x="quantity", hue="category", dodge=False, ax=ax, orient="h")
    for position, (_, row) in enumerate(data.iterrows()):
        ax.annotate(
            charts.money(row["revenue"], currency),
            (row["quantity"], position),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set(
        xlabel="net quantity (units)",
        ylabel="",
        title=f"Top {len(data)} products by net quantity, {data['period_start'].iloc[0]} to "
        f"{data['period_end'].iloc[0]} (net revenue beside)",
    )
    ax.margins(x=0.15)
    ax.legend(title="category", loc="lower right", fontsize=8)
    return figure


def plot_monthly_sales_by_region(frame: pd.DataFrame, currency: str = charts.DEFAULT_CURRENCY) -> Figure:
    """Net revenue per month, one small panel per region on a shared scale (sales_by_region_month):
    readable at a dozen regions, where one line chart would tangle similar colours."""
    if frame.empty:
        return charts.nothing_to_show("Net revenue by region and month: no sales")
    data = frame.assign(month=pd.to_datetime(frame["month"]))
    regions = data.groupby("region_name")["revenue"].sum().sort_values(ascending=False).index.tolist()
    ncols = min(REGION_PANELS, len(regions))
    nrows = math.ceil(len(regions) / ncols)
    figure, axes = charts.figure(3.2 * ncols + 1, 2.4 * nrows + 0.8, nrows=nrows, ncols=ncols, sharex=True, sharey=True)
    for index, ax in enumerate(axes.flat):
        if index >= len(regions):
            ax.set_visible(False)
            continue
        part = data[data["region_name"] == regions[index]].sort_values("month")
        ax.plot(part["month"], part["revenue"], marker="o", markersize=3, color="#4c72b0")
        ax.set_title(regions[index], fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        ax.tick_params(axis="y", labelsize=8)
        charts.money_axis(ax, currency)
    charts.month_ticks(axes[0][0], data["month"])  # the panels share their x axis
    last = frame.sort_values("month").iloc[-1]
    note = f" (last month up to {last['period_end']})" if bool(last["is_partial_month"]) else ""
    figure.suptitle(f"Net revenue by region and month{note}")
    return figure


def plot_sales_daily(frame: pd.DataFrame, currency: str = charts.DEFAULT_CURRENCY) -> Figure:
    """Bars of daily net revenue (weekends shaded) with the trailing 7-day average (sales_daily)."""
    figure, ax = charts.single(12, 4.5)
    if frame.empty:
        return figure
    data = frame.assign(
        sale_date=pd.to_datetime(frame["sale_date"]),
        day=lambda f: f["is_weekend"].map({True: "weekend", False: "weekday"}),
    )
    palette = {"weekday": "#4c72b0", "weekend": "#dd8452"}
    for kind, part in data.groupby("day"):
        ax.bar(part["sale_date"], part["revenue"], width=0.8, color=palette[kind], label=kind)
    sns.lineplot(data=data, x="sale_date", y="revenue_7d_avg", color="black", ax=ax, label="7-day average")
    ax.set(
        xlabel="",
        ylabel="net revenue",
        title=f"Daily net revenue, {len(data)} days ending {frame['sale_date'].iloc[-1]}",
    )
    charts.money_axis(ax, currency)
    ax.legend(fontsize=8)
    return figure


def plot_weekday_hour(frame: pd.DataFrame, currency: str = charts.DEFAULT_CURRENCY) -> Figure:
    """Heatmap of average net revenue per day, by weekday and hour (sales_by_weekday_hour)."""
    figure, ax = charts.single(12, 4.5)
    if frame.empty:
        return figure
    active = frame.loc[frame["revenue"] != 0, "hour"]
    first, last = (int(active.min()), int(active.max())) if len(active) else (0, 23)
    shown = frame[frame["hour"].between(first, last)]
    grid = shown.pivot(index=["day_of_week", "weekday"], columns="hour", values="revenue_per_day")
    grid.index = grid.index.get_level_values("weekday")
    sns.heatmap(grid, cmap="rocket_r", ax=ax, linewidths=0.5, cbar_kws={"label": f"{charts.SYMBOLS[currency]} per day"})
    ax.set(
        xlabel="hour (local time)", ylabel="", title="Average net revenue per day by weekday and hour, trailing year"
    )
    return figure


def plot_period_comparison(frame: pd.DataFrame, currency: str = charts.DEFAULT_CURRENCY) -> Figure:
    """Horizontal bars of net revenue now vs a year earlier, MTD and YTD, by region and by banner.
    Each group is a row labelled with its code and growth, so a dozen regions never collide."""
    periods, dimensions = ["month_to_date", "year_to_date"], ["region", "banner"]
    groups = max(
        [len(frame[(frame["period"] == p) & (frame["dimension"] == d)]) for p in periods for d in dimensions] + [2]
    )
    figure, axes = charts.figure(14, 2 * (0.45 * groups + 1.2), nrows=2, ncols=2)
    for i, period in enumerate(periods):
        for j, dimension in enumerate(dimensions):
            ax = axes[i][j]
            part = frame[(frame["period"] == period) & (frame["dimension"] == dimension)]
            if part.empty:
                ax.set_title(f"{period} by {dimension}: no sales")
                continue
            first = part.iloc[0]
            labels = (
                part["code"] + "  " + part["revenue_growth_pct"].map(lambda g: "n/a" if pd.isna(g) else f"{g:+.1f} %")
            )
            long = pd.concat(
                [
                    pd.DataFrame(
                        {
                            "label": labels,
                            "revenue": part["revenue"],
                            "period": f"{first['current_start']} to {first['current_end']}",
                        }
                    ),
                    pd.DataFrame(
                        {
                            "label": labels,
                            "revenue": part["previous_revenue"],
                            "period": f"{first['previous_start']} to {first['previous_end']}",
                        }
                    ),
                ]
            )
            sns.barplot(data=long, y="label", x="revenue", hue="period", orient="h", ax=ax)
            ax.set(ylabel="", xlabel="net revenue", title=f"{period.replace('_', ' ')} by {dimension}")
            ax.tick_params(axis="y", labelsize=8)
            ax.tick_params(axis="x", labelrotation=30, labelsize=8)
            charts.money_axis(ax, currency, axis="x")
            ax.legend(fontsize=8)
    return figure
