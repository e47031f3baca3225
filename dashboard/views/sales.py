"""Sales: by region and month with the period comparison, top products (category, region,
year), the weekday x hour heatmap and daily sales with the 7-day average (fact_vente_mart)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import kpis, ui
from dashboard.layout import SALES_MART

RANKINGS = {  # ranking -> (table, the column chosen, its label)
    "trailing year": ("top_products_by_quantity", None, None),
    "category": ("top_products_by_category", "category", "Category"),
    "region": ("top_products_by_region", "region_name", "Region"),
    "year": ("top_products_by_year", "year", "Year"),
}


def _period_comparison(currency: str) -> None:
    comparison = ui.load(SALES_MART, "sales_period_comparison")
    if comparison is None:
        return
    left, right = st.columns(2)
    period = left.radio("Period", list(kpis.PERIODS), format_func=kpis.PERIODS.get, horizontal=True,
                        key="sales_period")
    dimension = right.radio("By", ["region", "banner"], horizontal=True, key="sales_dimension")
    part = comparison[(comparison["period"] == period) & (comparison["dimension"] == dimension)]
    total = comparison[(comparison["period"] == period) & (comparison["dimension"] == "total")]
    if part.empty or total.empty:
        ui.no_rows(f"{kpis.PERIODS[period].lower()} by {dimension}")
        return
    row = total.iloc[0]
    columns = st.columns(3)
    columns[0].metric(f"Net sales, {kpis.PERIODS[period].lower()}", ui.money(row["revenue"], currency),
                      delta=ui.percent(row["revenue_growth_pct"], signed=True)
                      if pd.notna(row["revenue_growth_pct"]) else None,
                      delta_description=f"vs {row['previous_start']} to {row['previous_end']}", border=True)
    columns[1].metric("Tickets", ui.count(row["tickets"]),
                      delta=ui.percent(row["tickets_growth_pct"], signed=True)
                      if pd.notna(row["tickets_growth_pct"]) else None, border=True)
    columns[2].metric("Average basket", ui.money(row["avg_basket"], currency, decimals=2), border=True)
    current = f"{row['current_start']} to {row['current_end']}"
    before = f"{row['previous_start']} to {row['previous_end']}"
    long = pd.concat([
        pd.DataFrame({"name": part["name"], "when": current, "revenue": part["revenue"]}),
        pd.DataFrame({"name": part["name"], "when": before, "revenue": part["previous_revenue"]}),
    ])
    ui.chart(alt.Chart(long).mark_bar().encode(
        x=alt.X("name:N", title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("when:N", sort=[current, before]),
        y=alt.Y("revenue:Q", title=f"net revenue ({ui.symbol(currency)})"),
        color=alt.Color("when:N", scale=alt.Scale(domain=[current, before], range=[ui.BLUE, ui.ORANGE]),
                        title="period"),
        tooltip=["name", "when", alt.Tooltip("revenue:Q", format=",.2f")],
    ).properties(title=f"{kpis.PERIODS[period]} by {dimension}, now and a year before"))
    ui.table(part, "sales_period_comparison")


def _monthly(currency: str) -> None:
    monthly = ui.load_rows(SALES_MART, "sales_by_region_month", "monthly sales")
    if monthly is None:
        return
    regions = st.multiselect("Regions", sorted(monthly["region_name"].unique()), key="sales_regions",
                             placeholder="All regions")
    shown = monthly[monthly["region_name"].isin(regions)] if regions else monthly
    last = monthly.sort_values("month").iloc[-1]
    note = f" (last month up to {last['period_end']})" if bool(last["is_partial_month"]) else ""
    ui.chart(alt.Chart(shown.assign(month=pd.to_datetime(shown["month"]))).mark_line(point=True).encode(
        x=alt.X("month:T", title=None),
        y=alt.Y("revenue:Q", title=f"net revenue ({ui.symbol(currency)})"),
        color=alt.Color("region_name:N", scale=alt.Scale(range=ui.PALETTE), title="region"),
        tooltip=[alt.Tooltip("month:T", format="%Y-%m"), "region_name", alt.Tooltip("revenue:Q", format=",.2f"),
                 "tickets", alt.Tooltip("avg_basket:Q", format=",.2f")],
    ).properties(title=f"Net revenue by region and month{note}"))
    ui.table(shown, "sales_by_region_month")


def _top_products(currency: str) -> None:
    ranking = st.radio("Rank products over", list(RANKINGS), horizontal=True, key="sales_ranking",
                       format_func=lambda r: r if r == "trailing year" else f"one {r}")
    name, column, label = RANKINGS[ranking]
    products = ui.load(SALES_MART, name)
    if products is None:
        return
    if column is not None and not products.empty:
        options = sorted(products[column].unique(), reverse=column == "year")
        picked = st.selectbox(label, options, key=f"sales_{column}")
        products = products[products[column] == picked]
    if products.empty:
        ui.no_rows("product sales")
        return
    products = products.sort_values("rank")
    first = products.iloc[0]
    columns = st.columns(2)
    columns[0].metric("Top product", f"{first['product_code']} · {first['product_name']}", border=True)
    columns[1].metric("Its net quantity", ui.count(first["quantity"]), border=True,
                      help=f"net revenue {ui.money(first['revenue'], currency)}")
    ui.chart(alt.Chart(products).mark_bar().encode(
        x=alt.X("quantity:Q", title="net quantity (units)"),
        y=alt.Y("product_name:N", sort=alt.EncodingSortField("rank"), title=None, axis=alt.Axis(labelLimit=320)),
        color=alt.Color("category:N", scale=alt.Scale(range=ui.PALETTE), title="category")
        if "category" in products else alt.value(ui.BLUE),
        tooltip=["rank", "product_code", "product_name", "quantity",
                 alt.Tooltip("revenue:Q", format=",.2f", title=f"net revenue ({ui.symbol(currency)})"), "tickets"],
    ).properties(title=f"Top products by net quantity, {first['period_start']} to {first['period_end']}"))
    ui.table(products, name)


def _weekday_hour(currency: str) -> None:
    grid = ui.load(SALES_MART, "sales_by_weekday_hour")
    if grid is None:
        return
    active = grid.loc[grid["revenue"] != 0, "hour"]
    if active.empty:
        ui.no_rows("sales by weekday and hour")
        return
    shown = grid[grid["hour"].between(int(active.min()), int(active.max()))]
    weekdays = list(grid.sort_values("day_of_week")["weekday"].unique())
    ui.chart(alt.Chart(shown).mark_rect().encode(
        x=alt.X("hour:O", title="hour (Europe/Paris)"),
        y=alt.Y("weekday:N", sort=weekdays, title=None),
        color=alt.Color("revenue_per_day:Q", scale=alt.Scale(scheme="orangered"),
                        title=f"{ui.symbol(currency)} per day"),
        tooltip=["weekday", "hour", alt.Tooltip("revenue_per_day:Q", format=",.2f"), "days_in_window"],
    ).properties(title="Average net revenue per day by weekday and hour, trailing year"))
    ui.table(grid, "sales_by_weekday_hour")


def _daily(currency: str) -> None:
    daily = ui.load_rows(SALES_MART, "sales_daily", "daily sales")
    if daily is None:
        return
    frame = daily.assign(sale_date=pd.to_datetime(daily["sale_date"]),
                         day=daily["is_weekend"].map({True: "weekend", False: "weekday"}))
    bars = alt.Chart(frame).mark_bar().encode(
        x=alt.X("sale_date:T", title=None),
        y=alt.Y("revenue:Q", title=f"net revenue ({ui.symbol(currency)})"),
        color=alt.Color("day:N", scale=alt.Scale(domain=["weekday", "weekend"], range=[ui.BLUE, ui.ORANGE]),
                        title=None),
        tooltip=[alt.Tooltip("sale_date:T", format="%Y-%m-%d"), alt.Tooltip("revenue:Q", format=",.2f"),
                 alt.Tooltip("revenue_7d_avg:Q", format=",.2f"), "tickets", "holiday_name"])
    line = alt.Chart(frame).mark_line(color="black").encode(x="sale_date:T", y="revenue_7d_avg:Q")
    ui.chart((bars + line).properties(
        title=f"Daily net revenue, {len(daily)} days ending {daily['sale_date'].iloc[-1]} (line: 7-day average)"))
    ui.table(daily, "sales_daily")


def render() -> None:
    chosen = ui.selection()
    currency = chosen.currency
    st.title(f"Sales · {chosen.run.run_date}")
    st.subheader("Period comparison")
    _period_comparison(currency)
    st.subheader("Sales by region and month")
    _monthly(currency)
    st.subheader("Top products")
    _top_products(currency)
    st.subheader("Weekday × hour")
    _weekday_hour(currency)
    st.subheader("Daily sales")
    _daily(currency)


if __name__ == "__main__":  # run as a page of the app
    render()
