"""fact_fidelite_mart: loyalty tables computed "as of" a run date.

Nothing after the run date counts and every trailing window ends on it: with the default
``window_days=365`` the window is ``(run_date - 365, run_date]``, 365 days including the run
date. The heavy work is set-based SQL in ``sql/marts/fidelite_*.sql``; pandas only shapes
results (at most one row per customer). Association rules live in :mod:`.rules`.

Tables (see ``docs/marts_fidelite.md`` for how to read them):

- :func:`rfm_customers` (one row per carded customer with a purchase up to the run date);
- :func:`segments_by_store`, :func:`segments_by_region`, :func:`segments_by_brand`
  (roll-ups of ``rfm_customers``: each customer counts once, at their main store);
- :func:`loyalty_kpis` (store x month), :func:`penetration_by_region`,
  :func:`top_loyal_clients_by_store`, :func:`top_stores_by_loyal_customers`;
- :func:`segment_category_affinity`, :func:`category_correlation`.

Charts are ``plot_*`` functions returning a matplotlib figure (save with
``exports.save_chart``); :func:`export_table` writes a table with its stable sort key.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import psycopg

from etl_helpers import aggregates
from etl_helpers.exports import write_table
from etl_helpers.marts import as_date, read_sql_file

log = logging.getLogger(__name__)

MART = "fact_fidelite_mart"
WINDOW_DAYS = 365

# The segment map (R score x F score, 5 = best); the SQL holds the same grid
# (sql/marts/fidelite_rfm_customers.sql) and docs/marts_fidelite.md shows it.
SEGMENTS = ("champions", "loyal", "potential loyalists", "new", "at risk", "can't lose", "hibernating", "lost")
SEGMENT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    #   F = 1          F = 2                  F = 3                  F = 4        F = 5
    5: ("new", "potential loyalists", "potential loyalists", "champions", "champions"),
    4: ("new", "potential loyalists", "potential loyalists", "loyal", "loyal"),
    3: ("hibernating", "hibernating", "at risk", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at risk", "at risk", "can't lose"),
    1: ("lost", "lost", "at risk", "at risk", "can't lose"),
}
SEGMENT_COLORS = {
    "champions": "#1a9850", "loyal": "#66bd63", "potential loyalists": "#a6d96a", "new": "#4575b4",
    "at risk": "#fdae61", "can't lose": "#d73027", "hibernating": "#bababa", "lost": "#636363",
}

# Every exported table and the columns that make its row order stable (a unique key).
SORT_KEYS: dict[str, list[str]] = {
    "rfm_customers": ["customer_code"],
    "segments_by_store": ["store_code", "segment_order"],
    "segments_by_region": ["region_code", "segment_order"],
    "segments_by_brand": ["banner", "segment_order"],
    "loyalty_kpis": ["store_code", "month"],
    "penetration_by_region": ["region_code"],
    "top_loyal_clients_by_store": ["store_code", "rank"],
    "top_stores_by_loyal_customers": ["rank"],
    "product_rules": ["rank"],
    "category_rules": ["rank"],
    "segment_category_affinity": ["segment", "target_rank"],
    "category_correlation": ["category", "other_category"],
}

_LABELS = {"store_name": "store", "store_code": "store", "region_name": "region", "region_code": "region",
           "banner": "banner (brand)"}
_GROUPS = {
    "store": (["store_code", "store_name", "banner", "region_code"],
              {"main_store_code": "store_code", "main_store_name": "store_name"}),
    "region": (["region_code", "region_name"], {}),
    "brand": (["banner"], {}),
}


def export_table(frame: pd.DataFrame, name: str, directory: Path) -> list[Path]:
    """Write ``<name>.csv`` and ``.parquet`` sorted by the table's stable key (``SORT_KEYS``)."""
    if name not in SORT_KEYS:
        raise KeyError(f"unknown fact_fidelite_mart table {name!r}; known: {', '.join(SORT_KEYS)}")
    return write_table(frame, name, directory, sort_by=SORT_KEYS[name])


def _params(run_date, **extra) -> dict:
    params = {"run_date": as_date(run_date), **extra}
    for key in ("window_days", "months", "top_n"):
        if key in params and (not isinstance(params[key], int) or params[key] < 1):
            raise ValueError(f"{key} must be a positive integer, got {params[key]!r}")
    return params


# --------------------------------------------------------------------------- RFM and segments


def rfm_customers(conn: psycopg.Connection, run_date, *, window_days: int = WINDOW_DAYS) -> pd.DataFrame:
    """``rfm_customers``: recency, frequency, monetary, R/F/M scores, segment and main store
    of every carded customer with at least one purchase up to ``run_date``."""
    aggregates.check_current(conn, ("agg_customer_store_day", "agg_customer_store_month"))
    frame = read_sql_file(conn, "fidelite_rfm_customers", **_params(run_date, window_days=window_days))
    log.info("rfm_customers as of %s: %d customers", run_date, len(frame))
    return frame


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
    counts = (data.groupby([keys[0], "segment"], sort=True)
              .agg(customers=("customer_code", "size"), sales=("monetary", "sum")).reset_index())
    frame = grid.merge(counts, on=[keys[0], "segment"], how="left")
    frame["customers"] = frame["customers"].fillna(0).astype("int64")
    frame["sales"] = frame["sales"].fillna(0.0).round(2)
    totals = frame.groupby(keys[0])[["customers", "sales"]].transform("sum")
    frame["customer_share"] = frame["customers"] / totals["customers"]
    frame["sales_share"] = (frame["sales"] / totals["sales"]).where(totals["sales"] != 0)
    frame["segment_order"] = frame["segment"].map({s: i for i, s in enumerate(SEGMENTS, start=1)})
    columns = [*keys, "segment_order", "segment", "customers", "customer_share", "sales", "sales_share"]
    return frame[columns].sort_values([keys[0], "segment_order"], kind="mergesort").reset_index(drop=True)


def segments_by_store(rfm: pd.DataFrame) -> pd.DataFrame:
    """``segments_by_store``: segment mix of each store's customers (customers at their main store)."""
    return segments_by(rfm, "store")


def segments_by_region(rfm: pd.DataFrame) -> pd.DataFrame:
    """``segments_by_region``: segment mix per region of the customers' main store."""
    return segments_by(rfm, "region")


def segments_by_brand(rfm: pd.DataFrame) -> pd.DataFrame:
    """``segments_by_brand``: segment mix per banner (the store's brand) of the main store."""
    return segments_by(rfm, "brand")


# --------------------------------------------------------------------------- loyalty programme


def loyalty_kpis(conn: psycopg.Connection, run_date, *, months: int = 12) -> pd.DataFrame:
    """``loyalty_kpis``: per store and month (the ``months`` months up to ``run_date``): active
    members, net and carded sales, carded share, points earned and redeemed, redemption rate."""
    aggregates.check_current(conn, ("agg_customer_store_day",))
    return read_sql_file(conn, "fidelite_loyalty_kpis", **_params(run_date, months=months))


def loyalty_monthly_totals(kpis: pd.DataFrame) -> pd.DataFrame:
    """All stores per month: sums of the additive columns, and their ratios recomputed.

    Active members are not additive across stores (a member may shop in two); the sum is
    shown as ``member_store_visits`` to say so.
    """
    totals = (kpis.groupby("month", sort=True)
              [["active_members", "net_sales", "carded_sales", "points_earned", "points_redeemed"]]
              .sum().reset_index().rename(columns={"active_members": "member_store_visits"}))
    totals["carded_share"] = (totals["carded_sales"] / totals["net_sales"]).where(totals["net_sales"] != 0)
    totals["redemption_rate"] = (totals["points_redeemed"] / totals["points_earned"]).where(
        totals["points_earned"] != 0)
    return totals


def penetration_by_region(conn: psycopg.Connection, run_date, *, window_days: int = WINDOW_DAYS) -> pd.DataFrame:
    """``penetration_by_region``: active members (trailing window) per 10,000 inhabitants."""
    aggregates.check_current(conn, ("agg_customer_store_day",))
    return read_sql_file(conn, "fidelite_penetration_by_region", **_params(run_date, window_days=window_days))


def top_loyal_clients_by_store(conn: psycopg.Connection, run_date, *, window_days: int = WINDOW_DAYS,
                               top_n: int = 10) -> pd.DataFrame:
    """``top_loyal_clients_by_store``: each store's ``top_n`` customers by points earned there."""
    return read_sql_file(conn, "fidelite_top_loyal_clients_by_store",
                         **_params(run_date, window_days=window_days, top_n=top_n))


def top_stores_by_loyal_customers(conn: psycopg.Connection, run_date, *,
                                  window_days: int = WINDOW_DAYS) -> pd.DataFrame:
    """``top_stores_by_loyal_customers``: every store ranked by its active loyalty members."""
    aggregates.check_current(conn, ("agg_customer_store_day",))
    return read_sql_file(conn, "fidelite_top_stores_by_loyal_customers",
                         **_params(run_date, window_days=window_days))


# --------------------------------------------------------------------------- categories


def segment_category_affinity(conn: psycopg.Connection, run_date, rfm: pd.DataFrame, *,
                              window_days: int = WINDOW_DAYS, top_n: int = 3) -> pd.DataFrame:
    """``segment_category_affinity``: per segment and category, the affinity index (100 = like
    all segmented customers) and the categories to target (``target_rank``, ``is_target``).

    ``rfm`` is :func:`rfm_customers`' result for the same run date: its segments are bound
    as parameters, the spend is summed in the database.
    """
    return read_sql_file(conn, "fidelite_segment_category_affinity",
                         **_params(run_date, window_days=window_days, top_n=top_n),
                         customer_codes=rfm["customer_code"].astype(str).tolist(),
                         segments=rfm["segment"].astype(str).tolist())


def category_purchase_days(conn: psycopg.Connection, run_date, *, window_days: int = WINDOW_DAYS) -> pd.DataFrame:
    """Carded customer x category: distinct purchase days in the window (non-zero cells only)."""
    return read_sql_file(conn, "fidelite_category_purchase_days", **_params(run_date, window_days=window_days))


def spearman_matrix(purchase_days: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlation between categories of the customer x category purchase-day grid
    (a customer who never bought a category counts 0 days in it)."""
    grid = (purchase_days.pivot_table(index="customer_code", columns="category", values="purchase_days",
                                      aggfunc="sum", fill_value=0)
            .sort_index().sort_index(axis=1))
    return grid.astype("float64").corr(method="spearman")


def category_correlation(conn: psycopg.Connection, run_date, *, window_days: int = WINDOW_DAYS) -> pd.DataFrame:
    """``category_correlation``: Spearman correlation, over carded customers active in the
    window, of their purchase days in each pair of categories (long format, both orders)."""
    days = category_purchase_days(conn, run_date, window_days=window_days)
    matrix = spearman_matrix(days)
    long = matrix.rename_axis(index="category", columns="other_category").stack()
    frame = long.rename("spearman_rho").reset_index()
    frame["customers"] = days["customer_code"].nunique()
    return frame.sort_values(["category", "other_category"], kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------- charts


def _plt():
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    return plt, sns


def _nothing_to_show(title: str):
    """A small figure saying there is no data (a run date before any sale, say)."""
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(6, 1.5))
    ax.text(0.5, 0.5, "no data as of this run date", ha="center", va="center")
    ax.set_axis_off()
    ax.set_title(title)
    return fig


def plot_segment_distribution(rfm: pd.DataFrame):
    """Bars: customers per segment, with the segment's share of the window's spend."""
    plt, sns = _plt()
    counts = (rfm.groupby("segment").agg(customers=("customer_code", "size"), sales=("monetary", "sum"))
              .reindex(list(SEGMENTS)).fillna(0).reset_index())
    total_sales = counts["sales"].sum()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    sns.barplot(data=counts, x="segment", y="customers", hue="segment", palette=SEGMENT_COLORS,
                legend=False, ax=ax)
    for patch, sales in zip(ax.patches, counts["sales"]):
        share = sales / total_sales if total_sales else 0.0
        ax.annotate(f"{share:.0%} of sales", (patch.get_x() + patch.get_width() / 2, patch.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.set_xlabel("")
    ax.set_ylabel("customers")
    ax.set_title(f"RFM segments: {len(rfm)} carded customers")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def plot_segment_shares(segments: pd.DataFrame, by: str, value: str = "customer_share"):
    """Stacked bars: each group's segment mix (``by``: a label column of a segments_by_* table)."""
    if segments.empty or segments["customers"].sum() == 0:
        return _nothing_to_show(f"Segment mix by {_LABELS.get(by, by)}")
    plt, _ = _plt()
    wide = (segments.pivot_table(index=by, columns="segment", values=value, aggfunc="sum", fill_value=0)
            .reindex(columns=list(SEGMENTS), fill_value=0).sort_index(ascending=False))
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(wide) + 1.8))
    wide.plot(kind="barh", stacked=True, color=[SEGMENT_COLORS[s] for s in wide.columns], width=0.8, ax=ax)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of customers" if value == "customer_share" else "share of sales")
    ax.set_ylabel("")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=4, frameon=False)
    ax.set_title(f"Segment mix by {_LABELS.get(by, by)}")
    fig.tight_layout()
    return fig


def plot_loyalty_trend(kpis: pd.DataFrame):
    """Two panels per month, all stores: points earned and redeemed; carded share and redemption rate."""
    plt, _ = _plt()
    totals = loyalty_monthly_totals(kpis)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    x = range(len(totals))
    top.bar([i - 0.2 for i in x], totals["points_earned"], width=0.4, label="points earned", color="#4C72B0")
    top.bar([i + 0.2 for i in x], totals["points_redeemed"], width=0.4, label="points redeemed", color="#DD8452")
    top.set_ylabel("points")
    top.legend(frameon=False)
    top.set_title("Loyalty programme, all stores, by month")
    bottom.plot(list(x), totals["carded_share"], marker="o", label="carded share of sales")
    bottom.plot(list(x), totals["redemption_rate"], marker="s", label="redemption rate (redeemed / earned)")
    bottom.set_ylim(0, 1)
    bottom.set_ylabel("rate")
    bottom.set_xticks(list(x), totals["month"], rotation=45)
    bottom.legend(frameon=False)
    fig.tight_layout()
    return fig


def plot_penetration(penetration: pd.DataFrame):
    """Bars: active members per 10,000 inhabitants by region (regions without stores left out)."""
    if not (penetration["stores"] > 0).any():
        return _nothing_to_show("Loyalty penetration by region")
    plt, sns = _plt()
    data = penetration[penetration["stores"] > 0].sort_values("members_per_10k_inhabitants", ascending=False)
    fig, ax = plt.subplots(figsize=(9, 0.4 * max(len(data), 2) + 1.2))
    sns.barplot(data=data, y="region_name", x="members_per_10k_inhabitants", color="#4C72B0", ax=ax)
    ax.set_xlabel("active members per 10,000 inhabitants")
    ax.set_ylabel("")
    ax.set_title("Loyalty penetration by region")
    fig.tight_layout()
    return fig


def plot_category_correlation(correlation: pd.DataFrame):
    """Heatmap of the Spearman correlation between categories' purchase days."""
    if correlation.empty:
        return _nothing_to_show("Co-purchase of categories")
    plt, sns = _plt()
    matrix = correlation.pivot(index="category", columns="other_category", values="spearman_rho")
    size = 0.7 * len(matrix) + 2.5
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    sns.heatmap(matrix, vmin=-1, vmax=1, center=0, cmap="vlag", annot=True, fmt=".2f", square=True,
                cbar_kws={"label": "Spearman rho"}, ax=ax, annot_kws={"fontsize": 8})
    ax.set_xlabel("")
    ax.set_ylabel("")
    customers = int(correlation["customers"].iloc[0])
    ax.set_title(f"Co-purchase of categories (purchase days, {customers} customers)")
    fig.tight_layout()
    return fig


def plot_segment_affinity(affinity: pd.DataFrame):
    """Heatmap of the affinity index, segment x category (100 = like everyone)."""
    if affinity.empty:
        return _nothing_to_show("Category affinity by segment")
    plt, sns = _plt()
    matrix = affinity.pivot(index="segment", columns="category", values="affinity_index")
    matrix = matrix.reindex([s for s in SEGMENTS if s in matrix.index])
    fig, ax = plt.subplots(figsize=(0.9 * len(matrix.columns) + 3, 0.6 * len(matrix) + 2.5))
    sns.heatmap(matrix, center=100, cmap="vlag", annot=True, fmt=".0f", cbar_kws={"label": "affinity index"},
                ax=ax, annot_kws={"fontsize": 8})
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title("Category affinity by segment (100 = all segmented customers)")
    fig.tight_layout()
    return fig
