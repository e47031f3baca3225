"""The canonical raw contract: one definition every source writes and the loader reads.

A raw folder holds one sub-folder per entity, each with files named by date::

    <raw>/regions/regions_2024-12-01.csv      reference snapshot valid from that date
    <raw>/stores/stores_2024-12-01.csv
    <raw>/products/products_2024-12-01.csv
    <raw>/customers/customers_2024-12-01.csv
    <raw>/sales/sales_2026-11-30.csv          ticket lines of that business day
    <raw>/loyalty/loyalty_2026-11-30.csv      loyalty events of that business day
    <raw>/format.json                         optional: encoding, delimiter, decimal, date_format,
                                              max_event_age_days, max_reject_rate

Files are CSV with a header row; columns are matched by name (any order, case-insensitive);
unknown columns are ignored with a warning; a missing required column rejects the file.
Values hold no line breaks. Timestamps are ISO 8601 (``2026-11-30T10:15:00+01:00``); a
timestamp without an offset is Europe/Paris local time, and a local time that does not
exist (spring gap) or exists twice (autumn) is quarantined, never guessed.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path

# Bounds every source shares; rows beyond them are quarantined.
MAX_QUANTITY = 1_000
MAX_UNIT_PRICE = 100_000
MAX_POINTS = 1_000_000
MAX_TEXT_LENGTH = 500
MAX_LINE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # text | int | numeric | date | timestamptz | bool
    required: bool = True
    description: str = ""


@dataclass(frozen=True)
class Entity:
    name: str
    kind: str  # "reference" (whole snapshots) or "event" (daily files)
    key: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_names(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


C = Column
ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity(
            "regions",
            "reference",
            ("region_code",),
            (
                C("region_code", "text", description="short code, e.g. IDF"),
                C("region_name", "text"),
                C("population", "int", description="inhabitants, >= 0"),
            ),
        ),
        Entity(
            "stores",
            "reference",
            ("store_code",),
            (
                C("store_code", "text"),
                C("store_name", "text"),
                C("banner", "text", description="the store's brand, e.g. hyper / super / proxi"),
                C("city", "text"),
                C("postal_code", "text", required=False),
                C("region_code", "text", description="must exist in regions"),
                C("opened_on", "date", required=False, description="no sale or loyalty event before it"),
                C(
                    "closed_on",
                    "date",
                    required=False,
                    description="last trading day, if it closed for good: no sale or loyalty event after it",
                ),
            ),
        ),
        Entity(
            "products",
            "reference",
            ("product_code",),
            (
                C("product_code", "text"),
                C("product_name", "text"),
                C("category", "text"),
                C("subcategory", "text", required=False),
                C("brand", "text", required=False),
                C("list_price", "numeric", required=False, description=f"0 < price <= {MAX_UNIT_PRICE}"),
            ),
        ),
        Entity(
            "customers",
            "reference",
            ("customer_code",),
            (
                C("customer_code", "text"),
                C("birth_year", "int", required=False),
                C("gender", "text", required=False, description="F, M or X"),
                C("city", "text", required=False),
                C("region_code", "text", required=False),
                C("has_loyalty_card", "bool", description="true/false"),
                C("enrolled_on", "date", required=False),
                C("tier", "text", required=False),
                C("segment", "text", required=False, description="source's own customer segment"),
            ),
        ),
        Entity(
            "sales",
            "event",
            ("ticket_id", "line_number"),
            (
                C("ticket_id", "text"),
                C("line_number", "int"),
                C("sold_at", "timestamptz", description="on the file's business date"),
                C("store_code", "text"),
                C("customer_code", "text", required=False, description="empty for an anonymous ticket"),
                C("product_code", "text"),
                C("quantity", "int", description=f"non-zero, |q| <= {MAX_QUANTITY}; negative = a return"),
                C("unit_price", "numeric", description=f"0 < price <= {MAX_UNIT_PRICE}"),
                C("discount", "numeric", required=False, description="rate in [0, 1), default 0"),
                C(
                    "amount",
                    "numeric",
                    required=False,
                    description="net line amount; default round(quantity * unit_price * (1 - discount), 2)",
                ),
            ),
        ),
        Entity(
            "loyalty",
            "event",
            ("event_id",),
            (
                C("event_id", "text"),
                C("occurred_at", "timestamptz", description="on the file's business date"),
                C("customer_code", "text"),
                C("store_code", "text"),
                C("ticket_id", "text", required=False),
                C("points_earned", "int", description=f"0..{MAX_POINTS}"),
                C("points_redeemed", "int", description=f"0..{MAX_POINTS}"),
            ),
        ),
    )
}

# Load order: every entity's foreign keys point to entities loaded before it.
LOAD_ORDER = ("regions", "stores", "products", "customers", "sales", "loyalty")

FILE_NAME = re.compile(r"^(?P<entity>[a-z]+)_(?P<date>\d{4}-\d{2}-\d{2})\.csv$")


@dataclass(frozen=True)
class RawFormat:
    """How a raw folder's files are written (``format.json``), and the limits its files are held
    to; defaults are the contract's."""

    encoding: str = "utf-8"
    delimiter: str = ","
    decimal: str = "."
    date_format: str | None = None  # e.g. "DD/MM/YYYY HH24:MI" (PostgreSQL to_timestamp); None = ISO only
    max_event_age_days: int = 366  # an event older than this before its file's business date is quarantined
    max_reject_rate: float = 0.5  # a file that rejects more of its lines (and more than 100) is refused

    @classmethod
    def read(cls, raw_dir: Path) -> RawFormat:
        """``format.json`` of ``raw_dir``; an error naming the file if it is not JSON, holds an
        unknown key, an unknown encoding or a limit out of range."""
        path = raw_dir / "format.json"
        if not path.exists():
            return cls()
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
        if not isinstance(values, dict):
            raise ValueError(f"{path}: expected a JSON object of settings")
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
        fmt = cls(**values)
        try:
            codecs.lookup(str(fmt.encoding))
        except LookupError:
            raise ValueError(f"{path}: unknown encoding {fmt.encoding!r}") from None
        if not (isinstance(fmt.max_event_age_days, int) and fmt.max_event_age_days >= 0):
            raise ValueError(f"{path}: max_event_age_days must be a whole number of days >= 0")
        if not (isinstance(fmt.max_reject_rate, (int, float)) and 0 <= fmt.max_reject_rate <= 1):
            raise ValueError(f"{path}: max_reject_rate must be a rate in [0, 1]")
        return fmt

    def write(self, raw_dir: Path) -> None:
        changed = {k: v for k, v in self.__dict__.items() if v != getattr(RawFormat(), k)}
        if changed:
            (raw_dir / "format.json").write_text(json.dumps(changed, indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class RawFile:
    path: Path
    entity: Entity
    business_date: date


def raw_path(raw_dir: Path, entity: str, day: date) -> Path:
    """Where a source writes ``entity``'s file for ``day``."""
    return raw_dir / entity / f"{entity}_{day.isoformat()}.csv"


def list_raw_files(raw_dir: Path, up_to: date) -> list[RawFile]:
    """Every contract file dated <= ``up_to``, in load order then date order.

    Files that do not follow the naming scheme are an error, not silently skipped.
    """
    found: list[RawFile] = []
    for entity_name in LOAD_ORDER:
        folder = raw_dir / entity_name
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.name.startswith("."):
                continue
            match = FILE_NAME.match(path.name)
            if not match or match["entity"] != entity_name:
                raise ValueError(f"{path}: expected a file named {entity_name}_YYYY-MM-DD.csv")
            try:
                day = date.fromisoformat(match["date"])
            except ValueError as error:
                raise ValueError(f"{path}: not a date in its name ({error})") from None
            if day <= up_to:
                found.append(RawFile(path, ENTITIES[entity_name], day))
    return found
