"""fact_vente_mart against an independent recomputation, in pandas, from the raw CSV files.

The expected figures never come from the database: the ticket lines are read back from the
raw folder (sale date = ``sold_at`` in Europe/Paris, empty amount = round(quantity *
unit_price * (1 - discount), 2)), joined to the raw reference snapshots (a store's version
is the latest snapshot dated on or before the sale date), and aggregated with exact decimal
arithmetic. Money and percentages must then match to the cent.

Two warehouses are checked: a tiny hand-made canonical folder (always), and the demo
``small`` warehouse of the session fixture ``demo_warehouse`` when that fixture exists.
"""

from __future__ import annotations

import calendar as pycalendar
import csv
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pandas as pd
import psycopg
import pytest
from psycopg import conninfo, sql

from etl_helpers import aggregates, calendar, db, schema, views
from etl_helpers.contract import FILE_NAME, RawFormat
from etl_helpers.loading.load import load_raw_folder
from etl_helpers import marts
from etl_helpers.exports import save_chart
from etl_helpers.settings import Settings

PARIS = ZoneInfo("Europe/Paris")
VENTE_TABLES = [name for name, table in marts.TABLES.items() if table.mart == marts.VENTE]
VENTE_CHARTS = [name for name, chart in marts.CHARTS.items() if chart.mart == marts.VENTE]
E4 = 10_000  # amounts are handled as integers of 1/10000 euro: exact sums


# =========================================================================== tiny canonical folder

TINY_FIRST_DAY = date(2024, 1, 1)
TINY_LOAD_DATE = date(2025, 3, 31)     # everything up to here is loaded
TINY_RUN_DATE = date(2025, 2, 28)      # end of a common-year February: data exists after it
TINY_EARLY_DATE = date(2024, 12, 15)   # an earlier as-of date
TINY_TIE_DAY = date(2024, 6, 15)       # P90 and P91 sell exactly the same quantity
TINY_CLOSED_DAY = date(2025, 3, 1)     # stocktaking: only a ticket at 00:20 (see below)
# Tickets at 00:20 Paris time, written in UTC (so dated the day before in UTC), on days with
# no other sale: a Sunday that opens a month, and the day after TINY_RUN_DATE.
TINY_MIDNIGHT_DAYS = (date(2024, 12, 1), TINY_CLOSED_DAY)

REGIONS = [("IDF", "Île-de-France", 12_317_279), ("ARA", "Auvergne-Rhône-Alpes", 8_114_361),
           ("BRE", "Bretagne", 3_394_567)]
STORES = [  # code, name, banner, city, postal code, region
    ("S01", "Hyper Paris Nord", "hyper", "Paris", "75018", "IDF"),
    ("S02", "Super Lyon Gerland", "super", "Lyon", "69007", "ARA"),
    ("S03", "Proxi Rennes Centre", "proxi", "Rennes", "35000", "BRE"),
    ("S04", "Super Versailles", "super", "Versailles", "78000", "IDF"),
]
BANNER_CHANGE_DAY = date(2024, 9, 1)   # S02 becomes a hypermarket
CATEGORIES = ["Épicerie", "Boissons", "Hygiène & beauté", "Frais"]


def _half_up(value: Decimal, places: str = "0.01") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_tiny_folder(raw_dir: Path) -> None:
    """A small but awkward canonical folder: returns (separate and mixed), empty and
    explicit amounts, discounts, closed days, a banner change, a tie, and tickets just after
    midnight whose UTC date is the day before their Paris date."""
    rng = np.random.default_rng(20240101)
    first = TINY_FIRST_DAY.isoformat()
    _write_csv(raw_dir / "regions" / f"regions_{first}.csv", ["region_code", "region_name", "population"],
               [list(r) for r in REGIONS])
    store_header = ["store_code", "store_name", "banner", "city", "postal_code", "region_code", "opened_on"]
    _write_csv(raw_dir / "stores" / f"stores_{first}.csv", store_header,
               [[*s, "2010-05-01"] for s in STORES])
    changed = [("S02", "Hyper Lyon Gerland", "hyper", *STORES[1][3:]) if s[0] == "S02" else s for s in STORES]
    _write_csv(raw_dir / "stores" / f"stores_{BANNER_CHANGE_DAY.isoformat()}.csv", store_header,
               [[*s, "2010-05-01"] for s in changed])
    products = [(f"P{i:02d}", f"Produit {i:02d}", CATEGORIES[i % len(CATEGORIES)], f"sous-cat {i % 3}",
                 f"Marque {i % 5}", Decimal(int(rng.integers(50, 2000))) / 100) for i in range(1, 25)]
    products += [("P91", "Égalité B", "Frais", "", "", Decimal("0.50")),
                 ("P90", "Égalité A", "Frais", "", "", Decimal("0.50"))]
    _write_csv(raw_dir / "products" / f"products_{first}.csv",
               ["product_code", "product_name", "category", "subcategory", "brand", "list_price"],
               [list(p) for p in products])
    customers = [f"C{i:03d}" for i in range(1, 9)]
    _write_csv(raw_dir / "customers" / f"customers_{first}.csv",
               ["customer_code", "birth_year", "gender", "city", "region_code", "has_loyalty_card", "enrolled_on"],
               [[c, 1970 + i, "F" if i % 2 else "M", "Paris", "IDF", "true" if i % 3 else "false",
                 "2023-01-01" if i % 3 else ""] for i, c in enumerate(customers)])

    sellable = products[:24]
    by_month: dict[date, list[list]] = {}

    def line(ticket, number, local: datetime, store, customer, product, quantity, discount, utc=False):
        code, price = product[0], product[5]
        exact = _half_up(Decimal(quantity) * price * (1 - Decimal(str(discount))))
        roll = rng.random()
        amount = "" if roll < 0.5 else str(exact - Decimal("0.05") if roll > 0.9 else exact)
        stamp = (local.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ") if utc
                 else local.isoformat())
        month_end = local.date().replace(day=pycalendar.monthrange(local.year, local.month)[1])
        by_month.setdefault(min(month_end, TINY_LOAD_DATE), []).append(
            [ticket, number, stamp, store, customer, code, quantity, str(price), str(discount), amount])

    day = TINY_FIRST_DAY
    while day <= TINY_LOAD_DATE:
        closed = day.weekday() == 6 or (day.month, day.day) in {(12, 25), (5, 1)} or day == TINY_CLOSED_DAY
        tickets = 0 if closed else int(rng.integers(2, 7))
        for n in range(tickets):
            ticket = f"T{day:%Y%m%d}-{n:03d}"
            store = STORES[int(rng.integers(0, len(STORES)))][0]
            customer = customers[int(rng.integers(0, len(customers)))] if rng.random() < 0.6 else ""
            local = datetime(day.year, day.month, day.day, int(rng.integers(8, 21)),
                             int(rng.integers(0, 60)), tzinfo=PARIS)
            utc = bool(rng.random() < 0.2)
            if rng.random() < 0.05:  # a return ticket
                product = sellable[int(rng.integers(0, len(sellable)))]
                line(ticket, 1, local, store, customer, product, -int(rng.integers(1, 3)), 0, utc)
                continue
            for number in range(1, int(rng.integers(1, 5)) + 1):
                product = sellable[int(rng.integers(0, len(sellable)))]
                discount = [0, 0, 0, 0.1, 0.15][int(rng.integers(0, 5))]
                line(ticket, number, local, store, customer, product, int(rng.integers(1, 6)), discount, utc)
            if rng.random() < 0.05:  # a return on a sales ticket
                product = sellable[int(rng.integers(0, len(sellable)))]
                line(ticket, 9, local, store, customer, product, -1, 0, utc)
        day += timedelta(days=1)

    # Just after midnight, written in UTC: the UTC date is the previous day (and month).
    for n, local_day in enumerate(TINY_MIDNIGHT_DAYS):
        local = datetime(local_day.year, local_day.month, local_day.day, 0, 20, tzinfo=PARIS)
        line(f"N{n}", 1, local, "S01", "", sellable[n], 3, 0, utc=True)
    # A tie on quantity: P91's line comes first in the file, P90 must still rank first.
    tie_time = datetime(TINY_TIE_DAY.year, TINY_TIE_DAY.month, TINY_TIE_DAY.day, 11, 0, tzinfo=PARIS)
    line("TIE-1", 1, tie_time, "S03", "", products[24], 999, 0)
    line("TIE-2", 1, tie_time, "S03", "", products[25], 999, 0)

    header = ["ticket_id", "line_number", "sold_at", "store_code", "customer_code", "product_code",
              "quantity", "unit_price", "discount", "amount"]
    for month_end, rows in by_month.items():
        _write_csv(raw_dir / "sales" / f"sales_{month_end.isoformat()}.csv", header, rows)


# =========================================================================== warehouses under test


@dataclass(frozen=True)
class Case:
    settings: Settings
    raw_dir: Path
    loaded_to: date      # raw files dated up to here are in the database
    run_date: date
    early_date: date     # an earlier as-of date; the database holds rows after it


def _with_dbname(url: str, dbname: str) -> str:
    params = conninfo.conninfo_to_dict(url)
    params["dbname"] = dbname
    return conninfo.make_conninfo(**params)


@pytest.fixture(scope="module")
def tiny_case(server_url, tmp_path_factory) -> Case:
    """A database loaded from the tiny folder up to TINY_LOAD_DATE, with dim_temps and views."""
    name = f"etl_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        workdir = tmp_path_factory.mktemp("ventes")
        settings = Settings(database_url=_with_dbname(server_url, name), workdir=workdir)
        raw_dir = workdir / "raw"
        write_tiny_folder(raw_dir)
        with db.connection(settings) as conn:
            schema.apply_schema(conn)
        results = load_raw_folder(settings, raw_dir, TINY_LOAD_DATE, progress=False)
        assert sum(r.rows_rejected for r in results) == 0, "the tiny folder must load without rejects"
        with db.connection(settings) as conn:
            calendar.build_dim_temps(conn, TINY_FIRST_DAY, TINY_LOAD_DATE)
            views.create_views(conn)
            aggregates.refresh(conn)
        yield Case(settings, raw_dir, TINY_LOAD_DATE, TINY_RUN_DATE, TINY_EARLY_DATE)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


DEMO_RUN_DATE = date(2026, 11, 30)


def _demo_raw_dir(settings: Settings) -> Path:
    """The demo raw folder under settings.raw_dir: the (only) folder holding a sales/ folder."""
    candidates = sorted({p.parent for p in settings.raw_dir.rglob("sales") if p.is_dir()})
    if len(candidates) != 1:
        pytest.fail(f"expected one raw folder with sales/ under {settings.raw_dir}, found {candidates}")
    return candidates[0]


@pytest.fixture(params=["tiny", "demo"])
def case(request, tiny_case) -> Case:
    if request.param == "tiny":
        return tiny_case
    try:
        settings = request.getfixturevalue("demo_warehouse")
    except pytest.FixtureLookupError:
        pytest.skip("fixture demo_warehouse is not available yet")
    return Case(settings, _demo_raw_dir(settings), DEMO_RUN_DATE, DEMO_RUN_DATE, date(2026, 3, 1))


@pytest.fixture
def conn(case):
    with db.connect(case.settings, autocommit=True) as connection:
        yield connection


@pytest.fixture
def tiny_conn(tiny_case):
    with db.connect(tiny_case.settings, autocommit=True) as connection:
        yield connection


# =========================================================================== the raw lines, in pandas


def _snapshots(raw_dir: Path, entity: str, up_to: date, fmt: RawFormat) -> pd.DataFrame:
    frames = []
    for path in sorted((raw_dir / entity).glob(f"{entity}_*.csv")):
        day = date.fromisoformat(FILE_NAME.match(path.name)["date"])
        if day <= up_to:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=fmt.encoding, sep=fmt.delimiter)
            frame.columns = [c.strip().lower() for c in frame.columns]
            frames.append(frame.assign(snapshot=pd.Timestamp(day)))
    return pd.concat(frames, ignore_index=True)


def _latest(snapshots: pd.DataFrame, key: str) -> pd.DataFrame:
    """Type 1: the latest snapshot that holds each key."""
    return snapshots.sort_values("snapshot").drop_duplicates(key, keep="last").drop(columns="snapshot")


def store_versions(raw_dir: Path, up_to: date, fmt: RawFormat) -> pd.DataFrame:
    regions = _latest(_snapshots(raw_dir, "regions", up_to, fmt), "region_code")
    stores = _snapshots(raw_dir, "stores", up_to, fmt)
    return stores.merge(regions[["region_code", "region_name"]], on="region_code", how="left")


def store_as_of(versions: pd.DataFrame, frame: pd.DataFrame, day_column: str) -> pd.DataFrame:
    """Attach each row's store version: the latest snapshot dated on or before the day, or the
    store's first snapshot for days before it (a store's first version starts at the beginning
    of time)."""
    columns = ["store_code", "store_name", "banner", "region_code", "region_name"]
    ordered = versions.assign(snapshot=versions["snapshot"].astype("datetime64[ns]")).sort_values("snapshot")
    keyed = frame.reset_index(drop=True).assign(_row=lambda f: np.arange(len(f)),
                                                _day=lambda f: f[day_column].astype("datetime64[ns]"))
    merged = pd.merge_asof(keyed.sort_values("_day"), ordered[[*columns, "snapshot"]],
                           left_on="_day", right_on="snapshot", by="store_code")
    first = ordered.drop_duplicates("store_code", keep="first").set_index("store_code")
    for column in columns[1:]:
        merged[column] = merged[column].fillna(merged["store_code"].map(first[column]))
    return merged.drop(columns=["snapshot", "_day"]).sort_values("_row").drop(columns="_row").reset_index(drop=True)


def _rejected_lines(settings: Settings) -> set[tuple[str, int]]:
    """(file name, line number) of sales lines the loader quarantined (none in the tiny folder)."""
    with db.connect(settings) as connection:
        rows = connection.execute(
            "select f.path, r.line_number from etl.rejected_rows r join etl.loaded_files f using (file_id) "
            "where f.entity = 'sales' and f.is_current").fetchall()
    return {(Path(path).name, int(line)) for path, line in rows}


OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


def _paris_times(values: pd.Series) -> pd.Series:
    text = values.str.strip()
    has_offset = text.str.contains(OFFSET)
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, Europe/Paris]")
    if has_offset.any():
        result[has_offset] = pd.to_datetime(text[has_offset], format="ISO8601", utc=True).dt.tz_convert(PARIS)
    if (~has_offset).any():
        result[~has_offset] = pd.to_datetime(text[~has_offset], format="ISO8601").dt.tz_localize(PARIS)
    return result


def _decimal(text: str, decimal_mark: str) -> Decimal:
    return Decimal(text.strip().replace(decimal_mark, ".")) if decimal_mark != "." else Decimal(text.strip())


def raw_sales_lines(case: Case) -> pd.DataFrame:
    """Every valid ticket line of the raw folder dated up to case.loaded_to, with its store
    version, region and product attributes; amount_e4 = the net amount in 1/10000 euro."""
    fmt = RawFormat.read(case.raw_dir)
    assert fmt.date_format is None, "this check reads ISO timestamps only"
    rejected = _rejected_lines(case.settings)
    frames = []
    for path in sorted((case.raw_dir / "sales").glob("sales_*.csv")):
        if date.fromisoformat(FILE_NAME.match(path.name)["date"]) > case.loaded_to:
            continue
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False,
                            encoding=fmt.encoding, sep=fmt.delimiter)
        frame.columns = [c.strip().lower() for c in frame.columns]
        frame["_line"] = np.arange(len(frame)) + 2
        keep = [(path.name, line) not in rejected for line in frame["_line"]]
        frames.append(frame[keep])
    lines = pd.concat(frames, ignore_index=True)
    if "discount" not in lines:
        lines["discount"] = ""
    if "amount" not in lines:
        lines["amount"] = ""

    local = _paris_times(lines["sold_at"])
    quantity = lines["quantity"].str.strip().astype(int)

    def amount_e4(row) -> int:
        price = _half_up(_decimal(row.unit_price, fmt.decimal))
        discount = _half_up(_decimal(row.discount or "0", fmt.decimal), "0.0001")
        if row.amount.strip():
            value = _half_up(_decimal(row.amount, fmt.decimal), "0.0001")
        else:
            value = _half_up(int(row.quantity) * price * (1 - discount))
        return int(value * E4)

    result = pd.DataFrame({
        "sale_date": local.dt.tz_localize(None).dt.normalize().astype("datetime64[ns]"),
        "hour": local.dt.hour,
        "ticket_id": lines["ticket_id"].str.strip(),
        "store_code": lines["store_code"].str.strip(),
        "product_code": lines["product_code"].str.strip(),
        "quantity": quantity,
        "amount_e4": [amount_e4(row) for row in lines.itertuples()],
        "is_return": quantity < 0,
    })
    result = store_as_of(store_versions(case.raw_dir, case.loaded_to, fmt), result, "sale_date")
    products = _latest(_snapshots(case.raw_dir, "products", case.loaded_to, fmt), "product_code")
    return result.merge(products[["product_code", "product_name", "category"]], on="product_code", how="left")


@pytest.fixture(scope="module")
def lines_cache() -> dict:
    return {}


@pytest.fixture
def lines(case, lines_cache) -> pd.DataFrame:
    """The raw lines of the case's folder, read once per module (tests do not modify them)."""
    key = (case.settings.database_url, case.raw_dir, case.loaded_to)
    if key not in lines_cache:
        lines_cache[key] = raw_sales_lines(case)
    return lines_cache[key]


# =========================================================================== expected tables


def aggregate(lines: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Net quantity, exact net amount and tickets (with a sale line) per group."""
    sums = lines.groupby(keys, as_index=False, dropna=False)[["quantity", "amount_e4"]].sum()
    tickets = (lines[~lines["is_return"]].groupby(keys, dropna=False)["ticket_id"].nunique()
               .rename("tickets").reset_index())
    out = sums.merge(tickets, on=keys, how="left")
    out["tickets"] = out["tickets"].fillna(0).astype(int)
    return out


def cents(amount_e4: int) -> float:
    return float(_half_up(Decimal(int(amount_e4)) / E4))


def basket(amount_e4: int, tickets: int) -> float:
    return np.nan if tickets == 0 else float(_half_up(Decimal(int(amount_e4)) / E4 / tickets))


def pct(part, whole) -> float:
    part, whole = Decimal(str(part)), Decimal(str(whole))
    return np.nan if whole == 0 else float(_half_up(part * 100 / abs(whole)))


def with_money(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(
        revenue=[cents(a) for a in frame["amount_e4"]],
        avg_basket=[basket(a, t) for a, t in zip(frame["amount_e4"], frame["tickets"])],
    )


def window(lines: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    return lines[lines["sale_date"].between(pd.Timestamp(start), pd.Timestamp(end))]


def expected_top(lines: pd.DataFrame, run_date: date, groups: list[str], top_n: int,
                 start: date | None = None) -> pd.DataFrame:
    start = start or run_date - timedelta(days=364)
    keys = list(dict.fromkeys([*groups, "product_code", "product_name", "category"]))
    per = aggregate(window(lines, start, run_date), keys)
    per = per.sort_values([*groups, "quantity", "product_code"],
                          ascending=[True] * len(groups) + [False, True], kind="mergesort")
    per["rank"] = per.groupby(groups).cumcount() + 1 if groups else np.arange(len(per)) + 1
    if groups and "category" in groups:
        per["category_quantity_share_pct"] = [
            pct(q, t) for q, t in zip(per["quantity"], per.groupby(groups)["quantity"].transform("sum"))]
    return with_money(per[per["rank"] <= top_n].reset_index(drop=True))


def month_grid(lines: pd.DataFrame, run_date: date, group: list[str]) -> pd.DataFrame:
    upto = lines[lines["sale_date"] <= pd.Timestamp(run_date)].assign(
        month=lambda f: f["sale_date"].dt.to_period("M").dt.to_timestamp())
    per = aggregate(upto, ["month", *group])
    months = pd.date_range(upto["month"].min(), pd.Timestamp(run_date).to_period("M").to_timestamp(), freq="MS")
    members = upto[group].drop_duplicates()
    grid = members.merge(pd.DataFrame({"month": months}), how="cross")
    out = grid.merge(per, on=["month", *group], how="left")
    out[["quantity", "amount_e4", "tickets"]] = out[["quantity", "amount_e4", "tickets"]].fillna(0).astype("int64")
    month_end = out["month"] + pd.offsets.MonthEnd(0)
    out["period_end"] = month_end.clip(upper=pd.Timestamp(run_date))
    out["is_partial_month"] = month_end > pd.Timestamp(run_date)
    return with_money(out)


def expected_daily(lines: pd.DataFrame, run_date: date, days: int = 90) -> pd.DataFrame:
    span = pd.date_range(pd.Timestamp(run_date) - pd.Timedelta(days=days + 5), pd.Timestamp(run_date))
    per = aggregate(window(lines, span[0].date(), run_date), ["sale_date"])
    out = pd.DataFrame({"sale_date": span}).merge(per, on="sale_date", how="left")
    out[["quantity", "amount_e4", "tickets"]] = out[["quantity", "amount_e4", "tickets"]].fillna(0).astype("int64")
    out = with_money(out)
    rounded = [Decimal(str(r)) for r in out["revenue"]]
    out["revenue_7d_avg"] = [float(_half_up(sum(rounded[max(0, i - 6): i + 1]) / len(rounded[max(0, i - 6): i + 1])))
                             for i in range(len(rounded))]
    out = out.iloc[6:].reset_index(drop=True)
    french = holidays.France(years=range(span[0].year, run_date.year + 1))
    out["day_of_week"] = out["sale_date"].dt.dayofweek + 1
    out["is_weekend"] = out["day_of_week"] >= 6
    out["is_holiday"] = [d.date() in french for d in out["sale_date"]]
    return out


def expected_weekday_hour(lines: pd.DataFrame, run_date: date) -> pd.DataFrame:
    start = run_date - timedelta(days=364)
    part = window(lines, start, run_date).assign(day_of_week=lambda f: f["sale_date"].dt.dayofweek + 1)
    per = aggregate(part, ["day_of_week", "hour"])
    grid = pd.DataFrame([(d, h) for d in range(1, 8) for h in range(24)], columns=["day_of_week", "hour"])
    out = grid.merge(per, on=["day_of_week", "hour"], how="left")
    out[["quantity", "amount_e4", "tickets"]] = out[["quantity", "amount_e4", "tickets"]].fillna(0).astype("int64")
    counts = pd.Series(pd.date_range(start, run_date).dayofweek + 1).value_counts()
    out["days_in_window"] = out["day_of_week"].map(counts)
    out["revenue_per_day"] = [float(_half_up(Decimal(int(a)) / E4 / n))
                              for a, n in zip(out["amount_e4"], out["days_in_window"])]
    return with_money(out)


def previous_end(run_date: date) -> date:
    """Same date a year earlier; a month's last day maps to that month's last day."""
    last = pycalendar.monthrange(run_date.year, run_date.month)[1]
    if run_date.day == last:
        return date(run_date.year - 1, run_date.month, pycalendar.monthrange(run_date.year - 1, run_date.month)[1])
    return run_date.replace(year=run_date.year - 1)


def expected_comparison(lines: pd.DataFrame, run_date: date) -> pd.DataFrame:
    prev_end = previous_end(run_date)
    periods = {
        "month_to_date": (run_date.replace(day=1), prev_end.replace(day=1)),
        "year_to_date": (run_date.replace(month=1, day=1), prev_end.replace(month=1, day=1)),
    }
    labelled = lines.assign(all="all", all_name="All", banner_name=lines["banner"])
    dimensions = {"total": ("all", "all_name"), "region": ("region_code", "region_name"),
                  "banner": ("banner", "banner_name")}
    rows = []
    for period, (current_start, previous_start) in periods.items():
        for dimension, (code, name) in dimensions.items():
            current = aggregate(window(labelled, current_start, run_date), [code, name])
            previous = aggregate(window(labelled, previous_start, prev_end), [code, name])
            both = current.merge(previous, on=[code, name], how="outer", suffixes=("", "_prev")).fillna(0)
            for row in both.itertuples(index=False):
                values = row._asdict()
                revenue, prev_revenue = cents(values["amount_e4"]), cents(values["amount_e4_prev"])
                rows.append({
                    "period": period, "dimension": dimension, "code": values[code], "name": values[name],
                    "current_start": current_start, "current_end": run_date,
                    "previous_start": previous_start, "previous_end": prev_end,
                    "current_days": (run_date - current_start).days + 1,
                    "previous_days": (prev_end - previous_start).days + 1,
                    "quantity": int(values["quantity"]), "previous_quantity": int(values["quantity_prev"]),
                    "revenue": revenue, "previous_revenue": prev_revenue,
                    "tickets": int(values["tickets"]), "previous_tickets": int(values["tickets_prev"]),
                    "quantity_growth_pct": pct(values["quantity"] - values["quantity_prev"], values["quantity_prev"]),
                    "revenue_growth_pct": pct(Decimal(str(revenue)) - Decimal(str(prev_revenue)), prev_revenue),
                    "tickets_growth_pct": pct(values["tickets"] - values["tickets_prev"], values["tickets_prev"]),
                    "avg_basket": basket(values["amount_e4"], int(values["tickets"])),
                    "previous_avg_basket": basket(values["amount_e4_prev"], int(values["tickets_prev"])),
                })
    return pd.DataFrame(rows)


# =========================================================================== comparing


def _normalise(column: pd.Series) -> pd.Series:
    """Dates (``datetime.date`` from the mart, Timestamps from pandas) as datetime64."""
    present = column.dropna()
    return pd.to_datetime(column) if len(present) and isinstance(present.iloc[0], date) else column


def assert_matches(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str], exact: list[str],
                   money: list[str] = ()) -> None:
    """Same rows (by key), integers and labels equal, money and percentages to the cent."""
    assert len(actual) == len(expected), f"{len(actual)} rows, expected {len(expected)}"
    a = actual.assign(**{k: _normalise(actual[k]) for k in actual.columns}).sort_values(keys).reset_index(drop=True)
    e = expected.assign(**{k: _normalise(expected[k]) for k in expected.columns}).sort_values(keys)
    e = e.reset_index(drop=True)
    for column in [*keys, *exact]:
        got, want = a[column].tolist(), e[column].tolist()
        assert got == want, f"{column}: {[(g, w) for g, w in zip(got, want) if g != w][:5]}"
    for column in money:
        got, want = a[column].astype(float).to_numpy(), e[column].astype(float).to_numpy()
        same = np.isclose(got, want, rtol=0, atol=1e-6) | (np.isnan(got) & np.isnan(want))
        assert same.all(), f"{column}: {list(zip(a.loc[~same, keys].values.tolist(), got[~same], want[~same]))[:5]}"


# =========================================================================== the tests


@pytest.mark.parametrize("as_of", ["run_date", "early_date"])
def test_top_products_by_quantity(conn, case, lines, as_of):
    run_date = getattr(case, as_of)
    actual = marts.compute(conn, "top_products_by_quantity", run_date)
    expected = expected_top(lines, run_date, [], 20)
    assert_matches(actual, expected, ["rank"], ["product_code", "product_name", "category", "quantity", "tickets"],
                   ["revenue"])
    assert set(actual["period_start"]) == {run_date - timedelta(days=364)}
    assert set(actual["period_end"]) == {run_date}


@pytest.mark.parametrize("as_of", ["run_date", "early_date"])
def test_top_products_by_category(conn, case, lines, as_of):
    run_date = getattr(case, as_of)
    actual = marts.compute(conn, "top_products_by_category", run_date)
    expected = expected_top(lines, run_date, ["category"], 10)
    assert_matches(actual, expected, ["category", "rank"], ["product_code", "quantity", "tickets"],
                   ["revenue", "category_quantity_share_pct"])
    assert actual.groupby("category")["rank"].max().le(10).all()


@pytest.mark.parametrize("as_of", ["run_date", "early_date"])
def test_top_products_by_region(conn, case, lines, as_of):
    run_date = getattr(case, as_of)
    actual = marts.compute(conn, "top_products_by_region", run_date)
    expected = expected_top(lines, run_date, ["region_code", "region_name"], 10)
    assert_matches(actual, expected, ["region_code", "rank"], ["region_name", "product_code", "quantity", "tickets"],
                   ["revenue"])


@pytest.mark.parametrize("as_of", ["run_date", "early_date"])
def test_top_products_by_year(conn, case, lines, as_of):
    run_date = getattr(case, as_of)
    actual = marts.compute(conn, "top_products_by_year", run_date)
    upto = lines[lines["sale_date"] <= pd.Timestamp(run_date)].assign(year=lambda f: f["sale_date"].dt.year)
    per = aggregate(upto, ["year", "product_code"])
    per = per.sort_values(["year", "quantity", "product_code"], ascending=[True, False, True], kind="mergesort")
    per["rank"] = per.groupby("year").cumcount() + 1
    expected = with_money(per[per["rank"] <= 10])
    assert_matches(actual, expected, ["year", "rank"], ["product_code", "quantity", "tickets"], ["revenue"])
    last = actual[actual["year"] == run_date.year]
    assert set(last["period_end"]) == {run_date}
    assert set(last["is_partial_year"]) == {run_date != date(run_date.year, 12, 31)}
    assert actual["period_end"].max() <= run_date


def test_top_products_tie_break_by_product_code(tiny_conn, tiny_case):
    top = marts.compute(tiny_conn, "top_products_by_quantity", TINY_RUN_DATE, top_n=5)
    assert top[["rank", "product_code", "quantity"]].head(2).values.tolist() == [[1, "P90", 999], [2, "P91", 999]]
    assert marts.compute(tiny_conn, "top_products_by_quantity", TINY_RUN_DATE, top_n=1)["product_code"].tolist() == ["P90"]


@pytest.mark.parametrize("as_of", ["run_date", "early_date"])
def test_sales_by_region_month(conn, case, lines, as_of):
    run_date = getattr(case, as_of)
    actual = marts.compute(conn, "sales_by_region_month", run_date)
    expected = month_grid(lines, run_date, ["region_code", "region_name"])
    assert_matches(actual, expected, ["month", "region_code"],
                   ["region_name", "period_end", "is_partial_month", "quantity", "tickets"], ["revenue", "avg_basket"])
    assert pd.to_datetime(actual["month"]).max() == pd.Timestamp(run_date.replace(day=1))


@pytest.mark.parametrize("as_of", ["run_date", "early_date"])
def test_sales_by_store_month(conn, case, lines, as_of):
    run_date = getattr(case, as_of)
    actual = marts.compute(conn, "sales_by_store_month", run_date)
    expected = month_grid(lines, run_date, ["store_code"])
    versions = store_versions(case.raw_dir, case.loaded_to, RawFormat.read(case.raw_dir))
    expected = store_as_of(versions, expected, "period_end")
    assert_matches(actual, expected, ["month", "store_code"],
                   ["store_name", "banner", "region_code", "period_end", "quantity", "tickets"],
                   ["revenue", "avg_basket"])


def test_sales_by_store_month_names_the_version_in_force(tiny_conn, tiny_case):
    frame = marts.compute(tiny_conn, "sales_by_store_month", TINY_RUN_DATE).set_index(["store_code", "month"])
    assert frame.loc[("S02", date(2024, 8, 1)), "banner"] == "super"
    assert frame.loc[("S02", date(2024, 9, 1)), "banner"] == "hyper"


@pytest.mark.parametrize("as_of", ["run_date", "early_date"])
def test_sales_by_category_month(conn, case, lines, as_of):
    run_date = getattr(case, as_of)
    actual = marts.compute(conn, "sales_by_category_month", run_date)
    expected = month_grid(lines, run_date, ["category"])
    assert_matches(actual, expected, ["month", "category"], ["period_end", "quantity", "tickets"],
                   ["revenue", "avg_basket"])


@pytest.mark.parametrize("as_of", ["run_date", "early_date"])
def test_sales_daily(conn, case, lines, as_of):
    run_date = getattr(case, as_of)
    actual = marts.compute(conn, "sales_daily", run_date)
    assert len(actual) == 90
    assert actual["sale_date"].tolist() == [run_date - timedelta(days=89 - i) for i in range(90)]
    expected = expected_daily(lines, run_date)
    assert_matches(actual, expected, ["sale_date"], ["day_of_week", "is_weekend", "is_holiday", "quantity", "tickets"],
                   ["revenue", "avg_basket", "revenue_7d_avg"])


def test_sales_daily_keeps_days_without_sales(tiny_conn, tiny_case):
    daily = marts.compute(tiny_conn, "sales_daily", TINY_RUN_DATE).set_index("sale_date")
    sundays = daily[(daily["day_of_week"] == 7) & ~daily.index.isin(TINY_MIDNIGHT_DAYS)]
    assert len(sundays) == 12 and (sundays["revenue"] == 0).all() and (sundays["tickets"] == 0).all()
    assert sundays["avg_basket"].isna().all()
    assert daily.loc[date(2024, 12, 25), "is_holiday"] and daily.loc[date(2024, 12, 25), "holiday_name"]
    assert len(marts.compute(tiny_conn, "sales_daily", TINY_RUN_DATE, daily_days=7)) == 7


@pytest.mark.parametrize("as_of", ["run_date", "early_date"])
def test_sales_by_weekday_hour(conn, case, lines, as_of):
    run_date = getattr(case, as_of)
    actual = marts.compute(conn, "sales_by_weekday_hour", run_date)
    assert len(actual) == 7 * 24
    expected = expected_weekday_hour(lines, run_date)
    assert_matches(actual, expected, ["day_of_week", "hour"], ["days_in_window", "quantity", "tickets"],
                   ["revenue", "avg_basket", "revenue_per_day"])
    assert actual.groupby("day_of_week")["days_in_window"].first().sum() == 365


@pytest.mark.parametrize("as_of", ["run_date", "early_date"])
def test_sales_period_comparison(conn, case, lines, as_of):
    run_date = getattr(case, as_of)
    actual = marts.compute(conn, "sales_period_comparison", run_date)
    expected = expected_comparison(lines, run_date)
    assert_matches(actual, expected, ["period", "dimension", "code"],
                   ["name", "current_start", "current_end", "previous_start", "previous_end", "current_days",
                    "previous_days", "quantity", "previous_quantity", "tickets", "previous_tickets"],
                   ["revenue", "previous_revenue", "quantity_growth_pct", "revenue_growth_pct",
                    "tickets_growth_pct", "avg_basket", "previous_avg_basket"])


def test_period_comparison_aligns_february_ends(tiny_conn, tiny_case):
    common = marts.compute(tiny_conn, "sales_period_comparison", date(2025, 2, 28))
    mtd = common[common["period"] == "month_to_date"].iloc[0]
    assert (mtd["previous_start"], mtd["previous_end"]) == (date(2024, 2, 1), date(2024, 2, 29))
    assert (mtd["current_days"], mtd["previous_days"]) == (28, 29)
    leap = marts.compute(tiny_conn, "sales_period_comparison", date(2024, 2, 29))
    assert set(leap["previous_end"]) == {date(2023, 2, 28)}
    assert leap["previous_revenue"].eq(0).all() and leap["revenue_growth_pct"].isna().all()
    mid = marts.compute(tiny_conn, "sales_period_comparison", date(2024, 11, 14))
    assert set(mid["previous_end"]) == {date(2023, 11, 14)}


def test_sale_date_is_the_paris_date(tiny_conn):
    """Tickets at 00:20 Paris time, written in UTC on the previous day, count on the Paris day."""
    for day in TINY_MIDNIGHT_DAYS:
        row = marts.compute(tiny_conn, "sales_daily", day, daily_days=1).iloc[0]
        assert (row["sale_date"], row["quantity"], row["tickets"]) == (day, 3, 1)
        hours = marts.compute(tiny_conn, "sales_by_weekday_hour", day)
        assert hours.loc[hours["hour"] == 0, "quantity"].sum() >= 3
    region = marts.compute(tiny_conn, "sales_by_region_month", date(2024, 12, 1)).set_index(["month", "region_code"])
    assert (region.loc[(date(2024, 12, 1), "IDF"), "quantity"], region.loc[(date(2024, 12, 1), "IDF"), "tickets"]) \
        == (3, 1)


def test_as_of_ignores_rows_after_the_run_date(conn, case):
    """Every date a table reports lies on or before the run date (the figures themselves are
    checked against the raw files cut at the early date in the tests above)."""
    early = case.early_date
    for name in VENTE_TABLES:
        frame = marts.compute(conn, name, early)
        for column in ("period_end", "sale_date", "current_end", "previous_end"):
            if column in frame:
                assert (frame[column] <= early).all(), f"{name}.{column} after {early}"
        if "month" in frame:
            assert max(frame["month"]) == early.replace(day=1)


def test_empty_warehouse_gives_empty_tables(warehouse):
    with db.connect(warehouse, autocommit=True) as connection:
        views.create_views(connection)
        aggregates.refresh(connection)
        for name in VENTE_TABLES:
            frame = marts.compute(connection, name, date(2026, 11, 30))
            assert marts.is_empty(name, frame), name
            if name == "sales_daily":
                assert len(frame) == 90 and (frame["revenue"] == 0).all()
            elif name == "sales_by_weekday_hour":
                assert len(frame) == 168 and (frame["revenue"] == 0).all()
            else:
                assert frame.empty, name


def _digests(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _build_vente_mart(conn, directory: Path) -> dict[str, pd.DataFrame]:
    frames = {name: marts.build(conn, name, TINY_RUN_DATE, directory) for name in VENTE_TABLES}
    for name in VENTE_CHARTS:
        chart = marts.CHARTS[name]
        save_chart(marts.draw(name, frames[chart.table]), name, directory)
    return frames


def test_build_mart_exports_are_byte_identical_on_rerun(tiny_conn, tiny_case):
    directory = tiny_case.settings.export_dir(marts.VENTE, TINY_RUN_DATE.isoformat())
    frames = _build_vente_mart(tiny_conn, directory)
    first = _digests(directory)
    expected_files = {f"{t}.{ext}" for t in VENTE_TABLES for ext in ("csv", "parquet")}
    expected_files |= {f"charts/{c}.png" for c in VENTE_CHARTS}
    assert set(first) == expected_files
    assert set(frames) == set(VENTE_TABLES)
    _build_vente_mart(tiny_conn, directory)
    assert _digests(directory) == first
    exported = pd.read_csv(directory / "sales_daily.csv")
    assert len(exported) == 90 and exported["sale_date"].is_monotonic_increasing
    chart = save_chart(marts.draw("sales_daily", frames["sales_daily"]), "sales_daily", directory)
    assert chart.path == directory / "charts" / "sales_daily.png"
    assert chart._repr_png_().startswith(b"\x89PNG") and _digests(directory) == first


def test_unknown_names_are_refused(tiny_conn, tiny_case, tmp_path):
    with pytest.raises(KeyError):
        marts.build(tiny_conn, "no_such_table", TINY_RUN_DATE, tmp_path)
    with pytest.raises(KeyError):
        marts.draw("no_such_chart", pd.DataFrame())
    with pytest.raises(ValueError):
        marts.open_run(marts.VENTE, "2025-02-30", settings=tiny_case.settings)
    with pytest.raises(TypeError):
        marts.compute(tiny_conn, "sales_daily", "2025-02-28")  # a date, never text, past the notebook
