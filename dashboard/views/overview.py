"""Overview: the run date's headline figures, against the previous run and a year before."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import kpis, ui
from dashboard.layout import LOYALTY_MART, SALES_MART


def _headline(load, run_date: str, period: str) -> pd.DataFrame:
    return kpis.headline(run_date, period, load(SALES_MART, "sales_period_comparison"),
                         load(LOYALTY_MART, "loyalty_kpis"), load(LOYALTY_MART, "rfm_customers"))


def _shown(kind: str, value: float | None, currency: str) -> str:
    if kind.startswith("money"):
        return ui.money(value, currency, decimals=2 if kind == "money_cents" else 0)
    if kind == "percent":
        return ui.percent(value)
    return ui.count(value)


def render() -> None:
    chosen = ui.selection()
    run, currency = chosen.run, chosen.currency
    st.title(f"Overview · {run.run_date}")
    period = st.radio("Period", list(kpis.PERIODS), format_func=kpis.PERIODS.get, horizontal=True,
                      key="overview_period")
    current = _headline(ui.load, run.run_date, period)
    previous = (_headline(ui.load_previous, chosen.previous.run_date, period)
                if chosen.previous is not None else None)
    table = kpis.compared(current, previous)
    if table["value"].isna().all():
        st.info("This run published none of the tables the headline figures come from.")
        return

    versus = f"vs {chosen.previous.run_date}" if chosen.previous else None
    columns = st.columns(4)
    for position, row in enumerate(table.itertuples(index=False)):
        year = ("A year before: not in the exports" if row.year_before is None or pd.isna(row.year_before)
                else f"A year before: {_shown(row.kind, row.year_before, currency)} "
                     f"({ui.percent(row.change_vs_year_before_pct, signed=True)})")
        with columns[position % 4]:
            st.metric(row.kpi, _shown(row.kind, row.value, currency),
                      delta=(ui.percent(row.change_vs_previous_run_pct, signed=True)
                             if row.change_vs_previous_run_pct is not None
                             and not pd.isna(row.change_vs_previous_run_pct) else None),
                      delta_description=versus, help=year, border=True)
            st.caption(year)
    st.caption(f"Changes are against the previous successful run ({chosen.previous.run_date})." if chosen.previous
               else "No earlier successful run: no change against a previous run to show.")
    st.subheader("Headline figures")
    st.caption(f"{kpis.PERIODS[period]} ending {run.run_date}. Net sales, tickets and average basket: "
               "sales_period_comparison (year before: the same dates a year earlier). Loyalty share and "
               "points: loyalty_kpis, all stores, the period's months (the loyalty export keeps 12 months, "
               "so no year before). Active carded customers: rfm_customers with a purchase in the "
               f"trailing 365 days. Amounts in {currency}.")
    ui.table(table.drop(columns="kind"), f"headline_{period}")


if __name__ == "__main__":  # run as a page of the app
    render()
