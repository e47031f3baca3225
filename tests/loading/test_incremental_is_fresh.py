"""Property (a) of the second catalogue: incremental = fresh.

For any order of arrival of reference snapshots and daily files, corrections included, and any
grouping of those arrivals into runs, the warehouse the runs leave equals a fresh database loaded
from the final raw folder in one run (``fresh.assert_same_warehouse``: every dimension and fact
row, the current ledger and its quarantine).

Each history is small (a few files of a few lines) and reuses two databases, emptied between
examples, so that many histories run in a few seconds each.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass
from datetime import date
from itertools import count
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from psycopg import conninfo, sql

import rawfolder as rf
from etl_helpers import db, schema
from fresh import assert_same_warehouse
from rawfolder import emptied

EXAMPLES = int(os.environ.get("INCREMENTAL_EXAMPLES", "50"))

# (entity, business date) of every file a history may deliver
SLOTS = [
    ("regions", date(2026, 1, 1)), ("regions", date(2026, 6, 1)),
    ("stores", date(2026, 1, 1)), ("stores", date(2026, 3, 1)), ("stores", date(2026, 6, 1)),
    ("products", date(2026, 1, 1)), ("products", date(2026, 6, 1)),
    ("customers", date(2026, 1, 1)),
    ("sales", date(2026, 3, 2)), ("sales", date(2026, 5, 10)), ("sales", date(2026, 7, 15)),
    ("sales", date(2026, 11, 2)),
    ("loyalty", date(2026, 3, 2)), ("loyalty", date(2026, 7, 15)),
]
VARIANTS = 3  # versions of each file: a later arrival of another version is a late correction

CITIES = [("Évry", "91000"), ("Evry-Courcouronnes", "91080"), ("Lyon", "69003")]
BANNERS = ["hyper", "super", "proxi"]


def rows(entity: str, day: date, variant: int) -> list[dict]:
    """The rows of ``entity``'s file of ``day`` in its version ``variant``: every version differs
    in attributes, never in the codes a snapshot holds (a dimension never loses a member)."""
    shift = SLOTS.index((entity, day)) + variant
    if entity == "regions":
        return [dict(r, population=str(int(r["population"]) + 1000 * variant)) for r in rf.REGIONS]
    if entity == "stores":
        codes = ["S001", "S002"] + (["S003"] if day >= date(2026, 3, 1) else [])
        result = []
        for i, code in enumerate(codes):
            city, postal = CITIES[(shift + i) % len(CITIES)]
            banner = BANNERS[(shift * (i + 1)) % len(BANNERS)]
            result.append({"store_code": code, "store_name": f"{banner} {city}", "banner": banner, "city": city,
                           "postal_code": postal, "region_code": ["IDF", "ARA"][(shift + i) % 2],
                           "opened_on": "2010-05-01"})
        return result
    if entity == "products":
        return [dict(r, list_price=f"{1 + (shift + i) % 4}.{variant}0") for i, r in enumerate(rf.PRODUCTS)]
    if entity == "customers":
        return [dict(r, tier=["gold", "silver", ""][(shift + i) % 3]) for i, r in enumerate(rf.CUSTOMERS)]
    stamp = f"{day.isoformat()}T10:{variant:02d}:00+01:00"
    stores = ["S001", "S002", "S003", "S009"]  # S003 exists from March's snapshot; S009 never does
    if entity == "sales":
        return [rf.sale(f"T{day:%m%d}{n}", 1, stamp, stores[(shift + n) % len(stores)],
                        ["C001", "", "C002"][n % 3], ["P001", "P002", "P003"][(n + variant) % 3], str(1 + variant),
                        "1.20", "0", "")
                for n in range(1 + (shift % 3))]
    return [rf.event(f"E{day:%m%d}{n}", stamp, ["C001", "C002"][n % 2], stores[(shift + n) % 3],
                     f"T{day:%m%d}{n}", str(5 + variant), "0")
            for n in range(1 + variant)]


@dataclass(frozen=True)
class Arrival:
    slot: int       # index in SLOTS
    variant: int
    run_after: bool  # a load runs once this file has arrived


arrivals = st.builds(Arrival, st.integers(0, len(SLOTS) - 1), st.integers(0, VARIANTS - 1), st.booleans())


@pytest.fixture(scope="module")
def two_databases(server_url) -> list[str]:
    """An incremental and a fresh database with the pipeline schema, for the whole module."""
    names = [f"etl_property_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    with psycopg.connect(server_url, autocommit=True) as admin:
        for name in names:
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    urls = [conninfo.make_conninfo(server_url, dbname=name) for name in names]
    for url in urls:
        with db.connect(url=url) as conn:
            schema.apply_schema(conn)
    yield urls
    with psycopg.connect(server_url, autocommit=True) as admin:
        for name in names:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


MTIMES = count(1_700_000_000_000_000_000, 1_000_000)


def deliver(folder: rf.RawFolder, entity: str, day: date, variant: int) -> None:
    """Write the file, with a modification time later than any before: two versions written
    within the file system's clock tick would otherwise look unchanged to the ledger."""
    path = folder.write_rows(entity, day, rows(entity, day, variant))
    stamp = next(MTIMES)
    os.utime(path, ns=(stamp, stamp))


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(history=st.lists(arrivals, min_size=1, max_size=10))
def test_incremental_loads_equal_a_fresh_load_of_the_final_folder(two_databases, history):
    with tempfile.TemporaryDirectory() as work:
        incremental = emptied(two_databases[0], Path(work) / "incremental")
        fresh = emptied(two_databases[1], Path(work) / "fresh")
        folder = rf.RawFolder(Path(work) / "raw")
        folder.root.mkdir()
        for i, arrival in enumerate(history):
            entity, day = SLOTS[arrival.slot]
            deliver(folder, entity, day, arrival.variant)
            if arrival.run_after or i == len(history) - 1:
                rf.load(incremental, folder)

        rf.load(fresh, folder)

        assert_same_warehouse(incremental, fresh)
        rf.assert_reconciled(incremental)
