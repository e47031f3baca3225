"""The demo source: file-level checks (no database) of layout, determinism and planted structure."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from etl_helpers.contract import ENTITIES, MAX_QUANTITY, list_raw_files, raw_path
from etl_helpers.sources import demo

RUN_DATE = date(2026, 11, 30)
START = date(2024, 12, 1)          # RUN_DATE - 730 days + 1
PARIS = ZoneInfo("Europe/Paris")


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def _read_events(raw: Path, entity: str) -> pd.DataFrame:
    frames = []
    for path in sorted((raw / entity).glob(f"{entity}_*.csv")):
        frame = _read(path)
        frame["file_day"] = path.stem.split("_")[1]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> dict:
    """The small demo over the default two-year window, generated once for the module."""
    raw = tmp_path_factory.mktemp("demo") / "raw"
    summary = demo.generate(raw, RUN_DATE, scale="small", seed=42)
    sales = _read_events(raw, "sales")
    for column in ("quantity", "line_number"):
        sales[column] = sales[column].astype(int)
    for column in ("unit_price", "discount", "amount"):
        sales[column] = sales[column].astype(float)
    loyalty = _read_events(raw, "loyalty")
    for column in ("points_earned", "points_redeemed"):
        loyalty[column] = loyalty[column].astype(int)
    return {
        "raw": raw, "summary": summary, "sales": sales, "loyalty": loyalty,
        "stores": _read(raw_path(raw, "stores", START)),
        "stores_after": _read(raw_path(raw, "stores", demo.BANNER_CHANGE.on)),
        "products": _read(raw_path(raw, "products", START)),
        "customers": _read(raw_path(raw, "customers", START)),
        "regions": _read(raw_path(raw, "regions", START)),
    }


@pytest.fixture(scope="module")
def tickets(full) -> pd.DataFrame:
    sales = full["sales"]
    return sales.groupby("ticket_id").agg(
        customer=("customer_code", "first"), store=("store_code", "first"), day=("file_day", "first"),
        sold_at=("sold_at", "first"), amount=("amount", "sum"), lines=("line_number", "size"),
        products=("product_code", frozenset))


# ----------------------------------------------------------------------------- layout


def test_writes_every_file_of_the_window(full):
    raw, summary = full["raw"], full["summary"]
    assert summary["start"] == START.isoformat() and summary["end"] == RUN_DATE.isoformat()
    # 4 reference snapshots + the banner-change stores snapshot + sales and loyalty per day
    assert summary["files_written"] == 4 + 1 + 2 * 730
    assert summary["files_skipped"] == 0
    files = list_raw_files(raw, RUN_DATE)       # the contract's own lister accepts the folder
    assert len(files) == summary["files_written"]
    assert not [p for p in raw.rglob(".*")], "no temp file left behind"
    assert summary["rows"]["sales"] == len(full["sales"])
    assert summary["rows"]["loyalty"] == len(full["loyalty"])


@pytest.mark.parametrize("entity", list(ENTITIES))
def test_every_file_has_exactly_the_contract_columns(full, entity):
    paths = sorted((full["raw"] / entity).glob("*.csv"))
    assert paths
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            header = handle.readline().rstrip("\n")
        assert header == ",".join(ENTITIES[entity].column_names), path.name


def test_small_scale_has_about_50k_ticket_lines(full):
    assert 40_000 <= len(full["sales"]) <= 60_000


def test_rerun_writes_nothing(full):
    summary = demo.generate(full["raw"], RUN_DATE, scale="small", seed=42)
    assert summary["files_written"] == 0
    assert summary["files_skipped"] == 4 + 1 + 2 * 730


def test_later_run_date_reuses_the_existing_reference_snapshots(full, tmp_path):
    raw = tmp_path / "raw"
    demo.generate(raw, date(2026, 11, 28), history_days=5)
    summary = demo.generate(raw, date(2026, 11, 30), history_days=5)
    assert summary["files_written"] == 4        # two new days; the snapshots of 2026-11-24 still hold
    assert not raw_path(raw, "products", date(2026, 11, 26)).exists()


def test_killed_write_leaves_no_file(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(demo.pacsv, "write_csv", broken)
    with pytest.raises(OSError):
        demo.generate(tmp_path, date(2026, 1, 10), history_days=1)
    assert not list((tmp_path / "sales").iterdir())   # neither a partial file nor a temp file


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="scale"):
        demo.generate(tmp_path, RUN_DATE, scale="huge")
    with pytest.raises(TypeError):
        demo.generate(tmp_path, datetime(2026, 11, 30))
    with pytest.raises(ValueError):
        demo.generate(tmp_path, RUN_DATE, history_days=0)
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- determinism


def _same_bytes(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


def test_same_seed_gives_byte_identical_files(full, tmp_path):
    raw = tmp_path / "raw"
    demo.generate(raw, RUN_DATE, history_days=20)
    for entity in ("sales", "loyalty"):
        for path in (raw / entity).iterdir():
            assert _same_bytes(path, full["raw"] / entity / path.name), path.name
    start = RUN_DATE - timedelta(days=19)
    for entity in ("regions", "products", "customers"):
        assert _same_bytes(raw_path(raw, entity, start), raw_path(full["raw"], entity, START))
    # the window starts after the banner change: its stores snapshot shows the new banner
    assert _same_bytes(raw_path(raw, "stores", start), raw_path(full["raw"], "stores", demo.BANNER_CHANGE.on))


def test_a_day_is_identical_under_another_run_date(full, tmp_path):
    raw = tmp_path / "raw"
    run_date = date(2026, 4, 2)
    demo.generate(raw, run_date, history_days=10)   # covers the 2026 spring DST change
    days = sorted((raw / "sales").iterdir())
    assert len(days) == 10
    for entity in ("sales", "loyalty"):
        for path in (raw / entity).iterdir():
            assert _same_bytes(path, full["raw"] / entity / path.name), path.name
    start = run_date - timedelta(days=9)
    for entity in ("regions", "stores", "products", "customers"):
        assert _same_bytes(raw_path(raw, entity, start), raw_path(full["raw"], entity, START)), entity


def test_another_seed_gives_other_data(full, tmp_path):
    demo.generate(tmp_path, RUN_DATE, seed=7, history_days=2)
    assert not _same_bytes(raw_path(tmp_path, "sales", RUN_DATE), raw_path(full["raw"], "sales", RUN_DATE))
    assert not _same_bytes(raw_path(tmp_path, "customers", RUN_DATE - timedelta(days=1)),
                           raw_path(full["raw"], "customers", START))


# ----------------------------------------------------------------------------- reference data


def test_regions_are_the_13_metropolitan_regions(full):
    regions = full["regions"]
    assert set(regions.region_code) == {"IDF", "ARA", "NAQ", "OCC", "HDF", "GES", "PAC", "PDL", "NOR",
                                        "BRE", "BFC", "CVL", "COR"}
    population = regions.set_index("region_code").population.astype(int)
    assert population.idxmax() == "IDF" and population.idxmin() == "COR"
    assert 60_000_000 < population.sum() < 70_000_000


def test_stores_products_customers_are_plausible(full):
    stores, products, customers = full["stores"], full["products"], full["customers"]
    assert set(stores.banner) == {"hyper", "super", "proxi"}
    assert stores.store_code.is_unique and products.product_code.is_unique
    assert customers.customer_code.is_unique
    assert set(stores.region_code) <= set(full["regions"].region_code)
    assert stores.postal_code.str.fullmatch(r"\d{5}").all()
    assert products.category.nunique() == 10
    assert (products.list_price.astype(float) > 0).all()
    assert set(customers.gender) <= {"F", "M", "X"}
    carded = customers.has_loyalty_card == "true"
    assert set(customers.has_loyalty_card) == {"true", "false"}
    assert 0.75 < carded.mean() < 0.95
    assert (customers.enrolled_on != "").eq(carded).all()
    assert customers.birth_year.astype(int).between(1920, 2010).all()


def test_banner_change_snapshot(full, tmp_path):
    before = full["stores"].set_index("store_code")
    after = full["stores_after"].set_index("store_code")
    change = demo.BANNER_CHANGE
    assert before.loc[change.store_code, "banner"] == change.old_banner
    assert after.loc[change.store_code, "banner"] == change.new_banner
    assert before.loc[change.store_code, "store_name"] != after.loc[change.store_code, "store_name"]
    others = before.index != change.store_code
    pd.testing.assert_frame_equal(before[others], after[others])
    # a window that ends before the change has no second snapshot
    demo.generate(tmp_path, change.on - timedelta(days=1), history_days=3)
    assert [p.name for p in (tmp_path / "stores").iterdir()] == [
        f"stores_{(change.on - timedelta(days=3)).isoformat()}.csv"]


# ----------------------------------------------------------------------------- events


def test_every_event_is_dated_on_its_files_day(full):
    for entity, column in (("sales", "sold_at"), ("loyalty", "occurred_at")):
        events = full[entity]
        assert (events[column].str[:10] == events.file_day).all()
        local = pd.to_datetime(events[column], utc=True).dt.tz_convert("Europe/Paris")
        assert (local.dt.strftime("%Y-%m-%d") == events.file_day).all()
        assert local.dt.hour.between(8, 20).all()        # opening hours 08:00-21:00


def test_offsets_follow_europe_paris_including_dst_days(full):
    sales = full["sales"]
    assert sales.sold_at.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00").all()
    # the last Sundays of March and October (DST changes), and the Saturdays before them
    expected = {"2025-03-29": "+01:00", "2025-03-30": "+02:00", "2025-10-25": "+02:00", "2025-10-26": "+01:00",
                "2026-03-28": "+01:00", "2026-03-29": "+02:00", "2026-10-24": "+02:00", "2026-10-25": "+01:00"}
    for day, offset in expected.items():
        rows = sales[sales.file_day == day]
        assert len(rows) > 0, f"no sales on {day}"
        assert (rows.sold_at.str[-6:] == offset).all(), day
    sample = sales.sold_at.sample(2_000, random_state=1)
    for text in sample:
        stamp = datetime.fromisoformat(text)
        assert stamp.utcoffset() == stamp.replace(tzinfo=PARIS).utcoffset(), text


def test_ticket_keys_and_lines(full, tickets):
    sales = full["sales"]
    assert not sales.duplicated(["ticket_id", "line_number"]).any()
    assert sales.ticket_id.str.fullmatch(r"T\d{8}-S\d{3}-\d{5}").all()
    assert (sales.ticket_id.str[1:9] == sales.file_day.str.replace("-", "")).all()
    per_ticket = sales.groupby("ticket_id").agg(
        n=("line_number", "size"), top=("line_number", "max"), stores=("store_code", "nunique"),
        times=("sold_at", "nunique"), customers=("customer_code", "nunique"),
        products=("product_code", "nunique"))
    assert (per_ticket.n == per_ticket.top).all()                     # 1..k without gaps
    assert (per_ticket[["stores", "times", "customers"]] == 1).all().all()
    assert (per_ticket.products == per_ticket.n).all()                # one line per product
    assert 3 < per_ticket.n.mean() < 7


def test_values_respect_the_contract(full):
    sales = full["sales"]
    assert (sales.quantity != 0).all() and (sales.quantity.abs() <= MAX_QUANTITY).all()
    assert (sales.unit_price > 0).all()
    assert sales.discount.between(0, 1, inclusive="left").all()
    assert (sales.discount == 0).mean() > 0.8
    expected = sales.quantity * sales.unit_price * (1 - sales.discount)
    assert np.allclose(sales.amount, expected, atol=0.005 + 1e-9)
    text = _read(raw_path(full["raw"], "sales", RUN_DATE))
    assert text.unit_price.str.fullmatch(r"\d+\.\d\d").all()


def test_anonymous_tickets_and_returns(full, tickets):
    anonymous = (tickets.customer == "").mean()
    assert 0.12 < anonymous < 0.28
    sales = full["sales"]
    returns = sales[sales.quantity < 0]
    assert 0.005 < len(returns) / len(sales) < 0.02
    assert (returns.amount < 0).all()


def test_codes_in_events_exist_in_the_reference_files(full):
    sales, loyalty, customers = full["sales"], full["loyalty"], full["customers"]
    assert set(sales.store_code) <= set(full["stores"].store_code)
    assert set(sales.product_code) <= set(full["products"].product_code)
    assert set(sales.customer_code) - {""} <= set(customers.customer_code)
    carded = set(customers.customer_code[customers.has_loyalty_card == "true"])
    assert set(loyalty.customer_code) <= carded
    assert set(loyalty.store_code) <= set(full["stores"].store_code)
    assert set(loyalty.ticket_id) - {""} <= set(sales.ticket_id)
    assert set(customers.region_code) <= set(full["regions"].region_code)


def test_loyalty_points(full, tickets):
    loyalty = full["loyalty"]
    assert loyalty.event_id.is_unique
    on_ticket = loyalty[loyalty.ticket_id != ""].join(tickets, on="ticket_id")
    assert (on_ticket.customer == on_ticket.customer_code).all()
    assert (on_ticket.sold_at == on_ticket.occurred_at).all()
    expected = np.floor(on_ticket.amount.clip(lower=0) + 1e-6).astype(int)
    assert (on_ticket.points_earned == expected).all()
    assert (loyalty.points_redeemed >= 0).all() and (loyalty.points_redeemed > 0).any()
    assert loyalty.points_redeemed.sum() < 0.5 * loyalty.points_earned.sum()
    # every carded ticket has its event
    customers = full["customers"].set_index("customer_code")
    carded = tickets[tickets.customer != ""]
    carded = carded[customers.loc[carded.customer, "has_loyalty_card"].eq("true").to_numpy()]
    assert set(carded.index) == set(on_ticket.ticket_id)


def test_weekly_yearly_and_holiday_patterns(full, tickets):
    per_day = full["sales"].groupby("file_day").size().reindex(
        [(START + timedelta(days=k)).isoformat() for k in range(730)], fill_value=0)
    days = pd.to_datetime(per_day.index)
    by_weekday = per_day.groupby(days.weekday).mean()
    assert by_weekday.idxmax() == 5                       # Saturday busiest
    assert by_weekday[6] < 0.5 * by_weekday[:6].mean()    # Sunday: mornings only, hypers closed
    pre_christmas = per_day[(days.month == 12) & (days.day >= 15) & (days.day <= 24)]
    assert pre_christmas.mean() > 1.15 * per_day[per_day > 0].mean()
    for day in ("2024-12-25", "2025-01-01", "2025-05-01", "2025-12-25", "2026-01-01", "2026-05-01"):
        assert per_day[day] == 0, day                     # every store closed
    stores = full["stores"].set_index("store_code").banner
    holiday = tickets[tickets.day == "2025-05-08"]       # Victory Day: only proxi, mornings
    assert len(holiday) and set(stores[holiday.store]) == {"proxi"}
    sunday = tickets[pd.to_datetime(tickets.day).dt.weekday == 6]
    before_change = sunday[sunday.day < demo.BANNER_CHANGE.on.isoformat()]
    assert "hyper" not in set(stores[before_change.store])


# ----------------------------------------------------------------------------- planted structure


def _support(tickets: pd.DataFrame, *codes: str) -> float:
    wanted = set(codes)
    return float(np.mean([wanted <= basket for basket in tickets.products]))


def _lift(tickets: pd.DataFrame, a: str, b: str) -> float:
    return _support(tickets, a, b) / (_support(tickets, a) * _support(tickets, b))


@pytest.mark.parametrize("pair", demo.PLANTED_PAIRS)
def test_planted_pairs_have_a_high_lift(tickets, pair):
    a, b = pair
    assert _lift(tickets, a, b) > 3
    assert _support(tickets, a, b) / _support(tickets, a) > 0.5    # confidence a -> b


def test_planted_triple_is_bought_together(tickets):
    x, y, z = demo.PLANTED_TRIPLE
    for a, b in ((x, y), (x, z), (y, z)):
        assert _lift(tickets, a, b) > 3
    any_of = float(np.mean([bool(set(demo.PLANTED_TRIPLE) & basket) for basket in tickets.products]))
    assert _support(tickets, x, y, z) / any_of > 0.5


def test_ordinary_products_have_a_pareto_popularity(full):
    counts = full["sales"].product_code.value_counts()
    top = counts.iloc[: len(counts) // 5].sum() / counts.sum()
    assert 0.6 < top < 0.9


def test_planted_customer_groups(full, tickets):
    groups = demo.planted_customers("small", 42)
    sizes = demo.SCALES["small"]
    assert (len(groups["champions"]), len(groups["churned"]), len(groups["new"])) == (
        sizes.champions, sizes.churned, sizes.new)
    codes = [c for group in groups.values() for c in group]
    assert len(set(codes)) == len(codes)
    customers = full["customers"].set_index("customer_code")
    assert (customers.loc[codes, "has_loyalty_card"] == "true").all()

    known = tickets[tickets.customer != ""]
    per_customer = known.groupby("customer").agg(n=("day", "size"), spend=("amount", "sum"),
                                                 first=("day", "min"), last=("day", "max"))
    ordinary = per_customer.drop(codes, errors="ignore")

    champions = per_customer.loc[list(groups["champions"])]
    assert (champions.n > ordinary.n.quantile(0.95)).all()
    assert (champions.spend > ordinary.spend.quantile(0.95)).all()
    assert (champions["last"] >= (RUN_DATE - timedelta(days=14)).isoformat()).all()

    churned = per_customer.loc[list(groups["churned"])]
    assert (churned["last"] <= demo.CHURN_LAST_DAY.isoformat()).all()
    assert (churned.n >= 10).all()                    # they did buy regularly before stopping
    later = full["loyalty"][full["loyalty"].file_day > demo.CHURN_LAST_DAY.isoformat()]
    assert not set(later.customer_code) & set(groups["churned"])

    new = per_customer.loc[list(groups["new"])]
    enrolled = customers.loc[list(groups["new"]), "enrolled_on"]
    assert enrolled.between(demo.NEW_ENROLLED_FROM.isoformat(), demo.NEW_ENROLLED_TO.isoformat()).all()
    assert (new["first"] == enrolled).all()           # first purchase on the enrolment day
    welcome = full["loyalty"][full["loyalty"].event_id.str.startswith("W")]
    assert sorted(welcome.customer_code) == sorted(groups["new"])
    # nobody else enrolled within the window
    others = customers.drop(list(groups["new"]))
    assert (others.enrolled_on[others.enrolled_on != ""] < START.isoformat()).all()
