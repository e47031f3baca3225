"""Loyalty: segment mix by store, region and banner; the RFM table; top clients and stores;
penetration by region (fact_fidelite_mart)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import ui
from dashboard.layout import LOYALTY_MART

MIX = {  # mix by -> (table, group column shown)
    "store": ("segments_by_store", "store_name"),
    "region": ("segments_by_region", "region_name"),
    "banner": ("segments_by_brand", "banner"),
}


def _filters(rfm: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    columns = st.columns(3)
    regions = columns[0].multiselect("Region", sorted(rfm["region_name"].dropna().unique()), key="loyalty_regions",
                                     placeholder="All regions")
    banners = columns[1].multiselect("Banner", sorted(rfm["banner"].dropna().unique()), key="loyalty_banners",
                                     placeholder="All banners")
    stores = columns[2].multiselect("Store", sorted(rfm["main_store_name"].dropna().unique()), key="loyalty_stores",
                                    placeholder="All stores")
    return regions, banners, stores


def _keep(frame: pd.DataFrame, regions: set[str], banners: list[str], stores: list[str]) -> pd.DataFrame:
    """The rows of the chosen regions (by code), banners and stores; a filter left empty keeps all."""
    for column, chosen in (("region_code", regions), ("banner", banners), ("store_name", stores),
                           ("main_store_name", stores)):
        if chosen and column in frame:
            frame = frame[frame[column].isin(chosen)]
    return frame


def render() -> None:
    chosen = ui.selection()
    currency = chosen.currency
    st.title(f"Loyalty · {chosen.run.run_date}")
    rfm = ui.load(LOYALTY_MART, "rfm_customers")
    if rfm is None:
        return
    region_names, banners, stores = _filters(rfm)
    regions = set(rfm.loc[rfm["region_name"].isin(region_names), "region_code"])

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        return _keep(frame, regions, banners, stores)

    customers = keep(rfm)

    columns = st.columns(4)
    columns[0].metric("Carded customers", ui.count(len(customers)), border=True,
                      help="carded customers with a purchase up to the run date, at their main store")
    columns[1].metric("Champions", ui.count((customers["segment"] == "champions").sum()), border=True)
    columns[2].metric("Active in 365 days", ui.count((customers["frequency"] > 0).sum()), border=True)
    columns[3].metric("Spend in 365 days", ui.money(customers["monetary"].sum(), currency), border=True)

    st.subheader("Segment mix")
    left, right = st.columns(2)
    by = left.radio("Mix by", list(MIX), horizontal=True, key="loyalty_mix_by")
    value = right.radio("Share of", ["customer_share", "sales_share"], horizontal=True, key="loyalty_mix_value",
                        format_func=lambda v: "customers" if v == "customer_share" else "spend")
    name, group = MIX[by]
    mix = ui.load(LOYALTY_MART, name)
    if mix is not None:
        mix = keep(mix)
        if mix.empty:
            ui.no_rows("the chosen stores, regions or banners")
        else:
            ui.chart(alt.Chart(mix).mark_bar().encode(
                x=alt.X(f"{value}:Q", stack="normalize", axis=alt.Axis(format="%"),
                        title="share of customers" if value == "customer_share" else "share of sales"),
                y=alt.Y(f"{group}:N", title=None, axis=alt.Axis(labelLimit=260)),
                color=alt.Color("segment:N", scale=ui.SEGMENT_SCALE, title="segment"),
                order=alt.Order("segment_order:Q"),
                tooltip=[group, "segment", "customers", alt.Tooltip("customer_share:Q", format=".1%"),
                         alt.Tooltip("sales:Q", format=",.2f", title=f"sales ({ui.symbol(currency)})"),
                         alt.Tooltip("sales_share:Q", format=".1%")],
            ).properties(title=f"Segment mix by {by}"))
            ui.table(mix, name)

    st.subheader("RFM customers")
    left, right = st.columns([2, 1])
    search = left.text_input("Search customers", key="loyalty_search",
                             placeholder="customer code, store, region or RFM code")
    segments = right.multiselect("Segment", list(ui.SEGMENTS), key="loyalty_segments", placeholder="All segments")
    found = customers[customers["segment"].isin(segments)] if segments else customers
    if search.strip():
        text = search.strip().lower()
        haystack = found[["customer_code", "main_store_code", "main_store_name", "region_name", "rfm_code",
                          "segment"]].astype(str).agg(" ".join, axis=1).str.lower()
        found = found[haystack.str.contains(text, regex=False)]
    st.caption(f"{len(found)} of {len(rfm)} customers")
    ui.table(found, "rfm_customers")

    st.subheader("Top loyal clients per store")
    clients = ui.load(LOYALTY_MART, "top_loyal_clients_by_store")
    if clients is not None:
        clients = keep(clients)
        names = sorted(clients["store_name"].unique())
        if not names:
            ui.no_rows("top loyal clients in the chosen stores")
        else:
            store = st.selectbox("Store", names, key="loyalty_top_store")
            ui.table(clients[clients["store_name"] == store], "top_loyal_clients_by_store")

    st.subheader("Top stores by loyal customers")
    top = ui.load(LOYALTY_MART, "top_stores_by_loyal_customers")
    if top is not None:
        top = keep(top)
        if top.empty:
            ui.no_rows("the chosen stores")
        else:
            ui.chart(alt.Chart(top).mark_bar(color=ui.BLUE).encode(
                x=alt.X("active_members:Q", title="active members (365 days)"),
                y=alt.Y("store_name:N", sort=alt.EncodingSortField("rank"), title=None),
                tooltip=["rank", "store_name", "active_members",
                         alt.Tooltip("carded_sales:Q", format=",.2f", title=f"carded sales ({ui.symbol(currency)})"),
                         alt.Tooltip("carded_share:Q", format=".1%")]))
            ui.table(top, "top_stores_by_loyal_customers")

    st.subheader("Penetration by region")
    penetration = ui.load(LOYALTY_MART, "penetration_by_region")
    if penetration is not None:
        penetration = _keep(penetration, regions, [], [])
        ui.chart(alt.Chart(penetration).mark_bar(color=ui.BLUE).encode(
            x=alt.X("members_per_10k_inhabitants:Q", title="active members per 10,000 inhabitants"),
            y=alt.Y("region_name:N", sort="-x", title=None),
            tooltip=["region_name", "population", "stores", "active_members",
                     alt.Tooltip("members_per_10k_inhabitants:Q", format=".2f")],
        ).properties(title="Loyalty penetration by region"))
        ui.table(penetration, "penetration_by_region")


if __name__ == "__main__":  # run as a page of the app
    render()
