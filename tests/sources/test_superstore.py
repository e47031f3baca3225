"""The Superstore source: the seed's real order lines become canonical raw files.

Expected figures are computed here straight from the seed CSV (pandas, Decimal), never
from the converter's own code, so the two checks meet from opposite sides.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter, defaultdict
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import pandas as pd
import pytest

from etl_helpers.contract import ENTITIES, LOAD_ORDER, list_raw_files, raw_path
from etl_helpers.settings import SUPERSTORE_CSV
from etl_helpers.sources import superstore

HEADER = list(superstore.SOURCE_COLUMNS)
SEED_ROWS = 9_994


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_csv(seed_data_dir) -> Path:
    if not SUPERSTORE_CSV.is_file():
        pytest.skip(f"Superstore seed CSV not found at {SUPERSTORE_CSV}")
    return SUPERSTORE_CSV


@pytest.fixture(scope="module")
def seed_frame(seed_csv) -> pd.DataFrame:
    """The CSV read independently: every column as text, order date parsed by pandas."""
    frame = pd.read_csv(seed_csv, encoding="utf-8", dtype=str, keep_default_na=False)
    dashed = frame["Order Date"].str.contains("-")
    frame["day"] = pd.NaT
    frame.loc[dashed, "day"] = pd.to_datetime(frame.loc[dashed, "Order Date"], format="%m-%d-%Y")
    frame.loc[~dashed, "day"] = pd.to_datetime(frame.loc[~dashed, "Order Date"], format="%m/%d/%Y")
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    frame["row_id"] = frame["Row ID"].astype(int)
    frame["sales"] = frame["Sales"].map(Decimal)
    return frame


@pytest.fixture(scope="module")
def converted(seed_csv, tmp_path_factory) -> tuple[Path, dict]:
    raw_dir = tmp_path_factory.mktemp("superstore_raw")
    return raw_dir, superstore.convert(seed_csv, raw_dir)


def read_entity(raw_dir: Path, entity: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted((raw_dir / entity).glob(f"{entity}_*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                row["_file"] = path.name
                rows.append(row)
    return rows


@pytest.fixture(scope="module")
def out(converted) -> dict[str, list[dict[str, str]]]:
    raw_dir, _ = converted
    return {entity: read_entity(raw_dir, entity) for entity in LOAD_ORDER}


def write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    """A small hand-made Superstore-shaped CSV; ``rows`` give the columns that matter."""
    defaults = {
        "Ship Date": "01-10-2016", "Ship Mode": "Standard Class", "Segment": "Consumer",
        "Country": "United States", "City": "Henderson", "State": "Kentucky", "Region": "South",
        "Category": "Furniture", "Sub-Category": "Chairs", "Product Name": "Chair",
        "Quantity": "1", "Discount": "0", "Profit": "1",
    }
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({**defaults, **row})
    return path


def line(row_id: int, order: str, day: str, sales: str, **more: str) -> dict[str, str]:
    return {"Row ID": str(row_id), "Order ID": order, "Order Date": day, "Customer ID": "AA-1",
            "Product ID": "FUR-CH-1", "Sales": sales, **more}


def snapshot(raw_dir: Path) -> dict[str, tuple[int, str]]:
    return {
        p.relative_to(raw_dir).as_posix(): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(raw_dir.rglob("*")) if p.is_file()
    }


# --- the whole seed ----------------------------------------------------------------------


def test_files_follow_the_contract(converted, out):
    raw_dir, summary = converted
    for entity in LOAD_ORDER:
        files = sorted((raw_dir / entity).iterdir())
        assert files, entity
        for path in files:
            with path.open(encoding="utf-8", newline="") as handle:
                assert next(csv.reader(handle)) == ENTITIES[entity].column_names, path
    listed = list_raw_files(raw_dir, up_to=date(2099, 1, 1))
    assert len(listed) == sum(summary["files"].values()) == 4 + 2 * 1_237
    assert summary["rows"] == {entity: len(rows) for entity, rows in out.items()}
    assert summary["encoding"] == "utf-8"
    assert (summary["first_date"], summary["last_date"]) == ("2014-01-03", "2017-12-30")
    # Reference snapshots are dated at the earliest order date.
    for entity in ("regions", "stores", "products", "customers"):
        assert [p.name for p in (raw_dir / entity).iterdir()] == [f"{entity}_2014-01-03.csv"]


def test_every_seed_row_is_exactly_one_sales_line(seed_frame, out):
    sales = out["sales"]
    assert len(sales) == len(seed_frame) == SEED_ROWS
    keys = Counter((s["ticket_id"], int(s["line_number"])) for s in sales)
    assert max(keys.values()) == 1

    seed = seed_frame.sort_values("row_id")
    numbers = seed.groupby("Order ID").cumcount() + 1  # 1..n by Row ID within the order
    expected = {
        (order_id, int(number)): tuple(rest)
        for order_id, number, *rest in zip(seed["Order ID"], numbers, seed["Product ID"],
                                           seed["Customer ID"], seed["Quantity"], seed["Discount"],
                                           seed["Sales"], seed["day"])
    }
    actual = {
        (s["ticket_id"], int(s["line_number"])): (
            s["product_code"], s["customer_code"], s["quantity"], s["discount"], s["amount"],
            date.fromisoformat(s["sold_at"][:10]))
        for s in sales
    }
    assert actual == expected


def test_sold_at_is_noon_utc_on_the_files_business_date(out):
    for kind, stamp in (("sales", "sold_at"), ("loyalty", "occurred_at")):
        for row in out[kind]:
            assert row[stamp] == f"{row['_file'][len(kind) + 1:-4]}T12:00:00+00:00"


def test_amount_totals_per_region_category_year_match_the_csv(seed_frame, out):
    region_of_store = {s["store_code"]: s["region_code"] for s in out["stores"]}
    region_name = {r["region_code"]: r["region_name"] for r in out["regions"]}
    category_of = {p["product_code"]: p["category"] for p in out["products"]}
    by_region: dict[str, Decimal] = defaultdict(Decimal)
    by_category: dict[str, Decimal] = defaultdict(Decimal)
    by_year: dict[int, Decimal] = defaultdict(Decimal)
    for s in out["sales"]:
        amount = Decimal(s["amount"])
        by_region[region_name[region_of_store[s["store_code"]]]] += amount
        by_category[category_of[s["product_code"]]] += amount
        by_year[int(s["sold_at"][:4])] += amount

    def cents(totals) -> dict:
        return {k: Decimal(v).quantize(Decimal("0.01")) for k, v in dict(totals).items()}

    seed = seed_frame.assign(year=[d.year for d in seed_frame["day"]])
    assert cents(by_region) == cents(seed.groupby("Region")["sales"].sum())
    assert cents(by_category) == cents(seed.groupby("Category")["sales"].sum())
    assert cents(by_year) == cents(seed.groupby("year")["sales"].sum())
    assert set(by_year) == {2014, 2015, 2016, 2017}
    assert sum(by_region.values()) == Decimal("2297200.8603")  # the published Superstore total


def test_amount_keeps_the_text_and_unit_price_is_the_undiscounted_price(seed_frame, out):
    line_of = {(s["ticket_id"], s["line_number"]): s for s in out["sales"]}
    row1 = line_of[("CA-2016-152156", "1")]  # Row ID 1: Sales 261.96, Quantity 2, no discount
    assert (row1["amount"], row1["unit_price"], row1["discount"]) == ("261.96", "130.98", "0")
    row4 = line_of[("US-2015-108966", "1")]  # Row ID 4: 957.5775 for 5 at 45 % off
    assert (row4["amount"], row4["discount"]) == ("957.5775", "0.45")
    assert row4["unit_price"] == "348.21"  # 957.5775 / 5 / 0.55 = 348.2100
    for s in out["sales"]:
        price = Decimal(s["unit_price"])
        assert price > 0 and price.as_tuple().exponent == -2
        rebuilt = price * int(s["quantity"]) * (1 - Decimal(s["discount"]))
        assert abs(rebuilt - Decimal(s["amount"])) <= Decimal("0.005") * int(s["quantity"])


def test_both_date_formats_are_read_month_first(seed_frame, out):
    by_ticket = {s["ticket_id"]: s["sold_at"][:10] for s in out["sales"]}
    assert by_ticket["CA-2016-152156"] == "2016-11-08"  # Row ID 1, written 11-08-2016
    row = seed_frame.loc[seed_frame["Order Date"] == "6/16/2016"].iloc[0]
    assert by_ticket[row["Order ID"]] == "2016-06-16"
    assert (seed_frame["Order Date"].str.contains("/")).sum() > 0
    assert (seed_frame["Order Date"].str.contains("-")).sum() > 0
    # The month-first reading is the right one: every order ships 0..7 days later.
    for order_text, ship_text in zip(seed_frame["Order Date"], seed_frame["Ship Date"]):
        delay = (superstore.parse_order_date(ship_text) - superstore.parse_order_date(order_text)).days
        assert 0 <= delay <= 7, (order_text, ship_text)


@pytest.mark.parametrize("text, expected", [
    ("11-08-2016", date(2016, 11, 8)),
    ("01-03-2014", date(2014, 1, 3)),
    ("6/16/2016", date(2016, 6, 16)),
    ("12/30/2017", date(2017, 12, 30)),
])
def test_parse_order_date_accepts_the_two_formats(text, expected):
    assert superstore.parse_order_date(text) == expected


@pytest.mark.parametrize("text", [
    "2016-11-08", "16/6/2016", "13-01-2016", "1-8-2016", "6/16/16", "02-30-2016", "", " 6/16/2016",
])
def test_parse_order_date_refuses_anything_else(text):
    with pytest.raises(ValueError):
        superstore.parse_order_date(text)


def test_orders_customers_products_counts(seed_frame, out):
    assert len(out["loyalty"]) == seed_frame["Order ID"].nunique() == 5_009
    assert len({s["ticket_id"] for s in out["sales"]}) == 5_009
    assert len(out["customers"]) == seed_frame["Customer ID"].nunique() == 793
    assert len(out["products"]) == seed_frame["Product ID"].nunique() == 1_862
    segment = dict(zip(seed_frame["Customer ID"], seed_frame["Segment"]))
    for c in out["customers"]:
        assert c["has_loyalty_card"] == "true"
        assert c["segment"] == segment[c["customer_code"]]


def test_stores_are_derived_from_city_and_state(seed_frame, out):
    stores = out["stores"]
    pairs = seed_frame[["City", "State"]].drop_duplicates()
    assert len(pairs) == len(stores) == 604
    codes = [s["store_code"] for s in stores]
    assert len(set(codes)) == len(codes)
    by_code = {s["store_code"]: s for s in stores}
    # The same city name in two states is two stores.
    assert by_code["US-KY-HENDERSON"]["store_name"] == "Superstore Henderson (KY)"
    assert by_code["US-NV-HENDERSON"]["region_code"] == "WEST"
    assert by_code["US-NY-NEW-YORK-CITY"]["city"] == "New York City"
    opened = seed_frame.groupby(["City", "State"])["day"].min()
    region = seed_frame.groupby(["City", "State"])["Region"].first()
    for (city, state), first_day in opened.items():
        store = by_code[superstore.store_code(city, state)]
        assert store["city"] == city
        assert store["opened_on"] == first_day.isoformat()
        assert store["region_code"] == region[(city, state)].upper()
        assert (store["banner"], store["postal_code"]) == ("Superstore", "")
    # Every sale is at the store of its order's city and state.
    store_of_order = {o: superstore.store_code(c, s) for o, c, s in
                      zip(seed_frame["Order ID"], seed_frame["City"], seed_frame["State"])}
    assert all(s["store_code"] == store_of_order[s["ticket_id"]] for s in out["sales"])


def test_regions_carry_census_2020_populations(seed_frame, out):
    regions = {r["region_code"]: r for r in out["regions"]}
    assert sorted(regions) == ["CENTRAL", "EAST", "SOUTH", "WEST"]
    # 49 of the 51 areas appear (no Alaska, no Hawaii): 331,449,281 - 733,391 - 1,455,271.
    assert sum(int(r["population"]) for r in regions.values()) == 329_260_619
    assert sum(p for _, p in superstore.STATES.values()) == 331_449_281
    for name, states in seed_frame.groupby("Region")["State"].unique().items():
        expected = sum(superstore.STATES[s][1] for s in states)
        assert int(regions[name.upper()]["population"]) == expected


def test_duplicate_product_ids_take_the_first_name_by_row_id(seed_frame, out, tmp_path):
    names = seed_frame.groupby("Product ID")["Product Name"].nunique()
    several = names[names > 1].index
    assert len(several) == 32
    first = seed_frame.sort_values("row_id").groupby("Product ID")["Product Name"].first()
    product = {p["product_code"]: p for p in out["products"]}
    for product_id in several:
        assert product[product_id]["product_name"] == first[product_id]
    assert product["FUR-BO-10002213"]["product_name"] == "DMI Eclipse Executive Suite Bookcases"

    # File order does not matter, Row ID does: the same rows reversed give the same products.
    reversed_csv = tmp_path / "reversed.csv"
    seed_frame.iloc[::-1][HEADER].to_csv(reversed_csv, index=False, encoding="utf-8")
    raw_dir = tmp_path / "raw"
    superstore.convert(reversed_csv, raw_dir)
    assert read_entity(raw_dir, "products") == out["products"]
    assert read_entity(raw_dir, "sales") == out["sales"]


def test_text_is_decoded_right(out):
    names = {p["product_name"] for p in out["products"]}
    assert "Southworth 100% Résumé Paper, 24lb." in names
    assert "Hon Deluxe Fabric Upholstered Stacking Chairs, Rounded Back" in names  # quoted comma
    assert not any("Ã" in n or "Â" in n or "\ufffd" in n for n in names)


def test_loyalty_is_one_event_per_order_at_ten_percent(seed_frame, out):
    totals = seed_frame.groupby("Order ID")["sales"].sum()
    customer = dict(zip(seed_frame["Order ID"], seed_frame["Customer ID"]))
    sold_at = {s["ticket_id"]: (s["sold_at"], s["store_code"]) for s in out["sales"]}
    for event in out["loyalty"]:
        order_id = event["ticket_id"]
        assert event["event_id"] == f"L-{order_id}"
        assert (event["occurred_at"], event["store_code"]) == sold_at[order_id]
        assert event["customer_code"] == customer[order_id]
        assert event["points_redeemed"] == "0"
        expected = (totals[order_id] * Decimal("0.1")).to_integral_value(rounding=ROUND_FLOOR)
        assert int(event["points_earned"]) == expected
    by_id = {e["ticket_id"]: e for e in out["loyalty"]}
    assert by_id["CA-2016-152156"]["points_earned"] == "99"  # (261.96 + 731.94) x 10 % = 99.39


def test_points_use_the_given_rate_with_the_seed(seed_csv, seed_frame, tmp_path):
    raw_dir = tmp_path / "raw"
    summary = superstore.convert(seed_csv, raw_dir, points_rate=0.07)
    assert summary["points_rate"] == 0.07
    totals = seed_frame.groupby("Order ID")["sales"].sum()
    events = read_entity(raw_dir, "loyalty")
    assert len(events) == 5_009
    for event in events:
        expected = (totals[event["ticket_id"]] * Decimal("0.07")).to_integral_value(rounding=ROUND_FLOOR)
        assert int(event["points_earned"]) == expected


def test_points_are_floored_exactly_not_in_float(tmp_path):
    # 100.00 x 0.29 is exactly 29; in float it is 28.999999999999996 and would floor to 28.
    source = write_csv(tmp_path / "s.csv", [
        line(1, "O-1", "01-05-2016", "60.00"),
        line(2, "O-1", "01-05-2016", "40.00", **{"Product ID": "FUR-CH-2"}),
        line(3, "O-2", "1/20/2016", "9.99"),
    ])
    superstore.convert(source, tmp_path / "raw", points_rate=0.29)
    points = {e["ticket_id"]: e["points_earned"] for e in read_entity(tmp_path / "raw", "loyalty")}
    assert points == {"O-1": "29", "O-2": "2"}  # 9.99 x 0.29 = 2.8971 -> 2


@pytest.mark.parametrize("rate", [-0.1, float("nan"), float("inf"), "ten"])
def test_a_bad_points_rate_is_refused(tmp_path, rate):
    source = write_csv(tmp_path / "s.csv", [line(1, "O-1", "01-05-2016", "10")])
    with pytest.raises(ValueError, match="points_rate"):
        superstore.convert(source, tmp_path / "raw", points_rate=rate)


def test_rerun_on_unchanged_input_rewrites_nothing(seed_csv, converted):
    raw_dir, first = converted
    before = snapshot(raw_dir)
    assert len(first["written"]) == len(before) == 2_478
    again = superstore.convert(seed_csv, raw_dir)
    assert again["written"] == [] and again["unchanged"] == 2_478 and again["stale"] == []
    assert snapshot(raw_dir) == before  # same mtimes, same hashes, no temporary files left


def test_rerun_replaces_only_a_file_that_differs(tmp_path):
    source = write_csv(tmp_path / "s.csv", [line(1, "O-1", "01-05-2016", "10"),
                                            line(2, "O-2", "01-06-2016", "20")])
    raw_dir = tmp_path / "raw"
    superstore.convert(source, raw_dir)
    tampered = raw_path(raw_dir, "sales", date(2016, 1, 6))
    good = tampered.read_bytes()
    tampered.write_text("garbage\n", encoding="utf-8")
    before = snapshot(raw_dir)
    summary = superstore.convert(source, raw_dir)
    assert summary["written"] == ["sales/sales_2016-01-06.csv"]
    assert tampered.read_bytes() == good
    after = snapshot(raw_dir)
    assert {k for k in after if after[k] != before[k]} == {"sales/sales_2016-01-06.csv"}


def test_files_the_input_no_longer_produces_are_reported_not_deleted(tmp_path):
    raw_dir = tmp_path / "raw"
    superstore.convert(write_csv(tmp_path / "a.csv", [line(1, "O-1", "01-05-2016", "10"),
                                                      line(2, "O-2", "01-06-2016", "20")]), raw_dir)
    summary = superstore.convert(write_csv(tmp_path / "b.csv", [line(1, "O-1", "01-05-2016", "10")]), raw_dir)
    assert summary["stale"] == ["loyalty/loyalty_2016-01-06.csv", "sales/sales_2016-01-06.csv"]
    assert raw_path(raw_dir, "sales", date(2016, 1, 6)).exists()


# --- bad input ---------------------------------------------------------------------------


def test_a_bad_date_names_its_line(tmp_path):
    source = write_csv(tmp_path / "bad.csv", [
        line(1, "O-1", "11-08-2016", "10"),
        line(2, "O-2", "2016-11-08", "10"),  # ISO: neither Superstore format -> line 3
    ])
    with pytest.raises(ValueError, match=r"bad\.csv, line 3: Order Date: date '2016-11-08' matches neither"):
        superstore.convert(source, tmp_path / "raw")
    assert not (tmp_path / "raw").exists()  # nothing written


def test_an_impossible_date_names_its_line(tmp_path):
    source = write_csv(tmp_path / "bad.csv", [line(1, "O-1", "02-30-2016", "10")])
    with pytest.raises(ValueError, match=r"line 2: Order Date: date '02-30-2016' is not a calendar date"):
        superstore.convert(source, tmp_path / "raw")


def test_a_missing_column_is_named(tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text(",".join(c for c in HEADER if c != "Sales") + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing column.*Sales"):
        superstore.convert(source, tmp_path / "raw")


def test_an_empty_file_is_an_error(tmp_path):
    source = tmp_path / "empty.csv"
    source.write_bytes(b"")
    with pytest.raises(ValueError, match="empty file"):
        superstore.convert(source, tmp_path / "raw")


@pytest.mark.parametrize("field, value, message", [
    ("Sales", "12,5", "Sales"),
    ("Sales", "0", "Sales"),
    ("Quantity", "two", "Quantity"),
    ("Quantity", "0", "Quantity"),
    ("Discount", "1", "Discount"),
    ("State", "Atlantis", "Atlantis"),
])
def test_a_bad_value_stops_the_conversion(tmp_path, field, value, message):
    source = write_csv(tmp_path / "bad.csv", [line(1, "O-1", "01-05-2016", "10", **{field: value})])
    with pytest.raises(ValueError, match=message):
        superstore.convert(source, tmp_path / "raw")


def test_an_order_on_two_dates_is_refused(tmp_path):
    source = write_csv(tmp_path / "bad.csv", [line(1, "O-1", "01-05-2016", "10"),
                                              line(2, "O-1", "01-06-2016", "10")])
    with pytest.raises(ValueError, match=r"order date of order 'O-1'.*line 2.*line 3"):
        superstore.convert(source, tmp_path / "raw")


def test_a_latin1_file_is_decoded_as_such(tmp_path):
    source = write_csv(tmp_path / "latin1.csv", [
        line(1, "O-1", "01-05-2016", "10", **{"Product Name": "Pâtisserie d'Évry, lot"})], encoding="latin-1")
    summary = superstore.convert(source, tmp_path / "raw")
    assert summary["encoding"] == "cp1252"
    assert read_entity(tmp_path / "raw", "products")[0]["product_name"] == "Pâtisserie d'Évry, lot"
