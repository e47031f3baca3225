"""fact_fidelite_mart: every table recomputed independently with pandas from the raw CSV files
of the demo warehouse, as of two run dates; as-of isolation; planted groups; exports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from etl_helpers import db, exports, marts, warehouse
from etl_helpers.marts import fidelite
from etl_helpers.sources import SourceOptions, demo

FIDELITE_TABLES = [name for name, table in marts.TABLES.items() if table.mart == marts.FIDELITE]
FIDELITE_CHARTS = [name for name, chart in marts.CHARTS.items() if chart.mart == marts.FIDELITE]
DEMO_RUN_DATE = date(2026, 11, 30)       # the demo_warehouse fixture's run date
EARLIER = date(2026, 5, 20)              # before the banner change (06-01) and the new cohort (09-01)
RUN_DATES = [pytest.param(DEMO_RUN_DATE, id="run-date"), pytest.param(EARLIER, id="earlier")]
WINDOW = 365

# The segment map, written out again here so the SQL is checked against the documented grid.
GRID = {
    (5, 1): "new", (5, 2): "potential loyalists", (5, 3): "potential loyalists", (5, 4): "champions",
    (5, 5): "champions",
    (4, 1): "new", (4, 2): "potential loyalists", (4, 3): "potential loyalists", (4, 4): "loyal", (4, 5): "loyal",
    (3, 1): "hibernating", (3, 2): "hibernating", (3, 3): "at risk", (3, 4): "loyal", (3, 5): "loyal",
    (2, 1): "hibernating", (2, 2): "hibernating", (2, 3): "at risk", (2, 4): "at risk", (2, 5): "can't lose",
    (1, 1): "lost", (1, 2): "lost", (1, 3): "at risk", (1, 4): "at risk", (1, 5): "can't lose",
}


# --------------------------------------------------------------------------- raw files, read with pandas


@dataclass(frozen=True)
class Raw:
    sales: pd.DataFrame      # sale_date, ticket_id, store_code, customer_code, product_code, quantity, cents
    loyalty: pd.DataFrame    # event_date, customer_code, store_code, points_earned, points_redeemed
    customers: pd.DataFrame  # the latest snapshot (customers are type 1)
    stores: pd.DataFrame     # every snapshot, with its date
    regions: pd.DataFrame
    products: pd.DataFrame

    def stores_as_of(self, day: date) -> pd.DataFrame:
        """Each store's attributes from the latest snapshot dated on or before ``day``."""
        known = self.stores[self.stores["snapshot_date"] <= day].sort_values("snapshot_date")
        stores = known.groupby("store_code").tail(1).set_index("store_code")
        return stores.join(self.regions.set_index("region_code")[["region_name", "population"]], on="region_code")

    def carded_as_of(self, day: date) -> set[str]:
        c = self.customers
        enrolled = c["enrolled_on"].fillna("")
        return set(c.loc[(c["has_loyalty_card"] == "true") & ((enrolled == "") | (enrolled <= day.isoformat())),
                         "customer_code"])

    def carded_on_sale_date(self, lines: pd.DataFrame) -> pd.Series:
        c = self.customers.set_index("customer_code")
        has_card = lines["customer_code"].map(c["has_loyalty_card"]).eq("true")
        enrolled = lines["customer_code"].map(c["enrolled_on"]).fillna("")
        return has_card & ((enrolled == "") | (enrolled <= lines["sale_date"].map(date.isoformat)))


def _dated(folder: Path, entity: str) -> list[tuple[date, Path]]:
    return sorted((date.fromisoformat(p.stem.split("_")[1]), p) for p in (folder / entity).glob(f"{entity}_*.csv"))


def _cents(text: pd.Series) -> pd.Series:
    return text.map(lambda v: int(Decimal(v) * 100)).astype("int64")


@lru_cache(maxsize=2)
def read_raw(raw_dir: Path) -> Raw:
    def events(entity: str, date_column: str) -> pd.DataFrame:
        frames = []
        for day, path in _dated(raw_dir, entity):
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            frame[date_column] = day
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    sales = events("sales", "sale_date")
    sales["customer_code"] = sales["customer_code"].replace("", None)
    sales["quantity"] = sales["quantity"].astype(int)
    sales["cents"] = _cents(sales["amount"])
    loyalty = events("loyalty", "event_date")
    for column in ("points_earned", "points_redeemed"):
        loyalty[column] = loyalty[column].astype(int)
    stores = []
    for day, path in _dated(raw_dir, "stores"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["snapshot_date"] = day
        stores.append(frame)

    def latest(entity: str) -> pd.DataFrame:
        return pd.read_csv(_dated(raw_dir, entity)[-1][1], dtype=str, keep_default_na=False)

    regions = latest("regions")
    regions["population"] = regions["population"].astype(int)
    return Raw(sales, loyalty, latest("customers"), pd.concat(stores, ignore_index=True), regions, latest("products"))


def window(frame: pd.DataFrame, column: str, run_date: date, days: int = WINDOW) -> pd.DataFrame:
    return frame[(frame[column] > run_date - timedelta(days=days)) & (frame[column] <= run_date)]


def ntile(n_rows: int, buckets: int = 5) -> np.ndarray:
    """PostgreSQL's ntile over n_rows ordered rows: the first (n % buckets) groups get one more."""
    size, extra = divmod(n_rows, buckets)
    return np.repeat(np.arange(1, buckets + 1), [size + (1 if b < extra else 0) for b in range(buckets)])


# --------------------------------------------------------------------------- reference computations


def expected_rfm(raw: Raw, run_date: date) -> pd.DataFrame:
    lines = raw.sales[(raw.sales["sale_date"] <= run_date) & raw.sales["customer_code"].isin(raw.carded_as_of(run_date))]
    lines = lines.assign(purchase=lines["quantity"] > 0)
    tickets = (lines.groupby(["customer_code", "sale_date", "ticket_id", "store_code"])
               .agg(cents=("cents", "sum"), purchase=("purchase", "any")).reset_index())
    tickets["in_window"] = tickets["sale_date"] > run_date - timedelta(days=WINDOW)
    purchases = tickets[tickets["purchase"]]
    frame = pd.DataFrame({
        "first_purchase_date": purchases.groupby("customer_code")["sale_date"].min(),
        "last_purchase_date": purchases.groupby("customer_code")["sale_date"].max(),
    })
    frame["recency_days"] = [(run_date - d).days for d in frame["last_purchase_date"]]
    frame["frequency"] = purchases[purchases["in_window"]].groupby("customer_code").size()
    frame["cents"] = tickets[tickets["in_window"]].groupby("customer_code")["cents"].sum()
    frame = frame.fillna({"frequency": 0, "cents": 0}).astype({"frequency": int, "cents": int})
    spend = tickets.groupby(["customer_code", "store_code"])["cents"].sum().reset_index()
    spend = spend.sort_values(["customer_code", "cents", "store_code"], ascending=[True, False, True])
    frame["main_store_code"] = spend.groupby("customer_code")["store_code"].first()
    frame = frame.reset_index()

    def score(by: list[str], ascending: list[bool]) -> pd.Series:
        ordered = frame.sort_values(by, ascending=ascending, kind="mergesort")
        return pd.Series(ntile(len(ordered)), index=ordered.index)

    frame["r_score"] = score(["recency_days", "customer_code"], [False, True])
    frame["f_score"] = score(["frequency", "customer_code"], [True, True])
    frame["m_score"] = score(["cents", "customer_code"], [True, True])
    frame["segment"] = [GRID[(r, f)] for r, f in zip(frame["r_score"], frame["f_score"])]
    stores = raw.stores_as_of(run_date)
    frame["banner"] = frame["main_store_code"].map(stores["banner"])
    frame["region_code"] = frame["main_store_code"].map(stores["region_code"])
    frame["region_name"] = frame["main_store_code"].map(stores["region_name"])
    frame["main_store_name"] = frame["main_store_code"].map(stores["store_name"])
    return frame.sort_values("customer_code").reset_index(drop=True)


def expected_segments(reference_rfm: pd.DataFrame, key: str) -> pd.DataFrame:
    grouped = reference_rfm.groupby([key, "segment"]).agg(customers=("customer_code", "size"),
                                                          cents=("cents", "sum"))
    totals = grouped.groupby(level=0).sum()
    grouped["customer_share"] = grouped["customers"] / grouped.index.get_level_values(0).map(totals["customers"])
    grouped["sales_share"] = grouped["cents"] / grouped.index.get_level_values(0).map(totals["cents"])
    return grouped


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def conn(demo_warehouse):
    with db.connect(demo_warehouse, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def raw(demo_warehouse) -> Raw:
    return read_raw(demo_warehouse.raw_dir)


# --------------------------------------------------------------------------- rfm and segments


def test_segment_grid_constant_matches_the_documented_map():
    assert {(r, f + 1): s for r, row in fidelite.SEGMENT_GRID.items() for f, s in enumerate(row)} == GRID
    assert set(GRID.values()) == set(fidelite.SEGMENTS)


@pytest.mark.parametrize("run_date", RUN_DATES)
def test_rfm_customers_match_the_raw_files(conn, raw, run_date):
    got = marts.compute(conn, "rfm_customers", run_date)
    want = expected_rfm(raw, run_date)
    assert got["customer_code"].tolist() == want["customer_code"].tolist()
    for column in ("first_purchase_date", "last_purchase_date", "recency_days", "frequency", "r_score",
                   "f_score", "m_score", "segment", "main_store_code", "main_store_name", "banner",
                   "region_code", "region_name"):
        assert got[column].tolist() == want[column].tolist(), column
    assert np.allclose(got["monetary"], want["cents"] / 100, rtol=0, atol=1e-9)
    assert (got["rfm_code"] == got["r_score"].astype(str) + got["f_score"].astype(str)
            + got["m_score"].astype(str)).all()
    # quintiles: sizes differ by one at most
    for column in ("r_score", "f_score", "m_score"):
        sizes = got[column].value_counts()
        assert sizes.max() - sizes.min() <= 1 and len(sizes) == 5


@pytest.mark.parametrize("level,key", [("store", "store_code"), ("region", "region_code"), ("brand", "banner")])
@pytest.mark.parametrize("run_date", RUN_DATES)
def test_segments_tables_match_the_raw_files(conn, raw, run_date, level, key):
    reference = expected_rfm(raw, run_date).rename(columns={"main_store_code": "store_code"})
    got = fidelite.segments_by(marts.compute(conn, "rfm_customers", run_date), level)
    want = expected_segments(reference, key)
    assert len(got) == got[key].nunique() * len(fidelite.SEGMENTS)        # every segment in every group
    assert got.groupby(key)["customer_share"].sum().round(12).eq(1).all()
    present = got[got["customers"] > 0].set_index([key, "segment"]).sort_index()
    assert present.index.tolist() == want.index.tolist()
    assert present["customers"].tolist() == want["customers"].tolist()
    assert np.allclose(present["sales"], want["cents"] / 100, atol=1e-6)
    assert np.allclose(present["customer_share"], want["customer_share"])
    assert np.allclose(present["sales_share"], want["sales_share"])


def test_planted_customer_groups_land_in_their_segments(conn):
    groups = demo.planted_customers("small", 42)
    rfm = marts.compute(conn, "rfm_customers", DEMO_RUN_DATE).set_index("customer_code")
    churned = rfm.loc[list(groups["churned"])]
    assert set(churned["segment"]) <= {"at risk", "can't lose", "hibernating", "lost"}
    assert (churned["r_score"] <= 2).all()
    assert (churned["last_purchase_date"] <= demo.CHURN_LAST_DAY).all()
    champions = rfm.loc[list(groups["champions"])]
    assert set(champions["segment"]) <= {"champions", "loyal"} and (champions["f_score"] == 5).all()
    new = rfm.loc[list(groups["new"])]
    assert (new["first_purchase_date"] >= demo.NEW_ENROLLED_FROM).all()
    # before the churn, the churned group were big regular customers, worth keeping
    before = marts.compute(conn, "rfm_customers", EARLIER).set_index("customer_code")
    assert set(before.loc[list(groups["churned"]), "segment"]) <= {"at risk", "can't lose"}
    assert not set(groups["new"]) & set(before.index)   # not enrolled yet on the earlier date


# --------------------------------------------------------------------------- loyalty programme


@pytest.mark.parametrize("run_date", RUN_DATES)
def test_loyalty_kpis_match_the_raw_files(conn, raw, run_date):
    got = marts.compute(conn, "loyalty_kpis", run_date)
    first = (pd.Timestamp(run_date).to_period("M") - 11).to_timestamp().date()
    lines = raw.sales[(raw.sales["sale_date"] >= first) & (raw.sales["sale_date"] <= run_date)].copy()
    lines["month"] = [d.strftime("%Y-%m") for d in lines["sale_date"]]
    lines["carded"] = raw.carded_on_sale_date(lines)
    members = lines[lines["carded"] & (lines["quantity"] > 0)].groupby(["store_code", "month"])["customer_code"].nunique()
    net = lines.groupby(["store_code", "month"])["cents"].sum()
    carded = lines[lines["carded"]].groupby(["store_code", "month"])["cents"].sum()
    events = raw.loyalty[(raw.loyalty["event_date"] >= first) & (raw.loyalty["event_date"] <= run_date)].copy()
    events["month"] = [d.strftime("%Y-%m") for d in events["event_date"]]
    points = events.groupby(["store_code", "month"])[["points_earned", "points_redeemed"]].sum()
    stores = raw.stores_as_of(run_date)
    months = [(pd.Timestamp(first).to_period("M") + k).strftime("%Y-%m") for k in range(12)]
    assert months[-1] == run_date.strftime("%Y-%m")
    index = pd.MultiIndex.from_product([sorted(stores.index), months], names=["store_code", "month"])
    assert list(zip(got["store_code"], got["month"])) == index.tolist()
    g = got.set_index(["store_code", "month"])
    assert g["active_members"].tolist() == members.reindex(index, fill_value=0).tolist()
    assert np.allclose(g["net_sales"], net.reindex(index, fill_value=0) / 100, atol=1e-9)
    assert np.allclose(g["carded_sales"], carded.reindex(index, fill_value=0) / 100, atol=1e-9)
    share = carded.reindex(index, fill_value=0) / net.reindex(index)
    assert np.allclose(g["carded_share"], share, equal_nan=True)
    assert g["points_earned"].tolist() == points["points_earned"].reindex(index, fill_value=0).tolist()
    assert g["points_redeemed"].tolist() == points["points_redeemed"].reindex(index, fill_value=0).tolist()
    rate = points["points_redeemed"].reindex(index) / points["points_earned"].reindex(index).replace(0, np.nan)
    assert np.allclose(g["redemption_rate"].astype(float), rate, equal_nan=True)
    assert (g.reset_index().groupby("store_code")["banner"].first() == stores["banner"]).all()


@pytest.mark.parametrize("run_date", RUN_DATES)
def test_penetration_by_region_matches_the_raw_files(conn, raw, run_date):
    got = marts.compute(conn, "penetration_by_region", run_date).set_index("region_code")
    lines = window(raw.sales, "sale_date", run_date)
    lines = lines[raw.carded_on_sale_date(lines)]
    stores = raw.stores_as_of(run_date)
    lines = lines.assign(region_code=lines["store_code"].map(stores["region_code"]))
    members = lines[lines["quantity"] > 0].groupby("region_code")["customer_code"].nunique()
    regions = raw.regions.set_index("region_code").sort_index()
    assert got.index.tolist() == regions.index.tolist()
    assert got["population"].tolist() == regions["population"].tolist()
    assert got["stores"].tolist() == stores.groupby("region_code").size().reindex(regions.index, fill_value=0).tolist()
    want = members.reindex(regions.index, fill_value=0)
    assert got["active_members"].tolist() == want.tolist()
    assert np.allclose(got["members_per_10k_inhabitants"], want * 10_000 / regions["population"])
    assert np.allclose(got["carded_sales"],
                       lines.groupby("region_code")["cents"].sum().reindex(regions.index, fill_value=0) / 100)


@pytest.mark.parametrize("run_date", RUN_DATES)
def test_top_loyal_clients_by_store_match_the_raw_files(conn, raw, run_date):
    got = marts.compute(conn, "top_loyal_clients_by_store", run_date)
    events = window(raw.loyalty, "event_date", run_date)
    points = (events.groupby(["store_code", "customer_code"])
              .agg(points_earned=("points_earned", "sum"), points_redeemed=("points_redeemed", "sum"),
                   loyalty_events=("event_id", "size")).reset_index())
    points = points[points["points_earned"] > 0].sort_values(
        ["store_code", "points_earned", "customer_code"], ascending=[True, False, True])
    points["rank"] = points.groupby("store_code").cumcount() + 1
    want = points[points["rank"] <= 10].reset_index(drop=True)
    lines = window(raw.sales, "sale_date", run_date)
    sales = lines.groupby(["store_code", "customer_code"]).agg(
        cents=("cents", "sum"), tickets=("ticket_id", lambda t: t.nunique()))
    keys = list(zip(want["store_code"], want["customer_code"]))
    assert list(zip(got["store_code"], got["customer_code"])) == keys
    assert got["rank"].tolist() == want["rank"].tolist()
    for column in ("points_earned", "points_redeemed", "loyalty_events"):
        assert got[column].tolist() == want[column].tolist(), column
    assert np.allclose(got["net_sales"], sales["cents"].reindex(keys, fill_value=0).to_numpy() / 100)
    assert got["tickets"].tolist() == sales["tickets"].reindex(keys, fill_value=0).tolist()
    assert got.groupby("store_code").size().max() == 10
    tiers = raw.customers.set_index("customer_code")["tier"].replace("", None)
    assert got["tier"].tolist() == want["customer_code"].map(tiers).tolist()


@pytest.mark.parametrize("run_date", RUN_DATES)
def test_top_stores_by_loyal_customers_match_the_raw_files(conn, raw, run_date):
    got = marts.compute(conn, "top_stores_by_loyal_customers", run_date)
    lines = window(raw.sales, "sale_date", run_date)
    lines = lines.assign(carded=raw.carded_on_sale_date(lines))
    stores = raw.stores_as_of(run_date)
    want = pd.DataFrame(index=stores.index)
    want["active_members"] = (lines[lines["carded"] & (lines["quantity"] > 0)]
                              .groupby("store_code")["customer_code"].nunique())
    want["net"] = lines.groupby("store_code")["cents"].sum()
    want["carded"] = lines[lines["carded"]].groupby("store_code")["cents"].sum()
    events = window(raw.loyalty, "event_date", run_date)
    want["points_earned"] = events.groupby("store_code")["points_earned"].sum()
    want = want.fillna(0).reset_index().sort_values(["active_members", "carded", "store_code"],
                                                    ascending=[False, False, True])
    assert got["store_code"].tolist() == want["store_code"].tolist()
    assert got["rank"].tolist() == list(range(1, len(want) + 1))
    assert got["active_members"].tolist() == want["active_members"].astype(int).tolist()
    assert np.allclose(got["carded_share"], want["carded"] / want["net"])
    assert got["points_earned"].tolist() == want["points_earned"].astype(int).tolist()
    assert got["banner"].tolist() == want["store_code"].map(stores["banner"]).tolist()


# --------------------------------------------------------------------------- categories


@pytest.mark.parametrize("run_date", RUN_DATES)
def test_segment_category_affinity_matches_the_raw_files(conn, raw, run_date):
    rfm = marts.compute(conn, "rfm_customers", run_date)
    got = marts.compute(conn, "segment_category_affinity", run_date, inputs={"rfm_customers": rfm})
    segment_of = expected_rfm(raw, run_date).set_index("customer_code")["segment"]
    lines = window(raw.sales, "sale_date", run_date)
    lines = lines[lines["customer_code"].isin(segment_of.index)]
    lines = lines.assign(segment=lines["customer_code"].map(segment_of),
                         category=lines["product_code"].map(raw.products.set_index("product_code")["category"]))
    spend = lines.groupby(["segment", "category"])["cents"].sum().unstack(fill_value=0)
    overall = spend.sum() / spend.values.sum()
    rows = []
    for segment, row in spend.iterrows():
        share = row / row.sum()
        index = 100 * share / overall
        ordered = sorted(index.index, key=lambda c: (-index[c], -row[c], c))
        for rank, category in enumerate(ordered, start=1):
            rows.append((segment, category, row[category] / 100, share[category], overall[category], index[category],
                         rank, rank <= 3 and index[category] > 100))
    want = pd.DataFrame(rows, columns=["segment", "category", "sales", "segment_share", "overall_share",
                                       "affinity_index", "target_rank", "is_target"])
    assert list(zip(got["segment"], got["target_rank"], got["category"])) == list(
        zip(want["segment"], want["target_rank"], want["category"]))
    for column in ("sales", "segment_share", "overall_share", "affinity_index"):
        assert np.allclose(got[column], want[column], rtol=1e-12), column
    assert got["is_target"].tolist() == want["is_target"].tolist()


@pytest.mark.parametrize("run_date", RUN_DATES)
def test_category_correlation_matches_the_raw_files(conn, raw, run_date):
    got = marts.compute(conn, "category_correlation", run_date)
    lines = window(raw.sales, "sale_date", run_date)
    lines = lines[(lines["quantity"] > 0) & lines["customer_code"].isin(raw.carded_as_of(run_date))]
    lines = lines.assign(category=lines["product_code"].map(raw.products.set_index("product_code")["category"]))
    days = lines.groupby(["customer_code", "category"])["sale_date"].nunique().unstack(fill_value=0)
    ranks = days.rank(method="average").to_numpy()            # Spearman = Pearson on average ranks
    rho = np.corrcoef(ranks, rowvar=False)
    categories = sorted(days.columns)
    order = [list(days.columns).index(c) for c in categories]
    want = [(a, b, rho[order[i], order[j]]) for i, a in enumerate(categories) for j, b in enumerate(categories)]
    assert list(zip(got["category"], got["other_category"])) == [(a, b) for a, b, _ in want]
    assert np.allclose(got["spearman_rho"], [r for *_, r in want], atol=1e-12)
    assert (got["customers"] == len(days)).all()


# --------------------------------------------------------------------------- as of the run date


def _all_tables(conn, run_date: date) -> dict[str, pd.DataFrame]:
    rfm = marts.compute(conn, "rfm_customers", run_date)
    return {
        "rfm_customers": rfm,
        "segments_by_store": fidelite.segments_by(rfm, "store"),
        "loyalty_kpis": marts.compute(conn, "loyalty_kpis", run_date),
        "penetration_by_region": marts.compute(conn, "penetration_by_region", run_date),
        "top_loyal_clients_by_store": marts.compute(conn, "top_loyal_clients_by_store", run_date),
        "top_stores_by_loyal_customers": marts.compute(conn, "top_stores_by_loyal_customers", run_date),
        "segment_category_affinity": marts.compute(conn, "segment_category_affinity", run_date, inputs={"rfm_customers": rfm}),
        "category_correlation": marts.compute(conn, "category_correlation", run_date),
    }


def test_an_earlier_run_ignores_later_rows(conn, settings, demo_warehouse):
    """The full warehouse (loaded to 2026-11-30) run as of EARLIER gives exactly what a
    warehouse loaded only up to EARLIER gives: nothing after the run date leaks in."""
    warehouse.build_warehouse(settings, EARLIER, "canonical", SourceOptions(raw=demo_warehouse.raw_dir))
    full = _all_tables(conn, EARLIER)
    with db.connect(settings, autocommit=True) as partial_conn:
        partial = _all_tables(partial_conn, EARLIER)
        assert partial_conn.execute("select max(sale_date) from warehouse.fact_ventes").fetchone()[0] == EARLIER
    for name, frame in full.items():
        pd.testing.assert_frame_equal(frame, partial[name], obj=name)
    rfm = full["rfm_customers"]
    assert (rfm["last_purchase_date"] <= EARLIER).all()
    assert full["loyalty_kpis"]["month"].max() == "2026-05"
    # the store that changed banner on 2026-06-01 shows the banner it had then
    kpis = full["loyalty_kpis"]
    assert set(kpis.loc[kpis["store_code"] == demo.BANNER_CHANGE.store_code, "banner"]) == {
        demo.BANNER_CHANGE.old_banner}
    now = marts.compute(conn, "loyalty_kpis", DEMO_RUN_DATE)
    assert set(now.loc[now["store_code"] == demo.BANNER_CHANGE.store_code, "banner"]) == {
        demo.BANNER_CHANGE.new_banner}


def test_windows_are_parameters(conn, raw):
    short = marts.compute(conn, "rfm_customers", DEMO_RUN_DATE, window_days=30)
    full = marts.compute(conn, "rfm_customers", DEMO_RUN_DATE)
    assert (short["frequency"] <= full.set_index("customer_code").loc[short["customer_code"], "frequency"].values).all()
    assert len(short) == len(full)      # recency looks at the whole history either way
    kpis = marts.compute(conn, "loyalty_kpis", DEMO_RUN_DATE, kpi_months=3)
    assert sorted(kpis["month"].unique()) == ["2026-09", "2026-10", "2026-11"]
    with pytest.raises(ValueError):
        marts.compute(conn, "loyalty_kpis", DEMO_RUN_DATE, kpi_months=0)
    with pytest.raises(ValueError):
        marts.open_run(marts.FIDELITE, "2026-13-01")


# --------------------------------------------------------------------------- exports and charts


def test_exports_are_byte_identical_on_rerun(conn, tmp_path):
    def run(directory: Path) -> dict[str, bytes]:
        tables = _all_tables(conn, DEMO_RUN_DATE)
        rfm = tables["rfm_customers"]
        tables["segments_by_region"] = fidelite.segments_by(rfm, "region")
        tables["segments_by_brand"] = fidelite.segments_by(rfm, "brand")
        tables["product_rules"] = marts.compute(conn, "product_rules", DEMO_RUN_DATE)
        tables["category_rules"] = marts.compute(conn, "category_rules", DEMO_RUN_DATE)
        assert set(tables) == set(FIDELITE_TABLES)
        for name, frame in tables.items():
            assert not frame.duplicated(list(marts.TABLES[name].sort_by)).any(), name
            marts.export(frame, name, directory)
        for name in FIDELITE_CHARTS:
            exports.save_chart(marts.draw(name, tables[marts.CHARTS[name].table]), name, directory)
        return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*.*"))}

    first, second = run(tmp_path / "a"), run(tmp_path / "b")
    assert first.keys() == second.keys()
    assert len([k for k in first if k.endswith(".parquet")]) == len(FIDELITE_TABLES)
    assert len([k for k in first if k.startswith("charts/")]) == len(FIDELITE_CHARTS) == 9
    assert [k for k in first if first[k] != second[k]] == []
    with pytest.raises(KeyError):
        marts.export(pd.DataFrame({"a": [1]}), "not_a_table", tmp_path)
