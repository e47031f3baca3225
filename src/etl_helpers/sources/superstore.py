"""Superstore source: the seed project's real "Sample - Superstore" order lines, converted
into the canonical raw layout (see ``etl_helpers.contract``).

The input is one CSV of order lines (``Row ID, Order ID, Order Date, ..., Sales, Quantity,
Discount, Profit``). It has no stores, no loyalty data and no region populations, so they are
derived here, as the seed project did:

- **regions**: the four Superstore regions (code = the name upper-cased, e.g. ``WEST``).
  ``population`` is the sum of the US Census 2020 resident populations (April 1, 2020) of
  the states the data assigns to that region (table ``STATES`` below).
- **stores**: one store per distinct (City, State) pair. ``store_code`` is
  ``US-<state abbreviation>-<CITY SLUG>`` (``US-KY-HENDERSON``), ``store_name`` is
  ``Superstore <City> (<state abbreviation>)`` (city names repeat across states: there is a
  Henderson in Kentucky and one in Nevada), banner ``Superstore``, no postal code,
  ``opened_on`` = the first order date at that store.
- **products**: ``product_code`` = Product ID. A few Product IDs carry more than one Product
  Name; the name of the line with the smallest Row ID wins (category and sub-category must
  agree, or the conversion stops). Brand and list price are unknown, left empty.
- **customers**: ``customer_code`` = Customer ID, ``segment`` kept, ``has_loyalty_card`` true
  (every customer earns derived points); the other columns are unknown, left empty.
- **sales**: one file per order date. ``ticket_id`` = Order ID, ``line_number`` = 1..n by
  Row ID within the order, ``sold_at`` = the order date at 12:00 UTC (noon UTC keeps the same
  calendar day in Europe/Paris). ``amount`` is the Sales text exactly as written (no float
  round trip; Superstore's Sales carry up to 4 decimals, which the warehouse's numeric(14,4)
  keeps exactly). ``unit_price`` = round(Sales / Quantity / (1 - Discount), 2), half up.
- **loyalty**: one event per order, ``event_id`` = ``L-<Order ID>``, at the order's
  ``sold_at``. ``points_earned`` = floor(order total Sales x ``points_rate``) computed in
  Decimal (the seed used 10 %); ``points_redeemed`` = 0, the seed had no redemptions.

Reference snapshots are dated at the earliest order date. Dates come in two month-first
formats, ``MM-DD-YYYY`` (``11-08-2016``) and ``M/D/YYYY`` (``6/16/2016``); anything else stops
the conversion with the line number, it is never guessed. The file's encoding is UTF-8 when
the whole file decodes as UTF-8 (the copy in the seed folder does), else Windows-1252, else
Latin-1; pass ``encoding=`` to force one.

Files are written atomically (temporary file, then rename) and only when their content
changes, so a rerun on unchanged input leaves every file (and its mtime) untouched and the
loader's ledger sees nothing new.
"""

from __future__ import annotations

import codecs
import csv
import logging
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from etl_helpers.contract import FILE_NAME, LOAD_ORDER, RawFormat, raw_path
from etl_helpers.sources.contract_csv import render_csv
from etl_helpers.writing import write_bytes_if_changed

log = logging.getLogger(__name__)

SOURCE_COLUMNS = (
    "Row ID",
    "Order ID",
    "Order Date",
    "Ship Date",
    "Ship Mode",
    "Customer ID",
    "Segment",
    "Country",
    "City",
    "State",
    "Region",
    "Product ID",
    "Category",
    "Sub-Category",
    "Product Name",
    "Sales",
    "Quantity",
    "Discount",
    "Profit",
)
BANNER = "Superstore"
SALE_TIME = "12:00:00+00:00"  # noon UTC: the same calendar day in Europe/Paris
CANDIDATE_ENCODINGS = ("utf-8-sig", "cp1252")  # tried in order; latin-1 is the last resort

# State -> (USPS abbreviation, resident population on April 1, 2020, US Census 2020).
# The 50 states and DC sum to 331,449,281, the published national total.
STATES: dict[str, tuple[str, int]] = {
    "Alabama": ("AL", 5_024_279),
    "Alaska": ("AK", 733_391),
    "Arizona": ("AZ", 7_151_502),
    "Arkansas": ("AR", 3_011_524),
    "California": ("CA", 39_538_223),
    "Colorado": ("CO", 5_773_714),
    "Connecticut": ("CT", 3_605_944),
    "Delaware": ("DE", 989_948),
    "District of Columbia": ("DC", 689_545),
    "Florida": ("FL", 21_538_187),
    "Georgia": ("GA", 10_711_908),
    "Hawaii": ("HI", 1_455_271),
    "Idaho": ("ID", 1_839_106),
    "Illinois": ("IL", 12_812_508),
    "Indiana": ("IN", 6_785_528),
    "Iowa": ("IA", 3_190_369),
    "Kansas": ("KS", 2_937_880),
    "Kentucky": ("KY", 4_505_836),
    "Louisiana": ("LA", 4_657_757),
    "Maine": ("ME", 1_362_359),
    "Maryland": ("MD", 6_177_224),
    "Massachusetts": ("MA", 7_029_917),
    "Michigan": ("MI", 10_077_331),
    "Minnesota": ("MN", 5_706_494),
    "Mississippi": ("MS", 2_961_279),
    "Missouri": ("MO", 6_154_913),
    "Montana": ("MT", 1_084_225),
    "Nebraska": ("NE", 1_961_504),
    "Nevada": ("NV", 3_104_614),
    "New Hampshire": ("NH", 1_377_529),
    "New Jersey": ("NJ", 9_288_994),
    "New Mexico": ("NM", 2_117_522),
    "New York": ("NY", 20_201_249),
    "North Carolina": ("NC", 10_439_388),
    "North Dakota": ("ND", 779_094),
    "Ohio": ("OH", 11_799_448),
    "Oklahoma": ("OK", 3_959_353),
    "Oregon": ("OR", 4_237_256),
    "Pennsylvania": ("PA", 13_002_700),
    "Rhode Island": ("RI", 1_097_379),
    "South Carolina": ("SC", 5_118_425),
    "South Dakota": ("SD", 886_667),
    "Tennessee": ("TN", 6_910_840),
    "Texas": ("TX", 29_145_505),
    "Utah": ("UT", 3_271_616),
    "Vermont": ("VT", 643_077),
    "Virginia": ("VA", 8_631_393),
    "Washington": ("WA", 7_705_281),
    "West Virginia": ("WV", 1_793_716),
    "Wisconsin": ("WI", 5_893_718),
    "Wyoming": ("WY", 576_851),
}

_DASH_DATE = re.compile(r"(\d{2})-(\d{2})-(\d{4})")  # MM-DD-YYYY
_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")  # M/D/YYYY
_DECIMAL = re.compile(r"\d+(\.\d+)?")
_CENT = Decimal("0.01")


class SuperstoreError(ValueError):
    """The Superstore CSV cannot be converted; the message names the file (and line)."""


@dataclass(frozen=True)
class OrderLine:
    """One Superstore row, checked; text fields are kept exactly as written."""

    line: int  # physical line in the CSV (the header is line 1)
    row_id: int
    order_id: str
    order_date: date
    customer_id: str
    segment: str
    city: str
    state: str
    region: str
    product_id: str
    category: str
    subcategory: str
    product_name: str
    sales: str
    quantity: int
    discount: str


def parse_order_date(text: str) -> date:
    """``MM-DD-YYYY`` or ``M/D/YYYY`` (both month first); anything else is a ValueError."""
    match = _DASH_DATE.fullmatch(text) or _SLASH_DATE.fullmatch(text)
    if not match:
        raise ValueError(f"date {text!r} matches neither MM-DD-YYYY nor M/D/YYYY")
    month, day, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"date {text!r} is not a calendar date ({exc})") from None


def detect_encoding(csv_path: Path) -> str:
    """The first encoding that decodes the whole file strictly: UTF-8, Windows-1252, Latin-1.

    A Latin-1 or Windows-1252 file with accents is practically never valid UTF-8, so the
    order is safe; Latin-1 decodes any byte and is the last resort.
    """
    for encoding in CANDIDATE_ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with csv_path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return "utf-8" if encoding == "utf-8-sig" else encoding
    return "latin-1"


def read_order_lines(csv_path: Path, encoding: str) -> list[OrderLine]:
    """Every row of the Superstore CSV, checked; a bad row stops with its line number."""
    python_encoding = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    lines: list[OrderLine] = []
    with csv_path.open(encoding=python_encoding, newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise SuperstoreError(f"{csv_path}: empty file, expected a header row") from None
        positions = {name.strip().lower(): i for i, name in enumerate(header)}
        missing = [c for c in SOURCE_COLUMNS if c.lower() not in positions]
        if missing:
            raise SuperstoreError(f"{csv_path}: missing column(s) {', '.join(missing)}")
        index = {c: positions[c.lower()] for c in SOURCE_COLUMNS}
        for fields in reader:
            where = f"{csv_path}, line {reader.line_num}"
            if not fields:
                continue
            if len(fields) != len(header):
                raise SuperstoreError(f"{where}: {len(fields)} fields, the header has {len(header)}")
            lines.append(_order_line({c: fields[i] for c, i in index.items()}, reader.line_num, where))
    if not lines:
        raise SuperstoreError(f"{csv_path}: no order lines after the header")
    return lines


def _order_line(values: dict[str, str], line: int, where: str) -> OrderLine:
    for column, value in values.items():
        if "\n" in value or "\r" in value:
            raise SuperstoreError(f"{where}: {column} holds a line break")
    for column in (
        "Row ID",
        "Order ID",
        "Customer ID",
        "City",
        "State",
        "Region",
        "Product ID",
        "Category",
        "Product Name",
    ):
        if not values[column].strip():
            raise SuperstoreError(f"{where}: {column} is empty")
    try:
        order_date = parse_order_date(values["Order Date"])
    except ValueError as exc:
        raise SuperstoreError(f"{where}: Order Date: {exc}") from None
    sales, discount = values["Sales"], values["Discount"]
    if not _DECIMAL.fullmatch(sales) or Decimal(sales) <= 0:
        raise SuperstoreError(f"{where}: Sales {sales!r} is not a positive decimal number")
    if not _DECIMAL.fullmatch(discount) or Decimal(discount) >= 1:
        raise SuperstoreError(f"{where}: Discount {discount!r} is not a rate in [0, 1)")
    try:
        row_id, quantity = int(values["Row ID"]), int(values["Quantity"])
    except ValueError:
        raise SuperstoreError(f"{where}: Row ID and Quantity must be integers") from None
    if quantity <= 0:
        raise SuperstoreError(f"{where}: Quantity {quantity} is not positive")
    return OrderLine(
        line=line,
        row_id=row_id,
        order_id=values["Order ID"],
        order_date=order_date,
        customer_id=values["Customer ID"],
        segment=values["Segment"],
        city=values["City"],
        state=values["State"],
        region=values["Region"],
        product_id=values["Product ID"],
        category=values["Category"],
        subcategory=values["Sub-Category"],
        product_name=values["Product Name"],
        sales=sales,
        quantity=quantity,
        discount=discount,
    )


def slug(text: str) -> str:
    """``New York City`` -> ``NEW-YORK-CITY`` (ASCII, upper case, dashes)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").upper()


def store_code(city: str, state: str) -> str:
    return f"US-{_state(state)[0]}-{slug(city)}"


def unit_price(sales: str, quantity: int, discount: str) -> Decimal:
    """The list price before discount: Sales / Quantity / (1 - Discount), to the cent."""
    price = Decimal(sales) / quantity / (1 - Decimal(discount))
    return price.quantize(_CENT, rounding=ROUND_HALF_UP)


def points_for(order_total: Decimal, points_rate: Decimal) -> int:
    """floor(total x rate), exact: Decimal, never float (0.29 x 100 is 29, not 28)."""
    return int((order_total * points_rate).to_integral_value(rounding=ROUND_FLOOR))


def _state(state: str) -> tuple[str, int]:
    try:
        return STATES[state]
    except KeyError:
        raise SuperstoreError(f"unknown US state {state!r}: not in the Census 2020 table") from None


def _single(values: dict[str, dict[str, OrderLine]], what: str) -> None:
    """Each key must map to one value; else name the first two lines that disagree."""
    for key, by_value in values.items():
        if len(by_value) > 1:
            (v1, l1), (v2, l2) = sorted(by_value.items(), key=lambda kv: kv[1].row_id)[:2]
            raise SuperstoreError(f"{what} {key!r} has {v1!r} (line {l1.line}) and {v2!r} (line {l2.line})")


def _rate(points_rate: float | Decimal | str) -> Decimal:
    try:
        rate = Decimal(str(points_rate))
    except InvalidOperation:
        raise ValueError(f"points_rate {points_rate!r} is not a number") from None
    if not rate.is_finite() or rate < 0:
        raise ValueError(f"points_rate must be a finite number >= 0, got {points_rate!r}")
    return rate


def build_tables(
    lines: list[OrderLine], points_rate: float | Decimal | str = 0.10
) -> dict[str, dict[date, list[dict[str, str]]]]:
    """entity -> business date -> rows (contract column -> text), from checked order lines."""
    rate = _rate(points_rate)
    lines = sorted(lines, key=lambda line: line.row_id)
    seen_row_ids: dict[int, OrderLine] = {}
    for line in lines:
        if line.row_id in seen_row_ids:
            raise SuperstoreError(f"Row ID {line.row_id} on lines {seen_row_ids[line.row_id].line} and {line.line}")
        seen_row_ids[line.row_id] = line

    # Facts that must be single-valued, checked rather than assumed.
    checks: dict[str, dict[str, dict[str, OrderLine]]] = defaultdict(lambda: defaultdict(dict))
    for line in lines:
        checks["order date of order"][line.order_id].setdefault(line.order_date.isoformat(), line)
        checks["customer of order"][line.order_id].setdefault(line.customer_id, line)
        checks["city/state of order"][line.order_id].setdefault(f"{line.city}, {line.state}", line)
        checks["region of state"][line.state].setdefault(line.region, line)
        checks["segment of customer"][line.customer_id].setdefault(line.segment, line)
        checks["category of product"][line.product_id].setdefault(f"{line.category} / {line.subcategory}", line)
    for what, values in checks.items():
        _single(values, what)

    first_day = min(line.order_date for line in lines)

    region_states: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        region_states[line.region].add(line.state)
    regions = [
        {"region_code": slug(region), "region_name": region, "population": str(sum(_state(s)[1] for s in states))}
        for region, states in region_states.items()
    ]

    stores: dict[str, dict[str, str]] = {}
    pair_of_code: dict[str, tuple[str, str]] = {}
    for line in lines:
        code = store_code(line.city, line.state)
        if pair_of_code.setdefault(code, (line.city, line.state)) != (line.city, line.state):
            raise SuperstoreError(
                f"store code {code} would stand for both {pair_of_code[code]} and {(line.city, line.state)}"
            )
        store = stores.setdefault(
            code,
            {
                "store_code": code,
                "store_name": f"{BANNER} {line.city} ({_state(line.state)[0]})",
                "banner": BANNER,
                "city": line.city,
                "postal_code": "",
                "region_code": slug(line.region),
                "opened_on": line.order_date.isoformat(),
            },
        )
        store["opened_on"] = min(store["opened_on"], line.order_date.isoformat())

    products: dict[str, dict[str, str]] = {}
    for line in lines:  # Row ID order: the first name by Row ID wins
        products.setdefault(
            line.product_id,
            {
                "product_code": line.product_id,
                "product_name": line.product_name,
                "category": line.category,
                "subcategory": line.subcategory,
                "brand": "",
                "list_price": "",
            },
        )

    customers: dict[str, dict[str, str]] = {}
    for line in lines:
        customers.setdefault(
            line.customer_id,
            {
                "customer_code": line.customer_id,
                "birth_year": "",
                "gender": "",
                "city": "",
                "region_code": "",
                "has_loyalty_card": "true",
                "enrolled_on": "",
                "tier": "",
                "segment": line.segment,
            },
        )

    orders: dict[str, list[OrderLine]] = defaultdict(list)
    for line in lines:
        orders[line.order_id].append(line)
    sales: dict[date, list[dict[str, str]]] = defaultdict(list)
    loyalty: dict[date, list[dict[str, str]]] = defaultdict(list)
    for order_id, order_lines in orders.items():
        head = order_lines[0]
        sold_at = f"{head.order_date.isoformat()}T{SALE_TIME}"
        code = store_code(head.city, head.state)
        for number, line in enumerate(order_lines, start=1):
            sales[head.order_date].append(
                {
                    "ticket_id": order_id,
                    "line_number": str(number),
                    "sold_at": sold_at,
                    "store_code": code,
                    "customer_code": line.customer_id,
                    "product_code": line.product_id,
                    "quantity": str(line.quantity),
                    "unit_price": str(unit_price(line.sales, line.quantity, line.discount)),
                    "discount": line.discount,
                    "amount": line.sales,
                }
            )
        total = sum((Decimal(line.sales) for line in order_lines), Decimal(0))
        loyalty[head.order_date].append(
            {
                "event_id": f"L-{order_id}",
                "occurred_at": sold_at,
                "customer_code": head.customer_id,
                "store_code": code,
                "ticket_id": order_id,
                "points_earned": str(points_for(total, rate)),
                "points_redeemed": "0",
            }
        )

    def by(key: str, rows) -> list[dict[str, str]]:
        return sorted(rows, key=lambda r: r[key])

    return {
        "regions": {first_day: by("region_code", regions)},
        "stores": {first_day: by("store_code", stores.values())},
        "products": {first_day: by("product_code", products.values())},
        "customers": {first_day: by("customer_code", customers.values())},
        "sales": {d: sorted(rows, key=lambda r: (r["ticket_id"], int(r["line_number"]))) for d, rows in sales.items()},
        "loyalty": {d: by("event_id", rows) for d, rows in loyalty.items()},
    }


def convert(csv_path: Path, raw_dir: Path, *, points_rate: float = 0.10, encoding: str | None = None) -> dict:
    """Convert the Superstore CSV at ``csv_path`` into contract files under ``raw_dir``.

    Returns a summary: ``rows`` and ``files`` per entity, the files ``written`` (paths
    relative to ``raw_dir``), how many were ``unchanged``, and ``stale`` contract files
    already in ``raw_dir`` that this input no longer produces (reported, never deleted).
    """
    csv_path, raw_dir = Path(csv_path), Path(raw_dir)
    if not csv_path.is_file():
        raise FileNotFoundError(f"Superstore CSV not found: {csv_path}")
    if RawFormat.read(raw_dir) != RawFormat():
        raise SuperstoreError(
            f"{raw_dir / 'format.json'} declares a non-default format; "
            "the Superstore source writes the contract's defaults"
        )
    encoding = encoding or detect_encoding(csv_path)
    lines = read_order_lines(csv_path, encoding)
    tables = build_tables(lines, points_rate)

    written: list[str] = []
    unchanged = 0
    produced: set[Path] = set()
    for entity in LOAD_ORDER:
        for day, rows in sorted(tables[entity].items()):
            path = raw_path(raw_dir, entity, day)
            produced.add(path)
            if write_bytes_if_changed(path, render_csv(entity, rows)):
                written.append(path.relative_to(raw_dir).as_posix())
            else:
                unchanged += 1

    stale = sorted(
        p.relative_to(raw_dir).as_posix()
        for entity in LOAD_ORDER
        if (raw_dir / entity).is_dir()
        for p in (raw_dir / entity).iterdir()
        if FILE_NAME.match(p.name) and p not in produced
    )
    if stale:
        log.warning(
            "%d file(s) in %s are not produced by this input (left in place): %s",
            len(stale),
            raw_dir,
            ", ".join(stale[:5]) + (" ..." if len(stale) > 5 else ""),
        )

    names_per_product: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        names_per_product[line.product_id].add(line.product_name)
    days = sorted(tables["sales"])
    summary = {
        "source": str(csv_path),
        "encoding": encoding,
        "raw_dir": str(raw_dir),
        "points_rate": points_rate,
        "first_date": days[0].isoformat(),
        "last_date": days[-1].isoformat(),
        "rows": {e: sum(len(rows) for rows in tables[e].values()) for e in LOAD_ORDER},
        "files": {e: len(tables[e]) for e in LOAD_ORDER},
        "written": written,
        "unchanged": unchanged,
        "stale": stale,
        "products_with_several_names": sum(len(n) > 1 for n in names_per_product.values()),
    }
    log.info(
        "superstore: %d order lines (%s) -> %s: %d file(s) written, %d unchanged",
        len(lines),
        encoding,
        raw_dir,
        len(written),
        unchanged,
    )
    return summary
