"""The Overview's headline figures, computed from the exported tables only (pure pandas)."""

from __future__ import annotations

import pandas as pd

PERIODS = {"month_to_date": "Month to date", "year_to_date": "Year to date"}

# kpi -> kind of value (money in whole units or in cents, count, share in percent)
KPIS = {
    "Net sales": "money",
    "Tickets": "count",
    "Average basket": "money_cents",
    "Loyalty share of sales": "percent",
    "Active carded customers (365 days)": "count",
    "Points earned": "count",
    "Points redeemed": "count",
}


def _months(run_date: str, period: str) -> list[str]:
    """The ``YYYY-MM`` months of a period ending on the run date."""
    year, month = int(run_date[:4]), int(run_date[5:7])
    first = month if period == "month_to_date" else 1
    return [f"{year:04d}-{m:02d}" for m in range(first, month + 1)]


def headline(run_date: str, period: str, comparison: pd.DataFrame | None, loyalty: pd.DataFrame | None,
             rfm: pd.DataFrame | None) -> pd.DataFrame:
    """One row per KPI: ``value`` for the period ending on the run date and, where the exports
    have it, ``year_before`` (the same period a year earlier, from sales_period_comparison).

    Sales, tickets and average basket come from ``sales_period_comparison`` (row total/all);
    the loyalty share and points from ``loyalty_kpis`` (the period's months, all stores);
    active carded customers from ``rfm_customers`` (a purchase in the trailing 365 days).
    """
    values: dict[str, tuple[float | None, float | None]] = {k: (None, None) for k in KPIS}
    if comparison is not None:
        total = comparison[(comparison["period"] == period) & (comparison["dimension"] == "total")]
        if len(total):
            row = total.iloc[0]
            values["Net sales"] = (row["revenue"], row["previous_revenue"])
            values["Tickets"] = (row["tickets"], row["previous_tickets"])
            values["Average basket"] = (row["avg_basket"], row["previous_avg_basket"])
    if loyalty is not None:
        months = loyalty[loyalty["month"].isin(_months(run_date, period))]
        if len(months):
            net, carded = months["net_sales"].sum(), months["carded_sales"].sum()
            values["Loyalty share of sales"] = (round(100 * carded / net, 2) if net else None, None)
            values["Points earned"] = (months["points_earned"].sum(), None)
            values["Points redeemed"] = (months["points_redeemed"].sum(), None)
    if rfm is not None:
        values["Active carded customers (365 days)"] = (int((rfm["frequency"] > 0).sum()), None)
    return pd.DataFrame(
        [{"kpi": k, "kind": KPIS[k], "value": _number(v), "year_before": _number(y)}
         for k, (v, y) in values.items()])


def _number(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def growth_pct(value: float | None, before: float | None) -> float | None:
    """``(value - before) * 100 / |before|``, None when either is missing or ``before`` is 0."""
    if value is None or before is None or before == 0 or pd.isna(value) or pd.isna(before):
        return None
    return round((value - before) * 100 / abs(before), 2)


def compared(current: pd.DataFrame, previous_run: pd.DataFrame | None) -> pd.DataFrame:
    """The headline with the previous run's values and both changes, in percent."""
    out = current.copy()
    before = previous_run.set_index("kpi")["value"] if previous_run is not None else pd.Series(dtype=float)
    out["previous_run"] = [_number(before.get(k)) for k in out["kpi"]]
    out["change_vs_previous_run_pct"] = [growth_pct(v, p) for v, p in zip(out["value"], out["previous_run"])]
    out["change_vs_year_before_pct"] = [growth_pct(v, y) for v, y in zip(out["value"], out["year_before"])]
    return out[["kpi", "kind", "value", "previous_run", "change_vs_previous_run_pct", "year_before",
                "change_vs_year_before_pct"]]
