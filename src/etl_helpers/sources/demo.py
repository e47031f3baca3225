"""Deterministic demo data: a French retail group's stores, products, customers, tickets
and loyalty events, written as canonical raw files (see ``etl_helpers.contract``).

``generate(raw_dir, run_date)`` writes:

- reference snapshots (regions, stores, products, customers) dated at the history start
  ``run_date - history_days + 1``; their content depends only on ``(seed, scale, profile)``;
- a second stores snapshot dated ``BANNER_CHANGE.on`` (one store changes banner) when that
  day falls inside the window;
- one ``sales`` and one ``loyalty`` file per day of the window. A day's content depends
  only on ``(seed, scale, profile, day)``, so every run date produces the same file for a given day
  and a file that already exists is skipped.

``profile`` chooses the basket shape (``PROFILES``): ``retail``, the default, or
``wholesale``, wide order lines (about 25 per ticket, a tail past 1,000).

Planted structure (affinities, customer groups, banner change) is exposed as module
constants and ``planted_customers()`` so tests and docs use the same codes; see
``docs/demo_data.md``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from tqdm import tqdm

from etl_helpers.contract import ENTITIES, FILE_NAME, raw_path
from etl_helpers.sources.contract_csv import render_csv
from etl_helpers.sources.demo_catalogue import (
    BANNER_LABELS,
    BURGER_BUNS,
    CATALOGUE,
    CATEGORY_SHARES,
    CHEDDAR,
    CITIES,
    COFFEE,
    COFFEE_FILTERS,
    DISTRICTS,
    MINCED_BEEF,
    PASTA,
    PLANTED_PRODUCTS,
    REGIONS,
    TOMATO_SAUCE,
)
from etl_helpers.writing import atomic_path, write_bytes_atomic

log = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")


# --------------------------------------------------------------------------- scales


@dataclass(frozen=True)
class Scale:
    stores: int
    products: int
    customers: int
    lines_per_day: float  # average ticket lines per calendar day (target, all stores)
    champions: int
    churned: int
    new: int


SCALES: dict[str, Scale] = {
    "small": Scale(stores=6, products=300, customers=250, lines_per_day=68.0, champions=3, churned=10, new=8),
    "medium": Scale(
        stores=30, products=3_000, customers=5_000, lines_per_day=1_370.0, champions=40, churned=300, new=200
    ),
    "large": Scale(
        stores=150, products=8_000, customers=40_000, lines_per_day=13_700.0, champions=300, churned=2_000, new=1_500
    ),
}
SCALE_NAMES = tuple(SCALES)

# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Profile:
    """The shape of the tickets, at any scale: how many lines, which products, what quantities.

    ``retail`` (the default) is a grocery group's tills: a few lines per ticket, by banner
    (repeats of a product merge into one line). ``wholesale`` is a wholesaler's order lines:
    baskets of about 25 distinct products with a heavy log-normal tail past 1,000 lines, a
    catalogue of a few thousand products with a flatter (Zipf-Mandelbrot) popularity, bigger
    quantities, more returns, and the planted customer groups ordering less often. The scale
    still sets the volume (stores, customers, lines per day).
    """

    name: str
    min_products: int  # the catalogue holds at least this many products
    popularity_shift: float  # the product of popularity rank r (from 0) sells in
    popularity_exponent: float  # proportion to 1 / (r + shift) ** exponent
    quantities: tuple[int, ...]
    quantity_p: tuple[float, ...]
    return_share: float  # share of lines that are returns
    visit_rate_factor: float  # multiplies the planted groups' visit rates
    basket_mean: float | None = None  # None: the banner's mean lines; else log-normal sizes of this mean
    basket_sigma: float = 0.0  # spread of log(size): the tail's weight
    basket_max: int = 0  # sizes above are not drawn (the log-normal is truncated)


PROFILES: dict[str, Profile] = {
    "retail": Profile(
        "retail",
        min_products=0,
        popularity_shift=1.0,
        popularity_exponent=1.05,
        quantities=(1, 2, 3, 4, 6),
        quantity_p=(0.72, 0.18, 0.06, 0.03, 0.01),
        return_share=0.01,
        visit_rate_factor=1.0,
    ),
    "wholesale": Profile(
        "wholesale",
        min_products=4_000,
        popularity_shift=50.0,
        popularity_exponent=1.0,
        quantities=(1, 2, 3, 4, 6, 12, 24, 48, 96),
        quantity_p=(0.30, 0.14, 0.08, 0.08, 0.12, 0.14, 0.08, 0.04, 0.02),
        return_share=0.02,
        visit_rate_factor=0.2,
        basket_mean=25.0,
        basket_sigma=1.3,
        basket_max=2_000,
    ),
}
PROFILE_NAMES = tuple(PROFILES)

# --------------------------------------------------------------------------- planted structure

# Products planted with fixed codes (independent of seed and scale): see demo_catalogue.
PLANTED_PAIRS: tuple[tuple[str, str], ...] = ((PASTA, TOMATO_SAUCE), (COFFEE, COFFEE_FILTERS))
PLANTED_TRIPLE: tuple[str, str, str] = (BURGER_BUNS, MINCED_BEEF, CHEDDAR)
PAIR_RATES = (0.06, 0.03)  # share of tickets that get each pair
TRIPLE_RATE = 0.025  # share of tickets that get the triple (x1.6 from May to September)
PLANTED_SINGLE_RATE = 0.006  # each planted product alone, per ticket (noise)

# Customer groups (codes depend on seed and scale: see planted_customers()).
CHURN_LAST_DAY = date(2025, 12, 31)  # churned customers never buy after this day
NEW_ENROLLED_FROM = date(2026, 9, 1)  # the "new" cohort enrols (and first buys) in this range
NEW_ENROLLED_TO = date(2026, 10, 15)
CHAMPION_VISIT_RATE = 0.30  # chance a champion shops on a day their store is open
CHURNED_VISIT_RATE = 0.12
NEW_VISIT_RATE = 0.08
CHAMPION_LINES = 9.0  # mean lines on a champion's ticket


@dataclass(frozen=True)
class BannerChange:
    store_code: str
    on: date
    old_banner: str
    new_banner: str


# One store is extended from a supermarket to a hypermarket: a second stores snapshot is
# dated ``on`` (its name changes with its banner; nothing else changes).
BANNER_CHANGE = BannerChange("S002", date(2026, 6, 1), "super", "hyper")

# --------------------------------------------------------------------------- banners

BANNERS = ("hyper", "super", "proxi")
BANNER_SHARES = (0.25, 0.45, 0.30)
BANNER_TRAFFIC = {"hyper": 3.0, "super": 1.6, "proxi": 0.8}  # relative tickets per open day
BANNER_LINES = {"hyper": 6.5, "super": 4.5, "proxi": 2.8}  # mean lines per ticket

# --------------------------------------------------------------------------- calendar

WEEKDAY_FACTOR = (0.85, 0.85, 0.95, 0.95, 1.15, 1.45, 1.0)  # Mon..Sat full day; Sunday see SUNDAY_FACTOR
SUNDAY_FACTOR = {"hyper": 0.0, "super": 0.45, "proxi": 0.60}  # hyper closed; others open the morning
MONTH_FACTOR = (0.90, 0.92, 0.97, 1.00, 1.00, 1.02, 1.03, 0.93, 0.97, 1.00, 1.03, 1.15)
ALWAYS_CLOSED = ((1, 1), (5, 1), (12, 25))  # every store closed
HOLIDAY_PROXI_FACTOR = 0.5  # proxi opens the morning of other public holidays
EVE_FACTOR = 1.30  # the day before a public holiday
OPEN_FULL, OPEN_MORNING = (8 * 60, 21 * 60), (8 * 60, 13 * 60)  # minutes since midnight
INFLATION_PER_YEAR = 0.018  # unit_price drifts from list_price from 2025-01-01
PRICE_BASE_DAY = date(2025, 1, 1)
ANONYMOUS_SHARE = 0.20
DISCOUNT_PCTS = np.array([10, 20, 25, 30, 34, 50])
DISCOUNT_P = np.array([0.30, 0.25, 0.15, 0.15, 0.10, 0.05])
REDEEM_RATE = 0.03  # chance a carded ticket redeems points (enrolled >= 90 days)
REDEEM_MIN_AMOUNT = 1000  # cents: points are redeemed on a purchase of at least 10 EUR
REDEEM_POINTS = np.array([100, 200, 500])
REDEEM_P = np.array([0.70, 0.20, 0.10])
ACTIVITY_CAP = 4.0  # max shopping weight of an ordinary customer (median 1)
REDEEM_MIN_DAYS = 90
WELCOME_POINTS = 50


@cache
def _holidays(year: int) -> dict[date, str]:
    return dict(holidays.France(years=year))


def is_public_holiday(day: date) -> bool:
    return day in _holidays(day.year)


def utc_offset(day: date) -> str:
    """Europe/Paris offset during opening hours of ``day`` (DST changes at 02:00/03:00)."""
    offset = datetime(day.year, day.month, day.day, 12, tzinfo=PARIS).utcoffset()
    assert offset is not None  # an aware datetime always has one
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def season_factor(day: date) -> float:
    """Yearly seasonality: month level, then a pre-Christmas ramp (15-24 December)."""
    factor = MONTH_FACTOR[day.month - 1]
    if day.month == 12 and 15 <= day.day <= 24:
        factor *= 1.0 + 0.035 * (day.day - 14)
    return factor


def opening(day: date, banner: str) -> tuple[str | None, float]:
    """(hours, traffic factor) of a store of ``banner`` on ``day``; hours None = closed."""
    if is_public_holiday(day):
        if (day.month, day.day) in ALWAYS_CLOSED or banner != "proxi":
            return None, 0.0
        hours, factor = "morning", HOLIDAY_PROXI_FACTOR
    elif day.weekday() == 6:
        factor = SUNDAY_FACTOR[banner]
        if factor == 0.0:
            return None, 0.0
        hours = "morning"
    else:
        hours, factor = "full", WEEKDAY_FACTOR[day.weekday()]
    if is_public_holiday(day + timedelta(days=1)):
        factor *= EVE_FACTOR
    return hours, factor * season_factor(day)


def banner_on(store_code: str, banner: str, day: date) -> str:
    if store_code == BANNER_CHANGE.store_code and day >= BANNER_CHANGE.on:
        return BANNER_CHANGE.new_banner
    return banner


# --------------------------------------------------------------------------- reference build


@dataclass(frozen=True)
class _Reference:
    scale: str
    scale_index: int
    seed: int
    profile: Profile
    regions: list[dict]
    stores: list[dict]  # as on the history start (before BANNER_CHANGE)
    products: list[dict]
    customers: list[dict]
    # arrays used by the daily generator
    store_codes: pa.Array
    store_banner: np.ndarray  # banner index (into BANNERS) on the history start
    change_store: int  # index of BANNER_CHANGE.store_code
    store_size: np.ndarray
    product_codes: pa.Array
    price_cents: np.ndarray
    pop_cum: np.ndarray  # cumulative popularity of the non-planted products
    pop_index: np.ndarray  # product index of each pop_cum entry
    planted_index: dict[str, int]
    customer_codes: pa.Array
    cust_store: np.ndarray  # home store index
    cust_carded: np.ndarray
    cust_enrolled: np.ndarray  # ordinal; 0 = no card
    pool_order: np.ndarray  # customer indices sorted by home store
    pool_weight: np.ndarray  # activity weight, aligned with pool_order (0 for planted)
    pool_bounds: np.ndarray  # store s owns pool_order[bounds[s]:bounds[s+1]]
    champions: np.ndarray
    churned: np.ndarray
    new: np.ndarray
    traffic_k: float


def _rng(seed: int, scale_index: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, scale_index, *stream])


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder allocation of ``total`` items in proportion to ``weights``."""
    share = weights / weights.sum() * total
    counts = np.floor(share).astype(int)
    remainder = share - counts
    for i in np.argsort(-remainder, kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    return counts


def _price_cents(rng: np.random.Generator, lo: float, hi: float) -> int:
    euros = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    cents = int(euros * 10) * 10 + 9  # French shelf prices end in 9
    return max(cents, 19)


def _build_stores(spec: Scale, rng: np.random.Generator) -> list[dict]:
    populations = np.array([r[2] for r in REGIONS], dtype=float)
    per_region = _allocate(spec.stores, populations)
    stores: list[dict] = []
    used: dict[str, int] = {}
    for (region_code, _, _), count in zip(REGIONS, per_region):
        cities = [c for c in CITIES if c[2] == region_code]
        picks = rng.permutation(len(cities))
        for k in range(count):
            city, postal, _ = cities[picks[k % len(cities)]]
            stores.append({"city": city, "postal_code": postal, "region_code": region_code})
    order = rng.permutation(len(stores))  # codes are not grouped by region
    stores = [stores[i] for i in order]
    banners = rng.choice(len(BANNERS), size=len(stores), p=BANNER_SHARES)
    sizes = np.exp(rng.normal(0.0, 0.25, size=len(stores)))
    opened = rng.integers(date(1978, 1, 1).toordinal(), date(2016, 12, 31).toordinal(), size=len(stores))
    for i, store in enumerate(stores):
        code = f"S{i + 1:03d}"
        banner = BANNERS[banners[i]]
        if i < 3:  # every scale has one store of each banner; S002 is the banner-change store
            banner = BANNERS[i] if code != BANNER_CHANGE.store_code else BANNER_CHANGE.old_banner
        key = f"{banner}|{store['city']}"
        used[key] = used.get(key, 0) + 1
        district = "" if used[key] == 1 else f" {DISTRICTS[(used[key] - 2) % len(DISTRICTS)]}"
        store.update(
            store_code=code,
            banner=banner,
            district=district,
            size=float(sizes[i]),
            opened_on=date.fromordinal(int(opened[i])),
        )
        store["store_name"] = f"{BANNER_LABELS[banner]} {store['city']}{district}"
    return stores


def _store_rows(stores: list[dict], day: date) -> list[dict]:
    rows = []
    for s in stores:
        banner = banner_on(s["store_code"], s["banner"], day)
        rows.append(
            {
                "store_code": s["store_code"],
                "store_name": f"{BANNER_LABELS[banner]} {s['city']}{s['district']}",
                "banner": banner,
                "city": s["city"],
                "postal_code": s["postal_code"],
                "region_code": s["region_code"],
                "opened_on": s["opened_on"].isoformat(),
            }
        )
    return rows


def _build_products(count: int, rng: np.random.Generator) -> list[dict]:
    products = [
        {
            "product_code": code,
            "product_name": name,
            "category": cat,
            "subcategory": sub,
            "brand": brand,
            "list_price": round(price * 100),
        }
        for code, name, cat, sub, brand, price in PLANTED_PRODUCTS
    ]
    categories = list(CATALOGUE)
    shares = np.array([CATEGORY_SHARES[c] for c in categories])
    seen: set[str] = {str(p["product_name"]) for p in products}
    for i in range(len(products), count):
        category = categories[rng.choice(len(categories), p=shares / shares.sum())]
        sub, items, (lo, hi), brands, sizes = CATALOGUE[category][rng.integers(len(CATALOGUE[category]))]
        item = items[rng.integers(len(items))]
        brand = brands[rng.integers(len(brands))] if brands else ""
        size = sizes[rng.integers(len(sizes))]
        name = " ".join(part for part in (item, brand, size) if part)
        if name in seen:  # variants keep names distinct enough to read
            for variant in ("bio", "format familial", "lot de 2", "offre découverte", "édition limitée"):
                candidate = " ".join(part for part in (item, variant, brand, size) if part)
                if candidate not in seen:
                    name = candidate
                    break
        seen.add(name)
        products.append(
            {
                "product_code": f"P{i + 1:05d}",
                "product_name": name,
                "category": category,
                "subcategory": sub,
                "brand": brand,
                "list_price": _price_cents(rng, lo, hi),
            }
        )
    return products


@dataclass(frozen=True)
class _Customers:
    rows: list[dict]
    home: np.ndarray  # home store index
    carded: np.ndarray
    enrolled: np.ndarray  # ordinal day; 0 = no card
    activity: np.ndarray  # shopping weight in the ordinary pool (0 for planted groups)
    champions: np.ndarray
    churned: np.ndarray
    new: np.ndarray


def _build_customers(spec: Scale, stores: list[dict], rng: np.random.Generator) -> _Customers:
    n = spec.customers
    traffic = np.array([BANNER_TRAFFIC[s["banner"]] * s["size"] for s in stores])
    home = rng.choice(len(stores), size=n, p=traffic / traffic.sum())
    # skewed shopping frequency, capped so that nobody ordinary out-shops the champions
    activity = np.minimum(np.exp(rng.normal(0.0, 0.8, size=n)), ACTIVITY_CAP)
    carded = rng.random(n) < 0.85
    enrolled = rng.integers(date(2010, 1, 1).toordinal(), date(2024, 10, 31).toordinal(), size=n)
    birth = np.clip(np.round(rng.normal(1972, 16, size=n)), 1935, 2006).astype(int)
    gender = rng.choice(np.array(["F", "M", "X"]), size=n, p=[0.52, 0.46, 0.02])
    professional = rng.random(n) < 0.03

    planted = rng.choice(np.flatnonzero(carded), size=spec.champions + spec.churned + spec.new, replace=False)
    champions = np.sort(planted[: spec.champions])
    churned = np.sort(planted[spec.champions : spec.champions + spec.churned])
    new = np.sort(planted[spec.champions + spec.churned :])
    # planted groups enrolled long before any plausible window; the new cohort within it
    enrolled[champions] = rng.integers(
        date(2012, 1, 1).toordinal(), date(2020, 12, 31).toordinal(), size=len(champions)
    )
    enrolled[churned] = rng.integers(date(2012, 1, 1).toordinal(), date(2022, 12, 31).toordinal(), size=len(churned))
    activity[champions] = 0.0
    activity[churned] = 0.0
    activity[new] = 0.0
    for i in new:
        enrolled[i] = _new_cohort_enrolment(rng, stores[home[i]]).toordinal()

    tiers = _tiers(carded, activity)
    tiers[champions] = "gold"
    tiers[new] = "standard"
    cities = _customer_cities(rng, stores, home)
    customers = [
        {
            "customer_code": f"C{i + 1:06d}",
            "birth_year": int(birth[i]),
            "gender": str(gender[i]),
            "city": cities[i],
            "region_code": stores[home[i]]["region_code"],
            "has_loyalty_card": "true" if carded[i] else "false",
            "enrolled_on": date.fromordinal(int(enrolled[i])).isoformat() if carded[i] else "",
            "tier": str(tiers[i]),
            "segment": "professional" if professional[i] else "consumer",
        }
        for i in range(n)
    ]
    return _Customers(customers, home, carded, np.where(carded, enrolled, 0), activity, champions, churned, new)


def _new_cohort_enrolment(rng: np.random.Generator, store: dict) -> date:
    """The new cohort enrols at the till of their home store, on a day it is open."""
    span = NEW_ENROLLED_TO.toordinal() - NEW_ENROLLED_FROM.toordinal() + 1
    while True:
        day = NEW_ENROLLED_FROM + timedelta(days=int(rng.integers(span)))
        if opening(day, banner_on(store["store_code"], store["banner"], day))[0]:
            return day


def _tiers(carded: np.ndarray, activity: np.ndarray) -> np.ndarray:
    """Card holders by activity: the top 10 % gold, the next 25 % silver, the rest standard;
    no tier without a card."""
    n = len(carded)
    order = np.argsort(np.where(carded, activity, -1.0), kind="stable")[::-1]
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(n)
    n_carded = int(carded.sum())
    tiers = np.where(rank < 0.10 * n_carded, "gold", np.where(rank < 0.35 * n_carded, "silver", "standard"))
    return np.where(carded, tiers, "").astype(object)


def _customer_cities(rng: np.random.Generator, stores: list[dict], home: np.ndarray) -> list[str]:
    """70 % live in their home store's city, the others in another city of its region."""
    cities_by_region: dict[str, list[str]] = {}
    for city, _postal, region in CITIES:
        cities_by_region.setdefault(region, []).append(city)
    city_draw = rng.random(len(home))
    city_pick = rng.integers(0, 1_000_000, size=len(home))
    cities = []
    for i, store_index in enumerate(home):
        store = stores[store_index]
        options = cities_by_region[store["region_code"]]
        cities.append(store["city"] if city_draw[i] < 0.7 else options[city_pick[i] % len(options)])
    return cities


@lru_cache(maxsize=8)
def _reference(scale: str, seed: int, profile_name: str = "retail") -> _Reference:
    if scale not in SCALES:
        raise ValueError(f"unknown demo scale {scale!r}; choose one of {', '.join(SCALE_NAMES)}")
    if profile_name not in PROFILES:
        raise ValueError(f"unknown demo profile {profile_name!r}; choose one of {', '.join(PROFILE_NAMES)}")
    spec, profile = SCALES[scale], PROFILES[profile_name]
    scale_index = SCALE_NAMES.index(scale)
    regions = [{"region_code": c, "region_name": n, "population": p} for c, n, p in REGIONS]
    stores = _build_stores(spec, _rng(seed, scale_index, 0, 1))
    products = _build_products(max(spec.products, profile.min_products), _rng(seed, scale_index, 0, 2))
    cust = _build_customers(spec, stores, _rng(seed, scale_index, 0, 3))

    n_planted = len(PLANTED_PRODUCTS)
    ranks = _rng(seed, scale_index, 0, 4).permutation(len(products) - n_planted)
    # Zipf-like: a few products sell a lot
    popularity = 1.0 / (ranks + profile.popularity_shift) ** profile.popularity_exponent
    pool_order = np.argsort(cust.home, kind="stable")
    uncalibrated = _Reference(
        scale=scale,
        scale_index=scale_index,
        seed=seed,
        profile=profile,
        regions=regions,
        stores=stores,
        products=products,
        customers=cust.rows,
        store_codes=pa.array([s["store_code"] for s in stores]),
        store_banner=np.array([BANNERS.index(s["banner"]) for s in stores]),
        change_store=[s["store_code"] for s in stores].index(BANNER_CHANGE.store_code),
        store_size=np.array([s["size"] for s in stores]),
        product_codes=pa.array([p["product_code"] for p in products]),
        price_cents=np.array([p["list_price"] for p in products], dtype=np.int64),
        pop_cum=np.cumsum(popularity),
        pop_index=np.arange(n_planted, len(products)),
        planted_index={code: i for i, (code, *_rest) in enumerate(PLANTED_PRODUCTS)},
        customer_codes=pa.array([c["customer_code"] for c in cust.rows]),
        cust_store=cust.home,
        cust_carded=cust.carded,
        cust_enrolled=cust.enrolled,
        pool_order=pool_order,
        pool_weight=cust.activity[pool_order],
        pool_bounds=np.searchsorted(cust.home[pool_order], np.arange(len(stores) + 1)),
        champions=cust.champions,
        churned=cust.churned,
        new=cust.new,
        traffic_k=1.0,
    )
    return dataclasses.replace(uncalibrated, traffic_k=_calibrate(uncalibrated, spec))


# --------------------------------------------------------------------------- daily generation

_BANNER_TRAFFIC = np.array([BANNER_TRAFFIC[b] for b in BANNERS])
_BANNER_LINES = np.array([BANNER_LINES[b] for b in BANNERS])
# expected extra lines per ticket from the planted bundles (pairs, triple, singles)
_PLANTED_EXTRA = 2 * sum(PAIR_RATES) + 3 * TRIPLE_RATE * 1.25 + len(PLANTED_PRODUCTS) * PLANTED_SINGLE_RATE
_HOURS = {None: 0, "full": 1, "morning": 2}


def _store_day(ref: _Reference, day: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per store on ``day``: hours code (0 closed, 1 full day, 2 morning), traffic factor, banner index."""
    banner_idx = ref.store_banner.copy()
    if day >= BANNER_CHANGE.on:
        banner_idx[ref.change_store] = BANNERS.index(BANNER_CHANGE.new_banner)
    per_banner = [opening(day, b) for b in BANNERS]
    hours = np.array([_HOURS[h] for h, _ in per_banner], dtype=np.int8)[banner_idx]
    factor = np.array([f for _, f in per_banner])[banner_idx]
    return hours, factor, banner_idx


def _distinct_lines(ref: _Reference, mean: float) -> float:
    """Expected distinct products among 1 + Poisson(mean - 1) popularity draws (repeats merge)."""
    p = np.diff(ref.pop_cum, prepend=0.0) / ref.pop_cum[-1]
    n = np.arange(1, int(mean + 8 * np.sqrt(mean) + 10))
    k = n - 1
    log_pmf = k * np.log(mean - 1.0) - (mean - 1.0) - np.array([np.sum(np.log(np.arange(1, j + 1))) for j in k])
    distinct = np.array([np.sum(1.0 - (1.0 - p) ** m) for m in n])
    return float(np.sum(np.exp(log_pmf) * distinct))


def _calibrate(ref: _Reference, spec: Scale) -> float:
    """Traffic constant so that a typical year (2025, fixed) averages ``spec.lines_per_day``."""
    pool = planted = 0.0
    first = date(2025, 1, 1)
    if ref.profile.basket_mean is None:
        banner_lines = np.array([_distinct_lines(ref, m) for m in _BANNER_LINES]) + _PLANTED_EXTRA
        champion_lines = _distinct_lines(ref, CHAMPION_LINES) + _PLANTED_EXTRA
    else:
        sizes = _basket_size_p(ref.profile)
        champion_lines = float(np.sum(np.arange(1, len(sizes) + 1) * sizes)) + _PLANTED_EXTRA
        banner_lines = np.full(len(BANNERS), champion_lines)
    champion_rate = CHAMPION_VISIT_RATE * ref.profile.visit_rate_factor
    churned_rate = CHURNED_VISIT_RATE * ref.profile.visit_rate_factor
    for k in range(365):
        hours, factor, banner_idx = _store_day(ref, first + timedelta(days=k))
        is_open = hours > 0
        lines = banner_lines[banner_idx]
        pool += float(np.sum(ref.store_size * _BANNER_TRAFFIC[banner_idx] * factor * lines))
        planted += float(np.sum(is_open[ref.cust_store[ref.champions]])) * champion_rate * champion_lines
        home = ref.cust_store[ref.churned]
        planted += float(np.sum(is_open[home] * lines[home])) * churned_rate
    target = max(spec.lines_per_day - planted / 365, 0.2 * spec.lines_per_day)
    return target / (pool / 365)


@cache
def _basket_size_p(profile: Profile) -> np.ndarray:
    """P(size = k) for k = 1..basket_max: a log-normal of mean ``basket_mean``, rounded to the
    nearest whole line and truncated at ``basket_max``."""
    if profile.basket_mean is None:
        raise ValueError(f"the {profile.name} profile draws no log-normal basket sizes")
    sigma = profile.basket_sigma
    mu = math.log(profile.basket_mean) - sigma**2 / 2
    edges = np.log(np.arange(1, profile.basket_max + 1) + 0.5)  # between k and k + 1
    cdf = np.array([0.5 * (1.0 + math.erf((x - mu) / (sigma * math.sqrt(2.0)))) for x in edges])
    p = np.diff(np.concatenate([[0.0], cdf]))
    return p / p.sum()


@lru_cache(maxsize=1)
def _time_strings() -> pa.Array:
    return pa.array([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)])


@cache
def _minute_cdf(hours: int) -> tuple[int, np.ndarray]:
    """First minute and cumulative weights of a ticket's minute: late-morning and evening peaks."""
    lo, hi = OPEN_FULL if hours == 1 else OPEN_MORNING
    minutes = np.arange(lo, hi) / 60.0
    weights = (
        0.45 * np.exp(-0.5 * ((minutes - 11.25) / 1.2) ** 2)
        + 0.45 * np.exp(-0.5 * ((minutes - 18.0) / 1.1) ** 2)
        + 0.10
    )
    cdf = np.cumsum(weights)
    return lo, cdf / cdf[-1]


def _decimal(units: np.ndarray, precision: int = 18, scale: int = 2) -> pa.Array:
    """Exact decimal array from integer units of 10**-scale (cents when scale is 2)."""
    units = np.ascontiguousarray(units, dtype=np.int64)
    buffer = np.empty((len(units), 2), dtype=np.int64)
    buffer[:, 0] = units
    buffer[:, 1] = units >> 63  # sign extension to 128 bits
    return pa.Array.from_buffers(pa.decimal128(precision, scale), len(units), [None, pa.py_buffer(buffer)])


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


@dataclass(frozen=True)
class _Tickets:
    """One day's tickets in output order, one entry per ticket (customer -1 = anonymous)."""

    store: np.ndarray
    customer: np.ndarray
    champion: np.ndarray
    secs: np.ndarray  # seconds since midnight
    number: np.ndarray  # 1..n per store, in time order

    def __len__(self) -> int:
        return len(self.store)


@dataclass(frozen=True)
class _Lines:
    """One day's ticket lines: ticket index, product index and the priced values."""

    ticket: np.ndarray
    product: np.ndarray
    number: np.ndarray
    quantity: np.ndarray
    unit_cents: np.ndarray
    discount_pct: np.ndarray
    amount_cents: np.ndarray


def _day_tables(ref: _Reference, day: date) -> tuple[pa.Table, pa.Table]:
    """The sales lines and loyalty events of one day; depends only on (seed, scale, profile, day).

    The steps draw from one generator in a fixed order; that order is part of the output.
    """
    rng = _rng(ref.seed, ref.scale_index, day.toordinal())
    hours, factor, banner_idx = _store_day(ref, day)
    store, customer, champion = _draw_tickets(ref, day, rng, hours > 0, factor * _BANNER_TRAFFIC[banner_idx])
    tickets = _time_tickets(rng, hours, store, customer, champion)
    ticket_idx, product_idx = _draw_baskets(ref, day, rng, tickets, banner_idx)
    lines = _price_lines(ref, day, rng, tickets, ticket_idx, product_idx)
    strings = _TicketStrings.of(ref, day, tickets)
    return _sales_table(ref, strings, lines), _loyalty_table(ref, day, rng, tickets, strings, lines)


def _draw_tickets(
    ref: _Reference, day: date, rng: np.random.Generator, is_open: np.ndarray, traffic: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ordinary tickets (Poisson traffic per store, 80 % identified customers from the store's
    pool), then the planted groups' visits at their home store when it is open."""
    today = day.toordinal()
    counts = rng.poisson(ref.traffic_k * ref.store_size * traffic)
    store = np.repeat(np.arange(len(traffic)), counts)
    customer = np.full(len(store), -1, dtype=np.int64)
    identified = rng.random(len(store)) >= ANONYMOUS_SHARE
    pool = ref.pool_order
    eligible = ~ref.cust_carded[pool] | (ref.cust_enrolled[pool] <= today)
    cum = np.cumsum(ref.pool_weight * eligible)
    cum0 = np.concatenate([[0.0], cum])
    lo, hi = cum0[ref.pool_bounds[store]], cum0[ref.pool_bounds[store + 1]]
    pick = np.searchsorted(cum, lo + rng.random(len(store)) * (hi - lo), side="right")
    pick = np.minimum(pick, ref.pool_bounds[store + 1] - 1)
    ok = identified & (hi > lo)
    customer[ok] = pool[pick[ok]]

    def visits(group: np.ndarray, rate: float) -> np.ndarray:
        hit = (rng.random(len(group)) < rate) & is_open[ref.cust_store[group]]
        return group[hit]

    factor = ref.profile.visit_rate_factor
    champions = visits(ref.champions, CHAMPION_VISIT_RATE * factor)
    churned = visits(ref.churned, CHURNED_VISIT_RATE * factor) if day <= CHURN_LAST_DAY else ref.churned[:0]
    first_visit = ref.new[ref.cust_enrolled[ref.new] == today]
    later = visits(ref.new, NEW_VISIT_RATE * factor)
    new = np.union1d(first_visit, later[ref.cust_enrolled[later] < today])
    planted = np.concatenate([champions, churned, new]).astype(np.int64)
    return (
        np.concatenate([store, ref.cust_store[planted]]),
        np.concatenate([customer, planted]),
        np.concatenate([np.zeros(len(store), dtype=bool), np.isin(planted, champions)]),
    )


def _time_tickets(
    rng: np.random.Generator, hours: np.ndarray, store: np.ndarray, customer: np.ndarray, champion: np.ndarray
) -> _Tickets:
    """Draw each ticket's time of day, number the tickets per store in time order, and put
    them in output order (by time, then store, then number)."""
    n_tickets = len(store)
    secs = np.zeros(n_tickets, dtype=np.int64)
    for code in (1, 2):
        sel = hours[store] == code
        first_minute, cdf = _minute_cdf(code)
        minute = first_minute + np.searchsorted(cdf, rng.random(int(sel.sum())), side="right")
        secs[sel] = minute * 60 + rng.integers(0, 60, size=int(sel.sum()))
    by_store = np.lexsort((secs, store))
    number = np.empty(n_tickets, dtype=np.int64)
    store_sorted = store[by_store]
    number[by_store] = np.arange(n_tickets) - np.searchsorted(store_sorted, store_sorted, side="left") + 1
    order = np.lexsort((number, store, secs))
    return _Tickets(
        store=store[order], customer=customer[order], champion=champion[order], secs=secs[order], number=number[order]
    )


def _draw_baskets(
    ref: _Reference, day: date, rng: np.random.Generator, tickets: _Tickets, banner_idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(ticket index, product index) of every line: random products by popularity plus the
    planted bundles, one line per product, lines of a ticket in random order."""
    n_tickets = len(tickets.store)
    if ref.profile.basket_mean is None:  # retail: 1 + Poisson draws by banner; repeats merge below
        mean_lines = np.where(tickets.champion, CHAMPION_LINES, _BANNER_LINES[banner_idx[tickets.store]])
        n_random = 1 + rng.poisson(mean_lines - 1.0)
        random_ticket = np.repeat(np.arange(n_tickets), n_random)
        random_product = _popular_products(ref, rng, len(random_ticket))
    else:
        sizes = 1 + rng.choice(ref.profile.basket_max, size=n_tickets, p=_basket_size_p(ref.profile))
        random_ticket, random_product = _distinct_popular_products(ref, rng, sizes)
    l_ticket, l_product = [random_ticket], [random_product]
    triple_rate = TRIPLE_RATE * (1.6 if 5 <= day.month <= 9 else 1.0)
    bundles = [*zip(PLANTED_PAIRS, PAIR_RATES), (PLANTED_TRIPLE, triple_rate)]
    bundles += [((code,), PLANTED_SINGLE_RATE) for code, *_ in PLANTED_PRODUCTS]
    for codes, rate in bundles:
        chosen = np.flatnonzero(rng.random(n_tickets) < rate)
        for code in codes:
            l_ticket.append(chosen)
            l_product.append(np.full(len(chosen), ref.planted_index[code]))
    ticket_all = np.concatenate(l_ticket)
    product_all = np.concatenate(l_product)
    _, first = np.unique(ticket_all * len(ref.price_cents) + product_all, return_index=True)
    ticket_all, product_all = ticket_all[first], product_all[first]
    shuffle = np.lexsort((rng.random(len(ticket_all)), ticket_all))
    return ticket_all[shuffle], product_all[shuffle]


def _popular_products(ref: _Reference, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` independent draws of a non-planted product, by popularity."""
    draws = rng.random(n) * ref.pop_cum[-1]
    return ref.pop_index[np.minimum(np.searchsorted(ref.pop_cum, draws, side="right"), len(ref.pop_cum) - 1)]


def _distinct_popular_products(
    ref: _Reference, rng: np.random.Generator, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(ticket, product) pairs giving ticket t exactly ``sizes[t]`` distinct products: draws by
    popularity in which a product the ticket already has is drawn again (successive sampling
    without replacement), done in vectorised rounds until every ticket is full."""
    n_products = len(ref.price_cents)
    if len(sizes) and sizes.max() > len(ref.pop_index):
        raise ValueError(f"a basket of {sizes.max()} lines needs more than {len(ref.pop_index)} products")
    ticket = np.zeros(0, dtype=np.int64)
    product = np.zeros(0, dtype=np.int64)
    distinct = np.zeros(len(sizes), dtype=np.int64)
    first = np.zeros(0, dtype=np.int64)
    while (short := np.flatnonzero(distinct < sizes)).size:
        wanted = np.repeat(short, 2 * (sizes[short] - distinct[short]) + 4)  # spares: popular ones repeat
        ticket = np.concatenate([ticket, wanted])
        product = np.concatenate([product, _popular_products(ref, rng, len(wanted))])
        first = np.sort(np.unique(ticket * n_products + product, return_index=True)[1])
        distinct = np.bincount(ticket[first], minlength=len(sizes))
    # keep each ticket's first sizes[t] distinct products, in draw order
    by_ticket = first[np.argsort(ticket[first], kind="stable")]
    owner = ticket[by_ticket]
    rank = np.arange(len(owner)) - np.searchsorted(owner, owner, side="left")
    kept = by_ticket[rank < sizes[owner]]
    return ticket[kept], product[kept]


def _price_lines(
    ref: _Reference,
    day: date,
    rng: np.random.Generator,
    tickets: _Tickets,
    ticket_idx: np.ndarray,
    product_idx: np.ndarray,
) -> _Lines:
    """Quantities, returns, discounts, prices and amounts, in integer cents (amounts rounded
    half away from zero)."""
    n_lines = len(ticket_idx)
    quantity = rng.choice(np.array(ref.profile.quantities), size=n_lines, p=np.array(ref.profile.quantity_p))
    is_return = rng.random(n_lines) < ref.profile.return_share
    quantity[is_return] = -rng.choice(np.array([1, 1, 1, 2]), size=int(is_return.sum()))
    l_cust = tickets.customer[ticket_idx]
    carded_line = (l_cust >= 0) & ref.cust_carded[np.maximum(l_cust, 0)]
    discounted = (rng.random(n_lines) < np.where(carded_line, 0.14, 0.08)) & ~is_return
    discount_pct = np.where(discounted, rng.choice(DISCOUNT_PCTS, size=n_lines, p=DISCOUNT_P), 0)
    inflation = 1.0 + INFLATION_PER_YEAR * (day.toordinal() - PRICE_BASE_DAY.toordinal()) / 365.25
    unit_cents = np.maximum(np.rint(ref.price_cents[product_idx] * inflation), 1).astype(np.int64)
    gross = quantity * unit_cents * (100 - discount_pct)
    return _Lines(
        ticket=ticket_idx,
        product=product_idx,
        number=np.arange(n_lines) - np.searchsorted(ticket_idx, ticket_idx, side="left") + 1,
        quantity=quantity,
        unit_cents=unit_cents,
        discount_pct=discount_pct,
        amount_cents=np.sign(gross) * ((np.abs(gross) + 50) // 100),
    )


@dataclass(frozen=True)
class _TicketStrings:
    """Per-ticket text columns, built once and then taken per line or per event."""

    stamp: str
    store: pa.Array
    number: pa.Array
    ticket_id: pa.Array
    sold_at: pa.Array
    customer: pa.Array

    @classmethod
    def of(cls, ref: _Reference, day: date, tickets: _Tickets) -> _TicketStrings:
        stamp = day.strftime("%Y%m%d")
        store = ref.store_codes.take(pa.array(tickets.store))
        number = pc.utf8_lpad(pc.cast(pa.array(tickets.number), pa.string()), 5, "0")
        customer = tickets.customer
        return cls(
            stamp=stamp,
            store=store,
            number=number,
            ticket_id=_join(f"T{stamp}-", store, "-", number),
            sold_at=_join(f"{day.isoformat()}T", _time_strings().take(pa.array(tickets.secs)), utc_offset(day)),
            customer=ref.customer_codes.take(pa.array(np.maximum(customer, 0), mask=customer < 0)),
        )


def _sales_table(ref: _Reference, strings: _TicketStrings, lines: _Lines) -> pa.Table:
    line_take = pa.array(lines.ticket)
    return pa.table(
        {
            "ticket_id": strings.ticket_id.take(line_take),
            "line_number": pa.array(lines.number),
            "sold_at": strings.sold_at.take(line_take),
            "store_code": strings.store.take(line_take),
            "customer_code": strings.customer.take(line_take),
            "product_code": ref.product_codes.take(pa.array(lines.product)),
            "quantity": pa.array(lines.quantity.astype(np.int64)),
            "unit_price": _decimal(lines.unit_cents),
            "discount": _decimal(lines.discount_pct, precision=4),
            "amount": _decimal(lines.amount_cents),
        }
    )


def _loyalty_table(
    ref: _Reference, day: date, rng: np.random.Generator, tickets: _Tickets, strings: _TicketStrings, lines: _Lines
) -> pa.Table:
    """One event per carded ticket (1 point per euro of positive net amount), occasional
    redemptions once enrolled for a while, and a welcome bonus on enrolment day."""
    n_tickets = len(tickets.store)
    t_cust = tickets.customer
    total_cents = np.bincount(lines.ticket, weights=lines.amount_cents, minlength=n_tickets).astype(np.int64)
    carded = (t_cust >= 0) & ref.cust_carded[np.maximum(t_cust, 0)]
    tenure = day.toordinal() - ref.cust_enrolled[np.maximum(t_cust, 0)]
    earned = np.maximum(total_cents, 0) // 100
    redeems = (
        carded
        & (tenure >= REDEEM_MIN_DAYS)
        & (total_cents >= REDEEM_MIN_AMOUNT)
        & (rng.random(n_tickets) < REDEEM_RATE)
    )
    redeemed = np.where(redeems, rng.choice(REDEEM_POINTS, size=n_tickets, p=REDEEM_P), 0)
    ev = np.flatnonzero(carded)
    welcome = np.flatnonzero(carded & (tenure == 0) & np.isin(t_cust, ref.new))
    welcome = welcome[np.unique(t_cust[welcome], return_index=True)[1]]  # one per customer
    ev_ticket = np.concatenate([welcome, ev])
    ev_key = np.concatenate([2 * welcome, 2 * ev + 1])  # welcome first
    sort = np.argsort(ev_key, kind="stable")
    ev_ticket = ev_ticket[sort]
    welcome_mask = (ev_key[sort] % 2) == 0
    is_welcome = pa.array(welcome_mask)
    ev_take = pa.array(ev_ticket)
    ticket_event = _join(f"L{strings.stamp}-", strings.store.take(ev_take), "-", strings.number.take(ev_take))
    welcome_event = _join(f"W{strings.stamp}-", strings.customer.take(ev_take))
    return pa.table(
        {
            "event_id": pc.if_else(is_welcome, welcome_event, ticket_event),
            "occurred_at": strings.sold_at.take(ev_take),
            "customer_code": strings.customer.take(ev_take),
            "store_code": strings.store.take(ev_take),
            "ticket_id": pc.if_else(is_welcome, pa.nulls(len(ev_ticket), pa.string()), strings.ticket_id.take(ev_take)),
            "points_earned": pa.array(np.where(welcome_mask, WELCOME_POINTS, earned[ev_ticket]).astype(np.int64)),
            "points_redeemed": pa.array(np.where(welcome_mask, 0, redeemed[ev_ticket]).astype(np.int64)),
        }
    )


# --------------------------------------------------------------------------- writing


def _write_table(path: Path, table: pa.Table) -> None:
    """An event file straight from Arrow (no field of the demo's events needs quoting)."""
    assert table.column_names == ENTITIES[path.parent.name].column_names
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        handle.write((",".join(table.column_names) + "\n").encode("utf-8"))
        if table.num_rows:
            pacsv.write_csv(table, handle, pacsv.WriteOptions(include_header=False, quoting_style="none"))


def _reference_rows(ref: _Reference, entity: str, day: date) -> list[dict]:
    if entity == "regions":
        return ref.regions
    if entity == "stores":
        return _store_rows(ref.stores, day)
    if entity == "products":
        return [{**p, "list_price": f"{p['list_price'] // 100}.{p['list_price'] % 100:02d}"} for p in ref.products]
    return ref.customers


def _reference_state(entity: str, day: date) -> bool:
    """Snapshots with the same state have the same content (only stores change, once)."""
    return entity == "stores" and day >= BANNER_CHANGE.on


def _existing_dates(raw_dir: Path, entity: str) -> list[date]:
    folder = raw_dir / entity
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = FILE_NAME.match(path.name)
        if match and match["entity"] == entity:
            found.append(date.fromisoformat(match["date"]))
    return sorted(found)


def _count_written(summary: dict, entity: str, rows: int) -> None:
    summary["files_written"] += 1
    summary["rows"][entity] += rows


def _snapshots(start: date, run_date: date) -> list[tuple[str, date]]:
    """The reference snapshots of the window: each entity's on ``start``, and the banner change's
    stores when the window holds it."""
    snapshots = [(entity, start) for entity in ("regions", "stores", "products", "customers")]
    if start < BANNER_CHANGE.on <= run_date:
        snapshots.append(("stores", BANNER_CHANGE.on))
    return snapshots


def _snapshot_holder(raw_dir: Path, entity: str, day: date) -> Path | None:
    """The file that holds ``entity``'s snapshot content of ``day``: its own, or an earlier one
    with the same state (None: to be written)."""
    path = raw_path(raw_dir, entity, day)
    if path.exists():
        return path
    earlier = [d for d in _existing_dates(raw_dir, entity) if d <= day]
    if earlier and _reference_state(entity, earlier[-1]) == _reference_state(entity, day):
        return raw_path(raw_dir, entity, earlier[-1])
    return None


def _write_snapshots(ref: _Reference, raw_dir: Path, start: date, run_date: date, summary: dict) -> None:
    """The reference snapshots dated ``start`` (and the banner change's, when in the window),
    unless an existing snapshot already holds the same content.

    An existing snapshot that should hold that content and does not means the folder holds
    another seed's, scale's or profile's files: that is an error, raised before any write.
    """
    to_write: list[tuple[str, Path, list[dict], bytes]] = []
    for entity, day in _snapshots(start, run_date):
        rows = _reference_rows(ref, entity, day)
        content = render_csv(entity, rows)
        path = raw_path(raw_dir, entity, day)
        holder = _snapshot_holder(raw_dir, entity, day)
        if holder is None:
            to_write.append((entity, path, rows, content))
            continue
        if holder.read_bytes() != content:
            raise ValueError(
                f"{holder} is not the demo's {entity} for scale {ref.scale}, seed {ref.seed}, profile "
                f"{ref.profile.name}: this folder holds other demo data; use one folder per scale, seed and profile"
            )
        summary["files_skipped"] += 1
    for entity, path, rows, content in to_write:
        write_bytes_atomic(path, content)
        _count_written(summary, entity, len(rows))


def _write_days(ref: _Reference, raw_dir: Path, start: date, history_days: int, summary: dict) -> None:
    """The sales and loyalty files of every day of the window that are not there yet."""
    days = [start + timedelta(days=k) for k in range(history_days)]
    for day in tqdm(days, desc=f"demo {ref.profile.name} {ref.scale}", unit="day", disable=None, leave=False):
        paths = {entity: raw_path(raw_dir, entity, day) for entity in ("sales", "loyalty")}
        missing = [entity for entity, path in paths.items() if not path.exists()]
        summary["files_skipped"] += len(paths) - len(missing)
        if not missing:
            continue
        tables = dict(zip(("sales", "loyalty"), _day_tables(ref, day)))
        for entity in missing:
            _write_table(paths[entity], tables[entity])
            _count_written(summary, entity, tables[entity].num_rows)


# --------------------------------------------------------------------------- public API


def window_complete(raw_dir: Path, run_date: date, history_days: int = 730) -> bool:
    """Whether :func:`generate` would write nothing for this window: every daily file and
    reference snapshot is there (names only: a few directory listings, no file read and no
    generator built). The runner asks it to decide, before a run loads, that nothing is new."""
    raw_dir = Path(raw_dir)
    start = history_start(run_date, history_days)
    if any(_snapshot_holder(raw_dir, entity, day) is None for entity, day in _snapshots(start, run_date)):
        return False
    days = {(start + timedelta(days=k)).isoformat() for k in range(history_days)}
    for entity in ("sales", "loyalty"):
        folder = raw_dir / entity
        present = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
        if any(f"{entity}_{day}.csv" not in present for day in days):
            return False
    return True


def planted_customers(scale: str = "small", seed: int = 42, profile: str = "retail") -> dict[str, tuple[str, ...]]:
    """Customer codes of the planted groups: ``champions``, ``churned`` and ``new``."""
    ref = _reference(scale, seed, profile)
    codes = [c["customer_code"] for c in ref.customers]
    return {
        name: tuple(codes[i] for i in group)
        for name, group in (("champions", ref.champions), ("churned", ref.churned), ("new", ref.new))
    }


def history_start(run_date: date, history_days: int = 730) -> date:
    return run_date - timedelta(days=history_days - 1)


def generate(
    raw_dir: Path,
    run_date: date,
    *,
    scale: str = "small",
    seed: int = 42,
    history_days: int = 730,
    profile: str = "retail",
) -> dict:
    """Write the demo's canonical raw files for the window ending on ``run_date``.

    ``profile`` is the basket shape (``PROFILES``: ``retail`` or ``wholesale``). Files depend on
    (seed, scale, profile), so each needs its own folder: a ``raw_dir`` holding another scale's,
    seed's or profile's files is refused (ValueError) before anything is written.

    Returns a summary: ``files_written``, ``files_skipped`` (already present: files are
    immutable and a day's content never changes), ``rows`` written per entity, and the window.
    """
    if isinstance(run_date, datetime) or not isinstance(run_date, date):
        raise TypeError(f"run_date must be a datetime.date, not {type(run_date).__name__}")
    if history_days < 1:
        raise ValueError(f"history_days must be >= 1, not {history_days}")
    ref = _reference(scale, seed, profile)
    raw_dir = Path(raw_dir)
    start = history_start(run_date, history_days)
    summary: dict = {
        "raw_dir": str(raw_dir),
        "scale": scale,
        "seed": seed,
        "profile": profile,
        "start": start.isoformat(),
        "end": run_date.isoformat(),
        "files_written": 0,
        "files_skipped": 0,
        "rows": {name: 0 for name in ENTITIES},
    }

    _write_snapshots(ref, raw_dir, start, run_date, summary)
    _write_days(ref, raw_dir, start, history_days, summary)
    log.info(
        "demo %s %s seed %s, %s..%s: %d files written, %d skipped, rows %s",
        profile,
        scale,
        seed,
        start,
        run_date,
        summary["files_written"],
        summary["files_skipped"],
        summary["rows"],
    )
    return summary
