"""Each page of the dashboard through Streamlit's AppTest, on the exports of two real demo
runs: what a page shows equals the exported files (read here with pyarrow, not the app)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import APP, RUN_DATES
from dashboard import layout, ui

LATEST, EARLIER = RUN_DATES[-1], RUN_DATES[0]


def number(text: str) -> float:
    """The number a metric shows (``10 710.30 €``, ``72.7 %``, ``1 800``)."""
    return float(re.sub(r"[^0-9.\-]", "", text.replace("\u2212", "-")))


def exported(exports, mart: str, name: str, run_date: str = LATEST) -> pd.DataFrame:
    return pd.read_parquet(exports / mart / run_date / f"{name}.parquet")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture
def app(monkeypatch):
    def start(exports, page: str | None = None, run_date: str | None = None) -> AppTest:
        monkeypatch.setenv(layout.EXPORTS_ENV, str(exports))
        at = AppTest.from_file(str(APP), default_timeout=120).run()
        if run_date:
            at.sidebar.selectbox(key="run_date").select(run_date).run()
        if page:
            at.switch_page(f"views/{page}.py").run()
        assert not at.exception, at.exception
        return at
    return start


def test_the_run_date_picker_lists_succeeded_runs_newest_first(app, published_exports):
    at = app(published_exports)
    picker = at.sidebar.selectbox(key="run_date")
    assert list(picker.options) == [LATEST, EARLIER]
    assert picker.value == LATEST


@pytest.mark.parametrize("run_date", RUN_DATES)
def test_overview_headline_equals_the_exports(app, published_exports, run_date):
    at = app(published_exports, run_date=run_date)
    comparison = exported(published_exports, "fact_vente_mart", "sales_period_comparison", run_date)
    total = comparison[(comparison["period"] == "month_to_date") & (comparison["dimension"] == "total")].iloc[0]
    loyalty = exported(published_exports, "fact_fidelite_mart", "loyalty_kpis", run_date)
    month = loyalty[loyalty["month"] == run_date[:7]]
    rfm = exported(published_exports, "fact_fidelite_mart", "rfm_customers", run_date)

    table = at.dataframe[0].value.set_index("kpi")
    assert table.loc["Net sales", "value"] == pytest.approx(total["revenue"])
    assert table.loc["Net sales", "year_before"] == pytest.approx(total["previous_revenue"])
    assert table.loc["Tickets", "value"] == total["tickets"]
    assert table.loc["Average basket", "value"] == pytest.approx(total["avg_basket"])
    assert table.loc["Loyalty share of sales", "value"] == pytest.approx(
        round(100 * month["carded_sales"].sum() / month["net_sales"].sum(), 2))
    assert table.loc["Points earned", "value"] == month["points_earned"].sum()
    assert table.loc["Points redeemed", "value"] == month["points_redeemed"].sum()
    assert table.loc["Active carded customers (365 days)", "value"] == (rfm["frequency"] > 0).sum()

    shown = metrics(at)
    assert number(shown["Net sales"]) == pytest.approx(total["revenue"], abs=0.5)  # whole euros, as the reports
    assert number(shown["Average basket"]) == pytest.approx(total["avg_basket"], abs=0.005)
    assert number(shown["Tickets"]) == total["tickets"]
    assert number(shown["Points earned"]) == month["points_earned"].sum()


def test_overview_compares_with_the_previous_run_and_switches_period(app, published_exports):
    at = app(published_exports)
    before = exported(published_exports, "fact_vente_mart", "sales_period_comparison", EARLIER)
    before_total = before[(before["period"] == "month_to_date") & (before["dimension"] == "total")].iloc[0]
    table = at.dataframe[0].value.set_index("kpi")
    assert table.loc["Net sales", "previous_run"] == pytest.approx(before_total["revenue"])
    net_sales = next(m for m in at.metric if m.label == "Net sales")
    change = 100 * (table.loc["Net sales", "value"] - before_total["revenue"]) / before_total["revenue"]
    assert number(net_sales.delta) == pytest.approx(round(change, 1), abs=0.051)

    at.radio(key="overview_period").set_value("year_to_date").run()
    comparison = exported(published_exports, "fact_vente_mart", "sales_period_comparison")
    ytd = comparison[(comparison["period"] == "year_to_date") & (comparison["dimension"] == "total")].iloc[0]
    assert at.dataframe[0].value.set_index("kpi").loc["Net sales", "value"] == pytest.approx(ytd["revenue"])
    assert number(metrics(at)["Net sales"]) == pytest.approx(ytd["revenue"], abs=0.5)


def test_loyalty_page_filters_and_searches_the_exported_customers(app, published_exports):
    at = app(published_exports, page="loyalty")
    rfm = exported(published_exports, "fact_fidelite_mart", "rfm_customers")
    assert number(metrics(at)["Carded customers"]) == len(rfm)
    assert number(metrics(at)["Champions"]) == (rfm["segment"] == "champions").sum()
    assert len(at.dataframe) == len(at.get("download_button")) == 5  # every table downloadable

    region = sorted(rfm["region_name"].unique())[0]
    at.multiselect(key="loyalty_regions").set_value([region]).run()
    in_region = rfm[rfm["region_name"] == region]
    assert number(metrics(at)["Carded customers"]) == len(in_region)
    customers = next(d.value for d in at.dataframe if "rfm_code" in d.value.columns)
    assert sorted(customers["customer_code"]) == sorted(in_region["customer_code"])

    code = in_region["customer_code"].iloc[0]
    at.text_input(key="loyalty_search").input(code.lower()).run()
    customers = next(d.value for d in at.dataframe if "rfm_code" in d.value.columns)
    assert list(customers["customer_code"]) == [code]

    at.radio(key="loyalty_mix_by").set_value("banner").run()
    mix = next(d.value for d in at.dataframe if "segment_order" in d.value.columns)
    by_brand = exported(published_exports, "fact_fidelite_mart", "segments_by_brand")
    assert mix.reset_index(drop=True).equals(by_brand)


def test_a_long_table_shows_its_first_rows_and_says_so(app, published_exports, monkeypatch):
    rfm = exported(published_exports, "fact_fidelite_mart", "rfm_customers")
    monkeypatch.setattr(ui, "SHOWN_ROWS", len(rfm) // 2)
    at = app(published_exports, page="loyalty")
    customers = next(d.value for d in at.dataframe if "rfm_code" in d.value.columns)
    assert list(customers["customer_code"]) == list(rfm["customer_code"].head(len(rfm) // 2))
    assert any(f"of {len(rfm)} rows" in c.value.replace("\u202f", "") for c in at.caption)


def test_loyalty_page_top_clients_and_penetration_equal_the_exports(app, published_exports):
    at = app(published_exports, page="loyalty")
    clients = exported(published_exports, "fact_fidelite_mart", "top_loyal_clients_by_store")
    store = at.selectbox(key="loyalty_top_store").value
    shown = next(d.value for d in at.dataframe if "tier" in d.value.columns)
    expected = clients[clients["store_name"] == store].reset_index(drop=True)
    assert shown.reset_index(drop=True).equals(expected)
    penetration = exported(published_exports, "fact_fidelite_mart", "penetration_by_region")
    shown = next(d.value for d in at.dataframe if "members_per_10k_inhabitants" in d.value.columns)
    assert shown.reset_index(drop=True).equals(penetration)


def test_affinity_sliders_and_item_picker_filter_the_exported_rules(app, published_exports):
    at = app(published_exports, page="affinity")
    rules = exported(published_exports, "fact_fidelite_mart", "product_rules")
    assert number(metrics(at)["Rules shown"]) == len(rules)
    assert number(metrics(at)["Highest lift"]) == pytest.approx(rules["lift"].max(), abs=0.005)

    at.slider(key="affinity_lift_products").set_value(10.0).run()
    assert number(metrics(at)["Rules shown"]) == (rules["lift"] >= 10.0).sum()
    at.slider(key="affinity_lift_products").set_value(0.0).run()

    item = rules["antecedent"].iloc[0].split(" + ")[0]
    at.selectbox(key="affinity_item_products").set_value(item).run()
    holding = rules[rules["antecedent"].str.split(" + ", regex=False).map(lambda items: item in items)]
    shown = next(d.value for d in at.dataframe if "antecedent" in d.value.columns)
    assert sorted(shown["rank"]) == sorted(holding["rank"])

    at.radio(key="affinity_kind").set_value("categories").run()
    category_rules = exported(published_exports, "fact_fidelite_mart", "category_rules")
    assert number(metrics(at)["Rules shown"]) == len(category_rules)
    heat = next(d.value for d in at.dataframe if "affinity_index" in d.value.columns)
    assert heat.equals(exported(published_exports, "fact_fidelite_mart", "segment_category_affinity"))


def test_sales_page_equals_the_exports_and_follows_its_filters(app, published_exports):
    at = app(published_exports, page="sales")
    top = exported(published_exports, "fact_vente_mart", "top_products_by_quantity")
    first = top.sort_values("rank").iloc[0]
    assert metrics(at)["Top product"].startswith(first["product_code"])
    assert number(metrics(at)["Its net quantity"]) == first["quantity"]
    daily = next(d.value for d in at.dataframe if "revenue_7d_avg" in d.value.columns)
    assert daily.equals(exported(published_exports, "fact_vente_mart", "sales_daily"))

    at.radio(key="sales_ranking").set_value("region").run()
    by_region = exported(published_exports, "fact_vente_mart", "top_products_by_region")
    region = at.selectbox(key="sales_region_name").value
    leader = by_region[(by_region["region_name"] == region) & (by_region["rank"] == 1)].iloc[0]
    assert metrics(at)["Top product"].startswith(leader["product_code"])

    at.radio(key="sales_period").set_value("year_to_date").run()
    at.radio(key="sales_dimension").set_value("banner").run()
    comparison = exported(published_exports, "fact_vente_mart", "sales_period_comparison")
    shown = next(d.value for d in at.dataframe if "revenue_growth_pct" in d.value.columns)
    expected = comparison[(comparison["period"] == "year_to_date") & (comparison["dimension"] == "banner")]
    assert shown.reset_index(drop=True).equals(expected.reset_index(drop=True))
    ytd = comparison[(comparison["period"] == "year_to_date") & (comparison["dimension"] == "total")].iloc[0]
    assert number(metrics(at)["Net sales, year to date"]) == pytest.approx(ytd["revenue"], abs=0.5)


def test_runs_page_shows_the_history_of_the_manifests(app, published_exports):
    import json

    at = app(published_exports, page="runs")
    manifests = {d: json.loads((published_exports / "pipeline" / d / "manifest.json").read_text()) for d in RUN_DATES}
    history = at.dataframe[0].value
    assert list(history["run_date"]) == [LATEST, EARLIER]
    assert list(history["status"]) == ["succeeded", "succeeded"]
    for row in history.itertuples():
        loads = manifests[row.run_date]["loads"]
        assert row.rows_loaded == sum(load["rows_loaded"] for load in loads)
        assert row.rows_rejected == sum(load["rows_rejected"] for load in loads)
    latest_loads = manifests[LATEST]["loads"]
    assert number(metrics(at)["Rows loaded"]) == sum(load["rows_loaded"] for load in latest_loads)
    steps = at.dataframe[1].value
    assert list(steps["notebook"]) == [s["notebook"] for s in manifests[LATEST]["steps"]]
    assert steps["report"].str.contains("report=").all()


def test_a_report_link_opens_the_steps_html_report(app, published_exports, monkeypatch):
    import json

    run_id = json.loads((published_exports / "pipeline" / EARLIER / "manifest.json").read_text())["run_id"]
    monkeypatch.setenv(layout.EXPORTS_ENV, str(published_exports))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["run"] = f"{EARLIER}/{run_id}"
    at.query_params["report"] = "51_vente_geo_time"
    at.run()
    at.switch_page("views/runs.py").run()
    assert not at.exception
    assert any("Report 51_vente_geo_time" in s.value for s in at.subheader)
    assert not at.error


def test_a_corrupted_export_is_refused_visibly_not_a_traceback(app, exports_copy):
    target = exports_copy / "fact_vente_mart" / LATEST / "sales_period_comparison.parquet"
    target.write_bytes(target.read_bytes() + b"tampered")
    at = app(exports_copy, page="sales")
    assert not at.exception
    refusals = [e.value for e in at.error]
    assert any("sales_period_comparison" in r and "sha256" in r for r in refusals), refusals
    assert metrics(at)["Top product"]  # the rest of the page still shows
    at.switch_page("views/overview.py").run()
    assert not at.exception and any("sha256" in e.value for e in at.error)


def test_no_published_run_explains_how_to_make_one(app, tmp_path):
    at = app(tmp_path / "exports")
    assert not at.exception
    assert any("make run" in i.value for i in at.info)


def test_a_table_without_rows_says_so(app, exports_copy):
    import json

    import pyarrow.parquet as pq

    from etl_helpers.writing import sha256_of

    changed = {}
    for mart, name in (("fact_fidelite_mart", "product_rules"), ("fact_vente_mart", "sales_daily")):
        path = exports_copy / mart / LATEST / f"{name}.parquet"
        pq.write_table(pq.read_table(path).slice(0, 0), path)  # published empty, listed as such
        changed[f"{mart}/{LATEST}/{name}.parquet"] = sha256_of(path)
    manifest_path = exports_copy / "pipeline" / LATEST / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for entry in manifest["files"]:
        entry["sha256"] = changed.get(entry["path"], entry["sha256"])
    manifest_path.write_text(json.dumps(manifest))

    at = app(exports_copy, page="affinity")
    assert any("no products rule" in i.value for i in at.info)
    at.switch_page("views/sales.py").run()
    assert not at.exception and not at.error
    assert any("No data for daily sales" in i.value for i in at.info)
