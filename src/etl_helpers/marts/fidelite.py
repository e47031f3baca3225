"""fact_fidelite_mart: loyalty tables computed "as of" a run date.

Nothing after the run date counts and every trailing window ends on it: with
``window_days=365`` the window is ``(run_date - 365, run_date]``, 365 days including the run
date. The tables are declared in :data:`etl_helpers.marts.TABLES` (most are one SQL file of
``sql/marts/fidelite_*.sql``); this module holds what pandas does on their (small) results:

- :func:`segments_by` (the roll-ups of ``rfm_customers`` by store, region and brand);
- :func:`loyalty_monthly_totals`, :func:`segment_category_affinity`, :func:`category_correlation`;
- the charts (``plot_*``, plain matplotlib figures in the house style of :mod:`etl_helpers.charts`).

See ``docs/marts_fidelite.md`` for how to read each table. Association rules live in :mod:`.rules`.
"""

from __future__ import annotations

import logging
from datetime import date

import pandas as pd
import psycopg
import seaborn as sns
from matplotlib.figure import Figure

from etl_helpers import charts
from etl_helpers.marts.query import read_sql_file
from etl_helpers.palette import SEGMENT_COLORS, SEGMENTS

log = logging.getLogger(__name__)

# The segment map (R score x F score, 5 = best); the SQL holds the same grid
# (sql/marts/fidelite_rfm_customers.sql) and docs/marts_fidelite.md shows it.
SEGMENT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    #   F = 1          F = 2                  F = 3                  F = 4        F = 5
    5: ("new", "potential loyalists", "potential loyalists", "champions", "champions"),
    4: ("new", "potential loyalists", "potential loyalists", "loyal", "loyal"),
    3: ("hibernating", "hibernating", "at risk", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at risk", "at risk", "can't lose"),
    1: ("lost", "lost", "at risk", "at risk", "can't lose"),
}

_LABELS = {
    "store_name": "store",
    "store_code": "store",
    "region_name": "region",
    "region_code": "region",
    "banner": "banner (brand)",
}
_GROUPS = {
    "store": (
        ["store_code", "store_name", "banner", "region_code"],
        {"main_store_code": "store_code", "main_store_name": "store_name"},
    ),
    "region": (["region_code", "region_name"], {}),
    "brand": (["banner"], {}),
}


# --------------------------------------------------------------------------- RFM and segments


def segments_by(rfm: pd.DataFrame, level: str) -> pd.DataFrame:
    """Customers and sales per segment for each store, region or brand (banner).

    Each customer counts once, at their main store (its region and banner on the run date);
    ``sales`` is their net spend over the RFM window (in every store). Every segment appears
    for every group (zeros included); shares are within the group.
    """
    if level not in _GROUPS:
        raise ValueError(f"level must be one of {', '.join(_GROUPS)}, got {level!r}")
    keys, renames = _GROUPS[level]
    data = rfm.rename(columns=renames)
    groups = data[keys].drop_duplicates().sort_values(keys, kind="mergesort")
    grid = groups.merge(pd.DataFrame({"segment": list(SEGMENTS)}), how="cross")
    counts = (
        data.groupby([keys[0], "segment"], sort=True)
        .agg(customers=("customer_code", "size"), sales=("monetary", "sum"))
        .reset_index()
    )
    frame = grid.merge(counts, on=[keys[0], "segment"], how="left")
    frame["customers"] = frame["customers"].fillna(0).astype("int64")
    frame["sales"] = frame["sales"].fillna(0.0).round(2)
    totals = frame.groupby(keys[0])[["customers", "sales"]].transform("sum")
    frame["customer_share"] = frame["customers"] / totals["customers"]
    frame["sales_share"] = (frame["sales"] / totals["sales"]).where(totals["sales"] != 0)
    frame["segment_order"] = frame["segment"].map({s: i for i, s in enumerate(SEGMENTS, start=1)})
    columns = [*keys, "segment_order", "segment", "customers", "customer_share", "sales", "sales_share"]
    return frame[columns].sort_values([keys[0], "segment_order"], kind="mergesort").reset_index(drop=True)


def segments_table(level: str):
    """The ``segments_by_<level>`` table of the registry: :func:`segments_by` of ``rfm_customers``."""

    def derive(conn: psycopg.Connection, run_date: date, rfm: pd.DataFrame) -> pd.DataFrame:
        return segments_by(rfm, level)

    return derive


# --------------------------------------------------------------------------- loyalty programme


def loyalty_monthly_totals(kpis: pd.DataFrame) -> pd.DataFrame:
    """All stores per month: sums of the additive columns, and their ratios recomputed.

    Active members are not additive across stores (a member may shop in two); the sum is
    shown as ``member_store_visits`` to say so.
    """
    totals = (
        kpis.groupby("month", sort=True)[
            ["active_members", "net_sales", "carded_sales", "points_earned", "points_redeemed"]
        ]
        .sum()
        .reset_index()
        .rename(columns={"active_members": "member_store_visits"})
    )
    totals["carded_share"] = (totals["carded_sales"] / totals["net_sales"]).where(totals["net_sales"] != 0)
    totals["redemption_rate"] = (totals["points_redeemed"] / totals["points_earned"]).where(
        totals["points_earned"] != 0
    )
    return totals


# --------------------------------------------------------------------------- categories


def segment_category_affinity(
    conn: psycopg.Connection, run_date: date, rfm: pd.DataFrame, *, window_days: int, target_top_n: int
) -> pd.DataFrame:
    """``segment_category_affinity``: per segment and category, the affinity index (100 = like
    all segmented customers) and the categories to target (``target_rank``, ``is_target``).

    ``rfm`` is ``rfm_customers`` for the same run date: its segments are bound as parameters,
    the spend is summed in the database.
    """
    return read_sql_file(
        conn,
        "fidelite_segment_category_affinity",
        run_date=run_date,
        window_days=window_days,
        target_top_n=target_top_n,
        customer_codes=rfm["customer_code"].astype(str).tolist(),
        segments=rfm["segment"].astype(str).tolist(),
    )


def spearman_matrix(purchase_days: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlation between categories of the customer x category purchase-day grid
    (a customer who never bought a category counts 0 days in it)."""
    grid = (
        purchase_days.pivot_table(
            index="customer_code", columns="category", values="purchase_days", aggfunc="sum", fill_value=0
        )
        .sort_index()
        .sort_index(axis=1)
    )
    return grid.astype("float64").corr(method="spearman")


def category_correlation(conn: psycopg.Connection, run_date: date, *, window_days: int) -> pd.DataFrame:
    """``category_correlation``: Spearman correlation, over carded customers active in the
    window, of their purchase days in each pair of categories (long format, both orders)."""
    days = read_sql_file(conn, "fidelite_category_purchase_days", run_date=run_date, window_days=window_days)
    matrix = spearman_matrix(days)
    long = matrix.rename_axis(index="category", columns="other_category").stack()
    frame = long.rename("spearman_rho").reset_index()
    frame["customers"] = days["customer_code"].nunique()
    return frame.sort_values(["category", "other_category"], kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------- charts


def plot_segment_distribution(rfm: pd.DataFrame, currency: str = charts.DEFAULT_CURRENCY) -> Figure:
    """Bars: customers per segment, with the segment's share of the window's spend."""
    counts = (
        rfm.groupby("segment")
        .agg(customers=("customer_code", "size"), sales=("monetary", "sum"))
        .reindex(list(SEGMENTS))
        .fillna(0)
        .reset_index()
    )
    total_sales = counts["sales"].sum()
    fig, ax = charts.single(9, 4.5)
    sns.barplot(data=counts, x="segment", y="customers", hue="segment", palette=SEGMENT_COLORS, legend=False, ax=ax)
    for patch, sales in zip(ax.patches, counts["sales"]):
        share = sales / total_sales if total_sales else 0.0
        ax.annotate(
            f"{share:.0%} of sales",
            (patch.get_x() + patch.get_width() / 2, patch.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xlabel("")
    ax.set_ylabel("customers")
    ax.set_title(f"RFM segments: {len(rfm)} carded customers")
    ax.tick_params(axis="x", rotation=30)
    return fig


def plot_segment_shares(
    segments: pd.DataFrame, by: str, value: str = "customer_share", currency: str = charts.DEFAULT_CURRENCY
) -> Figure:
    """Stacked bars: each group's segment mix (``by``: a label column of a segments_by_* table).
    The legend sits on the right of the bars, clear of the axis label."""
    if segments.empty or segments["customers"].sum() == 0:
        return charts.nothing_to_show(f"Segment mix by {_LABELS.get(by, by)}")
    wide = (
        segments.pivot_table(index=by, columns="segment", values=value, aggfunc="sum", fill_value=0)
        .reindex(columns=list(SEGMENTS), fill_value=0)
        .sort_index(ascending=False)
    )
    fig, ax = charts.single(11, 0.45 * len(wide) + 1.8)
    wide.plot(kind="barh", stacked=True, color=[SEGMENT_COLORS[s] for s in wide.columns], width=0.8, ax=ax)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(charts.percent_formatter())
    ax.set_xlabel("share of customers" if value == "customer_share" else "share of sales")
    ax.set_ylabel("")
    ax.legend(title="segment", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_title(f"Segment mix by {_LABELS.get(by, by)}")
    return fig


def plot_segments_by_region(segments: pd.DataFrame, currency: str = charts.DEFAULT_CURRENCY) -> Figure:
    return plot_segment_shares(segments, "region_name")


def plot_segments_by_brand(segments: pd.DataFrame, currency: str = charts.DEFAULT_CURRENCY) -> Figure:
    return plot_segment_shares(segments, "banner")


def plot_loyalty_trend(kpis: pd.DataFrame, currency: str = charts.DEFAULT_CURRENCY) -> Figure:
    """Two panels per month, all stores: points earned and redeemed; carded share and redemption rate."""
    totals = loyalty_monthly_totals(kpis)
    fig, axes = charts.figure(10, 7, nrows=2, sharex=True)
    top, bottom = axes[0][0], axes[1][0]
    x = range(len(totals))
    top.bar([i - 0.2 for i in x], totals["points_earned"], width=0.4, label="points earned", color="#4C72B0")
    top.bar([i + 0.2 for i in x], totals["points_redeemed"], width=0.4, label="points redeemed", color="#DD8452")
    top.set_ylabel("points")
    top.legend(frameon=False)
    top.set_title("Loyalty programme, all stores, by month")
    bottom.plot(list(x), totals["carded_share"], marker="o", label="carded share of sales")
    bottom.plot(list(x), totals["redemption_rate"], marker="s", label="redemption rate (redeemed / earned)")
    bottom.set_ylim(0, 1)
    bottom.yaxis.set_major_formatter(charts.percent_formatter())
    bottom.set_ylabel("rate")
    bottom.set_xticks(list(x), totals["month"], rotation=45)
    bottom.legend(frameon=False)
    return fig


def plot_penetration(penetration: pd.DataFrame, currency: str = charts.DEFAULT_CURRENCY) -> Figure:
    """Bars: active members per 10,000 inhabitants by region (regions without stores left out)."""
    if not (penetration["stores"] > 0).any():
        return charts.nothing_to_show("Loyalty penetration by region")
    data = penetration[penetration["stores"] > 0].sort_values("members_per_10k_inhabitants", ascending=False)
    fig, ax = charts.single(9, 0.4 * max(len(data), 2) + 1.2)
    sns.barplot(data=data, y="region_name", x="members_per_10k_inhabitants", color="#4C72B0", ax=ax)
    ax.set_xlabel("active members per 10,000 inhabitants")
    ax.set_ylabel("")
    ax.set_title("Loyalty penetration by region")
    return fig


def plot_category_correlation(correlation: pd.DataFrame, currency: str = charts.DEFAULT_CURRENCY) -> Figure:
    """Heatmap of the Spearman correlation between categories' purchase days."""
    if correlation.empty:
        return charts.nothing_to_show("Co-purchase of categories")
    matrix = correlation.pivot(index="category", columns="other_category", values="spearman_rho")
    size = 0.7 * len(matrix) + 2.5
    fig, ax = charts.single(size + 1.5, size)
    sns.heatmap(
        matrix,
        vmin=-1,
        vmax=1,
        center=0,
        cmap="vlag",
        annot=True,
        fmt=".2f",
        square=True,
        cbar_kws={"label": "Spearman rho"},
        ax=ax,
        annot_kws={"fontsize": 8},
    )
    ax.set_xlabel("")
    ax.set_ylabel("")
    customers = int(correlation["customers"].iloc[0])
    ax.set_title(f"Co-purchase of categories (purchase days, {customers} customers)")
    return fig


def plot_segment_affinity(affinity: pd.DataFrame, currency: str = charts.DEFAULT_CURRENCY) -> Figure:
    """Heatmap of the affinity index, segment x category (100 = like everyone)."""
    if affinity.empty:
        return charts.nothing_to_show("Category affinity by segment")
    matrix = affinity.pivot(index="segment", columns="category", values="affinity_index")
    matrix = matrix.reindex([s for s in SEGMENTS if s in matrix.index])
    fig, ax = charts.single(0.9 * len(matrix.columns) + 3, 0.6 * len(matrix) + 2.5)
    sns.heatmap(
        matrix,
        center=100,
        cmap="vlag",
        annot=True,
        fmt=".0f",
        cbar_kws={"label": "affinity index"},
        ax=ax,
        annot_kws={"fontsize": 8},
    )
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title("Category affinity by segment (100 = all segmented customers)")
    return fig
