"""Every loading case of BAD_INPUTS.md: the behaviour (Q / E / A) and its invariant.

Q = the row is quarantined in etl.rejected_rows AND in data/processed/<run date>/rejects/<file>
    with its source file, line number, reason and raw text, and the load goes on.
E = FileRejected naming the file (and line where it applies); nothing committed.
A = accepted.
Always: rows read = rows loaded + rows rejected, checked against the file's own line count.

Numbers in test names are the lines of BAD_INPUTS.md (24, 27-29, 31 belong to the runner/CLI).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import rawfolder as rf
from etl_helpers import calendar, db, schema
from etl_helpers.contract import MAX_LINE_BYTES, MAX_POINTS, MAX_QUANTITY, MAX_TEXT_LENGTH, MAX_UNIT_PRICE
from etl_helpers.data_tests import DataTestFailure, run_data_tests
from etl_helpers.loading import ledger
from etl_helpers.loading import batches
from etl_helpers.loading.facts import analyze_loaded
from etl_helpers.loading.load import LOAD_LOCK_KEY
from etl_helpers.loading.reader import CHUNK_BYTES, FileRejected
from rawfolder import DAY1, DAY2, REF_DAY, RUN_DATE, event, sale

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def folder(tmp_path) -> rf.RawFolder:
    """The minimal valid raw folder, not loaded yet."""
    return rf.build(tmp_path / "raw")


@pytest.fixture
def loaded(warehouse, folder) -> rf.RawFolder:
    """The minimal valid folder, loaded: the 'before' of the cases that add a file to it."""
    rf.load(warehouse, folder)
    return folder


def fact_sales(settings, day: date | None = None) -> list[tuple]:
    """(ticket, line, quantity, unit_price, discount, amount, is_return) of fact_ventes, sorted."""
    where = "where sale_date = %s" if day else ""
    return rf.query(settings, "select ticket_id, line_number, quantity, unit_price, discount, amount, is_return "
                              f"from warehouse.fact_ventes {where} order by 1, 2", (day,) if day else ())


def expected_sales(rows: list[dict]) -> list[tuple]:
    return sorted((r["ticket_id"], int(r["line_number"]), int(r["quantity"]), Decimal(r["unit_price"]),
                   Decimal(r["discount"]), Decimal(r["amount"]), int(r["quantity"]) < 0) for r in rows)


def dim_texts(settings) -> list[str]:
    """Every text value of every dimension."""
    rows = rf.query(settings, """
        select concat_ws('|', region_code, region_name) from warehouse.dim_region
        union all select concat_ws('|', store_code, store_name, banner, city, postal_code) from warehouse.dim_magasin
        union all select concat_ws('|', product_code, product_name, category, subcategory, brand) from warehouse.dim_produit
        union all select concat_ws('|', customer_code, gender, city, tier, segment) from warehouse.dim_client""")
    return [r[0] for r in rows]


def assert_rejected_file(error: FileRejected, path: Path, reason: str, line: int | None) -> None:
    assert error.path == path
    assert str(path) in str(error)
    assert reason in str(error)
    assert error.line == line
    if line:
        assert f"line {line}" in str(error)


# --- 1, 2: malformed lines ---------------------------------------------------------------

def test_01_unbalanced_quote_and_too_many_fields_are_quarantined_with_their_line(warehouse, folder):
    rows = rf.SALES[DAY1]
    path = folder.write_text("sales", DAY1, "\n".join([
        folder.header("sales"),
        folder.line(rows[0]),                                                   # 2
        'T0009,1,2026-03-02T11:00:00+01:00,S001,C001,"P001,1,1.20,0,1.20',     # 3 unbalanced quote
        folder.line(rows[1]),                                                   # 4: not swallowed by 3
        folder.line(rows[2]) + ",surplus",                                      # 5 too many fields
        folder.line(sale("T0010", 1, amount="1.20")),                           # 6
    ]) + "\n")

    results = rf.load(warehouse, folder)

    quarantined = rf.assert_quarantined(warehouse, path, {3: "unbalanced quote", 5: "expected 10 fields, found 11"})
    lines = path.read_text().split("\n")
    assert quarantined[3][1] == lines[2] and quarantined[5][1] == lines[4]      # raw text is the line itself
    assert rf.ledger_row(warehouse, path) | {"file_id": 0} == {"file_id": 0, "read": 5, "loaded": 3, "rejected": 2}
    assert [t for t, *_ in fact_sales(warehouse, DAY1)] == ["T0001", "T0001", "T0010"]
    assert {r.entity for r in results if r.status == "loaded"} >= {"sales", "loyalty"}   # the load went on
    rf.assert_reconciled(warehouse)


def test_02_too_few_fields_is_quarantined_with_its_line(warehouse, folder):
    rows = rf.SALES[DAY1]
    path = folder.write_text("sales", DAY1, "\n".join([
        folder.header("sales"),
        folder.line(rows[0]),
        "T0009,1,2026-03-02T11:00:00+01:00,S001",                               # 3 too few fields
        folder.line(rows[1]),
        "",                                                                     # 5 blank: not a row
        folder.line(rows[2]),                                                   # 6
        "T0011,1",                                                              # 7 too few fields
    ]) + "\n")

    rf.load(warehouse, folder)

    quarantined = rf.assert_quarantined(warehouse, path, {3: "expected 10 fields, found 4",
                                                          7: "expected 10 fields, found 2"})
    assert quarantined[7][1] == "T0011,1"
    assert rf.ledger_row(warehouse, path)["read"] == 5                          # the blank line is not a row
    assert len(fact_sales(warehouse, DAY1)) == 3
    rf.assert_reconciled(warehouse)


# --- 3, 4, 5: encodings -----------------------------------------------------------------

PATISSERIE = "Pâtisserie d'Évry"


def test_03_latin1_file_read_as_utf8_is_an_error_naming_file_and_line(warehouse, loaded):
    before = rf.snapshot(warehouse)
    products = rf.PRODUCTS + [{"product_code": "P004", "product_name": PATISSERIE, "category": "Boulangerie"}]
    path = loaded.write_text("products", date(2026, 2, 1), loaded.text("products", products), encoding="latin-1")

    with pytest.raises(FileRejected) as error:
        rf.load(warehouse, loaded)

    assert_rejected_file(error.value, path, "not valid utf-8", 3)              # line 3: "Café moulu" in latin-1
    assert rf.snapshot(warehouse) == before
    assert not any("\ufffd" in text for text in dim_texts(warehouse))


def test_03_latin1_file_declared_latin1_decodes_exactly(warehouse, tmp_path):
    folder = rf.build(tmp_path / "raw", encoding="latin-1")
    folder.declare(encoding="latin-1")
    stores = rf.STORES + [{"store_code": "S003", "store_name": PATISSERIE, "banner": "proxi", "city": "Évry",
                           "region_code": "IDF"}]
    folder.write_rows("stores", REF_DAY, stores)

    rf.load(warehouse, folder)

    names = dict(rf.query(warehouse, "select store_code, store_name from warehouse.dim_magasin"))
    assert names == {s["store_code"]: s["store_name"] for s in stores}
    assert names["S003"] == PATISSERIE
    products = dict(rf.query(warehouse, "select product_code, category from warehouse.dim_produit"))
    assert products == {p["product_code"]: p["category"] for p in rf.PRODUCTS}
    texts = dim_texts(warehouse)
    assert not any("\ufffd" in t or "Ã" in t for t in texts)
    rf.assert_reconciled(warehouse)


def test_04_utf8_file_declared_latin1_is_a_mojibake_error(warehouse, folder):
    folder.declare(encoding="latin-1")                                          # files stay UTF-8
    before = rf.snapshot(warehouse)

    with pytest.raises(FileRejected) as error:
        rf.load(warehouse, folder)

    regions = folder.path("regions", REF_DAY)                                  # "Île-de-France" on line 2
    assert_rejected_file(error.value, regions, "looks like UTF-8 read as latin-1", 2)
    assert "declare encoding utf-8" in str(error.value)
    assert rf.snapshot(warehouse) == before
    assert not any("Ã" in t for t in dim_texts(warehouse))


def test_04_utf8_snapshot_declared_latin1_after_a_good_load_changes_nothing(warehouse, loaded):
    loaded.declare(encoding="latin-1")
    before = rf.snapshot(warehouse)
    path = loaded.write_text("stores", date(2026, 2, 1), loaded.text("stores", rf.STORES), encoding="utf-8")

    with pytest.raises(FileRejected) as error:
        rf.load(warehouse, loaded)

    assert_rejected_file(error.value, path, "looks like UTF-8", 2)              # "Hyper Évry"
    assert rf.snapshot(warehouse) == before
    assert not any("Ã" in t for t in dim_texts(warehouse))


def test_05_utf8_bom_before_the_header_is_accepted(warehouse, folder):
    for entity, day, rows in (("regions", REF_DAY, rf.REGIONS), ("sales", DAY1, rf.SALES[DAY1])):
        folder.write_bytes(entity, day, b"\xef\xbb\xbf" + folder.text(entity, rows).encode("utf-8"))

    rf.load(warehouse, folder)

    assert sorted(rf.query(warehouse, "select region_code from warehouse.dim_region")) == [("ARA",), ("IDF",)]
    assert fact_sales(warehouse, DAY1) == expected_sales(rf.SALES[DAY1])      # ticket_id, the first column
    assert rf.rejected(warehouse, folder.path("sales", DAY1)) == {}
    rf.assert_reconciled(warehouse)


# --- 6: French number formats ------------------------------------------------------------

french = rf.with_decimal_comma


def test_06_decimal_comma_and_semicolon_declared_are_accepted_and_sum_to_the_control_total(warehouse, tmp_path):
    folder = rf.build(tmp_path / "raw", delimiter=";", decimal=",")
    folder.declare(delimiter=";", decimal=",")
    sales = [french(r) for r in rf.SALES[DAY1]] + [french(sale("T0004", 1, quantity="3", unit_price="12.50",
                                                                discount="0.05", amount="35.63"))]
    folder.write_rows("sales", DAY1, sales)
    assert "12,50" in folder.path("sales", DAY1).read_text() and ";" in folder.header("sales")

    rf.load(warehouse, folder)

    total = rf.scalar(warehouse, "select sum(amount) from warehouse.fact_ventes where sale_date = %s", (DAY1,))
    assert total == rf.control_total(sales) == Decimal("44.74")
    assert rf.scalar(warehouse, "select unit_price from warehouse.fact_ventes where ticket_id = 'T0004'") == Decimal("12.50")
    assert rf.rejected(warehouse, folder.path("sales", DAY1)) == {}
    rf.assert_reconciled(warehouse)


def test_06_with_decimal_comma_declared_a_dotted_number_is_quarantined_never_read_as_a_fraction(warehouse, tmp_path):
    folder = rf.build(tmp_path / "raw", delimiter=";", decimal=",")
    folder.declare(delimiter=";", decimal=",")
    sales = [french(r) for r in rf.SALES[DAY1]] + [dict(french(sale("T0004", 1, amount="1.20")), unit_price="1.234")]
    path = folder.write_rows("sales", DAY1, sales)

    rf.load(warehouse, folder)

    rf.assert_quarantined(warehouse, path, {len(sales) + 1: "invalid unit_price"})
    assert rf.scalar(warehouse, "select count(*) from warehouse.fact_ventes where ticket_id = 'T0004'") == 0
    rf.assert_reconciled(warehouse)


def test_06_decimal_comma_not_declared_is_quarantined_and_the_rest_sums_to_its_control_total(warehouse, folder):
    good = rf.SALES[DAY1]
    path = folder.write_rows("sales", DAY1, good + [sale("T0004", 1, unit_price="12,50", amount="12,50")])

    rf.load(warehouse, folder)

    quarantined = rf.assert_quarantined(warehouse, path, {5: "invalid unit_price"})
    assert "12,50" in quarantined[5][1]
    total = rf.scalar(warehouse, "select sum(amount) from warehouse.fact_ventes where sale_date = %s", (DAY1,))
    assert total == rf.control_total(good)
    rf.assert_reconciled(warehouse)


def test_06_semicolon_file_not_declared_is_an_error_as_its_header_has_no_contract_column(warehouse, loaded):
    """A semicolon file read with the default comma cannot be split into columns at all: the whole
    file is refused (missing columns), which is stricter than quarantining each of its rows."""
    before = rf.snapshot(warehouse)
    semicolon = rf.RawFolder(loaded.root, delimiter=";")
    path = semicolon.write_rows("sales", date(2026, 3, 4), [sale("T0004", 1, "2026-03-04T10:00:00+01:00")])

    with pytest.raises(FileRejected) as error:
        rf.load(warehouse, loaded)

    assert_rejected_file(error.value, path, "required column(s) missing", 1)
    assert rf.snapshot(warehouse) == before


# --- 7, 8, 9: duplicates, reruns, corrections ------------------------------------------------

def test_07_duplicate_ticket_line_quarantines_every_copy_after_the_first(warehouse, folder):
    rows = rf.SALES[DAY1]
    copy = dict(rows[0], quantity="5", amount="6.00")                           # same key, other values
    path = folder.write_rows("sales", DAY1, [rows[0], rows[1], copy, rows[2], rows[0]])
    day2 = folder.write_rows("sales", DAY2, rf.SALES[DAY2] + [dict(rows[1], sold_at="2026-03-02T23:00:00+01:00")])

    rf.load(warehouse, folder)

    rf.assert_quarantined(warehouse, path, {4: "duplicate ticket line (first on line 2)",
                                            6: "duplicate ticket line (first on line 2)"})
    rf.assert_quarantined(warehouse, day2, {4: "ticket line also in an earlier file of this load"})
    assert fact_sales(warehouse, DAY1) == expected_sales(rows)                  # the first copy won
    assert rf.scalar(warehouse, "select count(*) from (select 1 from warehouse.fact_ventes "
                                "group by ticket_id, line_number having count(*) > 1) d") == 0
    rf.assert_reconciled(warehouse)
    rf.assert_data_tests_pass(warehouse)


def test_07_ticket_line_already_loaded_from_another_file_is_quarantined(warehouse, loaded):
    """The key is the fact table's primary key, the day included: a line loaded before is
    refused from a later file; the same ticket and line number on another day is another
    ticket (tills number their tickets day by day), and so is an event id."""
    day3 = date(2026, 3, 4)
    same_day = dict(rf.SALES[DAY2][0])                                          # loaded with DAY2, same sale day
    other_day = dict(rf.SALES[DAY1][0], sold_at="2026-03-04T11:00:00+01:00")   # DAY1's number, another day
    loyalty_again = dict(rf.LOYALTY[DAY1][0])
    loyalty_other_day = dict(rf.LOYALTY[DAY1][1], occurred_at="2026-03-04T11:00:00+01:00")
    path = loaded.write_rows("sales", day3, [same_day, other_day,
                                             sale("T0005", 1, "2026-03-04T09:00:00+01:00", amount="1.20")])
    loyalty = loaded.write_rows("loyalty", day3, [loyalty_again, loyalty_other_day,
                                                  event("E0005", "2026-03-04T09:00:00+01:00")])

    rf.load(warehouse, loaded)

    rf.assert_quarantined(warehouse, path, {2: "ticket line already loaded from another file"})
    rf.assert_quarantined(warehouse, loyalty, {2: "event already loaded from another file"})
    assert rf.counts(warehouse)["fact_ventes"] == 7 and rf.counts(warehouse)["fact_fidelite"] == 4
    assert rf.scalar(warehouse, "select count(*) from warehouse.fact_ventes where sale_date = %s", (day3,)) == 2
    rf.assert_reconciled(warehouse)
    rf.assert_data_tests_pass(warehouse)


def one_file_a_batch(folder: rf.RawFolder, monkeypatch, days: list[date], last_extra: list[dict]) -> Path:
    """A file of one ticket line (``N<n>``) on each of ``days``, one file per batch (as files
    are on a long history): the first day's month, new to the fact table (no other test of
    this module uses it), is attached when the second day's file is written, before the last
    file brings a late line of that month (``LATE``) and ``last_extra``. Returns the last file."""
    monkeypatch.setattr(batches, "FIRST_BATCH_ROWS", 1)
    monkeypatch.setattr(batches, "TYPING_BATCH_ROWS", 1)
    rows = [[sale(f"N{n}", 1, f"{day}T10:00:00+01:00", amount="1.20")] for n, day in enumerate(days)]
    rows[-1] += [sale("LATE", 1, f"{days[0]:%Y-%m}-20T10:00:00+01:00", amount="1.20"), *last_extra]
    return [folder.write_rows("sales", day, day_rows) for day, day_rows in zip(days, rows)][-1]


def test_07_a_late_line_of_a_month_attached_during_the_load_reaches_its_partition(warehouse, folder, monkeypatch):
    one_file_a_batch(folder, monkeypatch, [date(2026, 1, 10), date(2026, 2, 5), date(2026, 3, 10)], [])

    rf.load(warehouse, folder)

    assert rf.query(warehouse, "select ticket_id from warehouse.fact_ventes_2026_01 order by 1") == [
        ("LATE",), ("N0",)]
    attached = {name for (name,) in rf.query(
        warehouse, "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                   "where i.inhparent = 'warehouse.fact_ventes'::regclass")}
    assert {"fact_ventes_2026_01", "fact_ventes_2026_02", "fact_ventes_2026_03"} <= attached
    rf.assert_reconciled(warehouse)
    rf.assert_data_tests_pass(warehouse)


def test_07_a_repeat_of_a_line_in_a_month_attached_during_the_load_is_quarantined(warehouse, folder, monkeypatch):
    may = date(2026, 5, 12)
    repeat = sale("N0", 1, f"{may}T18:00:00+02:00", quantity="2", amount="2.40")  # May's first line again
    last = one_file_a_batch(folder, monkeypatch, [may, date(2026, 8, 5), date(2026, 9, 8)], [repeat])

    rf.load(warehouse, folder)

    rf.assert_quarantined(warehouse, last, {4: "ticket line also in an earlier file of this load"})
    assert rf.query(warehouse, "select ticket_id, quantity from warehouse.fact_ventes_2026_05 order by 1") == [
        ("LATE", 1), ("N0", 1)]
    rf.assert_reconciled(warehouse)
    rf.assert_data_tests_pass(warehouse)


def test_08_the_same_file_again_loads_nothing(warehouse, loaded):
    before = rf.snapshot(warehouse)
    before_counts = rf.counts(warehouse)

    results = rf.load(warehouse, loaded)

    assert {r.status for r in results} == {"unchanged"} and len(results) == 7
    assert rf.counts(warehouse) == before_counts
    assert rf.snapshot(warehouse) == before
    rf.assert_reconciled(warehouse)


def test_08_files_unchanged_since_they_were_hashed_are_not_read_again(warehouse, loaded, monkeypatch):
    hashed = []
    real_sha256 = ledger.file_sha256
    monkeypatch.setattr(ledger, "file_sha256", lambda path: hashed.append(path.name) or real_sha256(path))
    touched = loaded.path("sales", DAY1)
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))  # same bytes, newer

    first = rf.load(warehouse, loaded)
    second = rf.load(warehouse, loaded)

    assert {r.status for r in first + second} == {"unchanged"}
    assert hashed == [touched.name]                     # read once, to learn it has not changed; then never


def test_09_a_changed_file_replaces_its_own_rows(warehouse, loaded):
    path = loaded.path("sales", DAY1)
    old_file = rf.ledger_row(warehouse, path)["file_id"]
    corrected = [dict(rf.SALES[DAY1][0], quantity="4", amount="4.80"),          # corrected line
                 rf.SALES[DAY1][1],                                             # T0002 withdrawn
                 sale("T0004", 1, "2026-03-02T12:00:00+01:00", "S002", "C002", "P003", "1", "1.05", "0", "1.05"),
                 sale("T0004", 2, "2026-03-02T12:00:00+01:00", "S002", "C002", "P003", "1", "x", "0", "1.05")]
    loaded.write_rows("sales", DAY1, corrected)

    results = rf.load(warehouse, loaded)

    statuses = {Path(r.path).name: r.status for r in results}
    assert statuses[path.name] == "replaced" and statuses["sales_2026-03-03.csv"] == "unchanged"
    assert fact_sales(warehouse, DAY1) == expected_sales(corrected[:3])
    total = rf.scalar(warehouse, "select sum(amount) from warehouse.fact_ventes where sale_date = %s", (DAY1,))
    assert total == rf.control_total(corrected[:3])
    assert rf.counts(warehouse)["fact_ventes"] == 3 + 2
    assert rf.scalar(warehouse, "select count(*) from warehouse.fact_ventes where file_id = %s", (old_file,)) == 0
    assert rf.query(warehouse, "select is_current from etl.loaded_files where path = %s order by file_id",
                    (ledger.ledger_key(path),)) == [(False,), (True,)]
    rf.assert_quarantined(warehouse, path, {5: "invalid unit_price"})
    rf.assert_reconciled(warehouse)
    rf.assert_data_tests_pass(warehouse)


def test_09_a_corrected_file_without_errors_leaves_no_stale_rejects_file(warehouse, folder):
    path = folder.write_rows("sales", DAY1, rf.SALES[DAY1] + [sale("T0004", 1, store_code="S999")])
    rf.load(warehouse, folder)
    assert len(rf.rejects_file(warehouse, path)) == 1
    folder.write_rows("sales", DAY1, rf.SALES[DAY1])                           # the correction

    results = rf.load(warehouse, folder)

    assert [r.status for r in results if r.path == str(path)] == ["replaced"]
    assert rf.rejected(warehouse, path) == {}
    assert rf.rejects_file(warehouse, path) == []                               # not the old version's rejects
    rf.assert_reconciled(warehouse)


def test_09_a_changed_file_that_is_refused_keeps_its_previous_version(warehouse, loaded):
    before = rf.snapshot(warehouse)
    path = loaded.write_text("sales", DAY1, "ticket_id,line_number\nT0001,1\n")

    with pytest.raises(FileRejected):
        rf.load(warehouse, loaded)

    assert rf.snapshot(warehouse) == before
    assert fact_sales(warehouse, DAY1) == expected_sales(rf.SALES[DAY1])


# --- 10, 11, 12, 13: row values ------------------------------------------------------------

def test_10_unknown_store_product_or_customer_is_quarantined(warehouse, folder):
    sales = folder.write_rows("sales", DAY1, rf.SALES[DAY1] + [
        sale("T0004", 1, store_code="S999", amount="1.20"),
        sale("T0004", 2, product_code="P999", amount="1.20"),
        sale("T0004", 3, customer_code="C999", amount="1.20"),
        sale("T0004", 4, customer_code="", amount="1.20"),                      # anonymous: accepted
    ])
    loyalty = folder.write_rows("loyalty", DAY1, rf.LOYALTY[DAY1] + [
        event("E0003", customer_code="C999"), event("E0004", store_code="S999"), event("E0005", customer_code="")])

    rf.load(warehouse, folder)

    rf.assert_quarantined(warehouse, sales, {5: "unknown store_code", 6: "unknown product_code",
                                             7: "unknown customer_code"})
    rf.assert_quarantined(warehouse, loyalty, {4: "unknown customer_code", 5: "unknown store_code",
                                               6: "missing customer_code"})
    assert rf.scalar(warehouse, "select count(*) from warehouse.fact_ventes where customer_id is null") == 2
    rf.assert_reconciled(warehouse)
    rf.assert_data_tests_pass(warehouse)                                        # every fact row joins its dims


def test_11_negative_quantity_is_a_flagged_return_that_reduces_net_sales(warehouse, folder):
    rows = rf.SALES[DAY1] + [sale("T0004", 1, quantity="-2", unit_price="1.20", amount="-2.40"),
                             sale("T0004", 2, quantity="-1", unit_price="3.95", amount="")]   # amount computed
    folder.write_rows("sales", DAY1, rows)

    rf.load(warehouse, folder)

    returns = rf.query(warehouse, "select ticket_id, line_number, quantity, amount, is_return from warehouse.fact_ventes "
                                  "where is_return order by 1, 2")
    assert returns == [("T0003", 2, -1, Decimal("-1.20"), True), ("T0004", 1, -2, Decimal("-2.40"), True),
                       ("T0004", 2, -1, Decimal("-3.95"), True)]
    net = rf.scalar(warehouse, "select sum(amount) from warehouse.fact_ventes where sale_date = %s", (DAY1,))
    assert net == rf.control_total(rf.SALES[DAY1]) - Decimal("6.35")
    assert rf.scalar(warehouse, "select count(*) from warehouse.fact_ventes "
                                "where is_return <> (quantity < 0) or sign(amount) * sign(quantity) < 0") == 0
    rf.assert_reconciled(warehouse)
    rf.assert_data_tests_pass(warehouse)


def test_11_amount_whose_sign_disagrees_with_the_quantity_is_quarantined(warehouse, folder):
    path = folder.write_rows("sales", DAY1, rf.SALES[DAY1] + [
        sale("T0004", 1, quantity="-1", unit_price="1.20", amount="1.20"),     # a return with a positive amount
        sale("T0004", 2, quantity="2", unit_price="1.20", amount="-2.40")])

    rf.load(warehouse, folder)

    rf.assert_quarantined(warehouse, path, {5: "amount sign disagrees with quantity",
                                            6: "amount sign disagrees with quantity"})
    rf.assert_reconciled(warehouse)
    rf.assert_data_tests_pass(warehouse)


def test_12_zero_or_absurd_values_are_quarantined_above_the_contract_bounds(warehouse, folder):
    at_bounds = [sale("T0100", 1, quantity=str(MAX_QUANTITY), unit_price=f"{MAX_UNIT_PRICE}.00"),
                 sale("T0100", 2, quantity=str(-MAX_QUANTITY), unit_price="0.01")]
    beyond = [sale("T0200", 1, quantity="0"),
              sale("T0200", 2, quantity=str(MAX_QUANTITY + 1)),
              sale("T0200", 3, quantity=str(-MAX_QUANTITY - 1)),
              sale("T0200", 4, quantity="1000000000"),
              sale("T0200", 5, quantity="1e9"),
              sale("T0200", 6, unit_price="0"),
              sale("T0200", 7, unit_price="-1.20"),
              sale("T0200", 8, unit_price=f"{MAX_UNIT_PRICE}.01"),
              sale("T0200", 9, unit_price="1000000000.00"),
              sale("T0200", 10, discount="1"),
              sale("T0200", 11, amount="1000000000.00"),
              # both as large as they may be written, amount left to compute: 10^21, refused, not a crash
              sale("T0200", 12, quantity="999999999", unit_price="999999999999.999999")]
    sales = folder.write_rows("sales", DAY1, at_bounds + beyond)
    loyalty = folder.write_rows("loyalty", DAY1, [event("E0001", points_earned=str(MAX_POINTS)),
                                                  event("E0002", points_earned=str(MAX_POINTS + 1)),
                                                  event("E0003", points_redeemed="-5")])
    products = folder.write_rows("products", REF_DAY, rf.PRODUCTS + [
        {"product_code": "P004", "product_name": "Gratuit", "category": "Divers", "list_price": "0"}])

    rf.load(warehouse, folder)

    quantity = f"quantity out of bounds (non-zero, |q| <= {MAX_QUANTITY})"
    price = f"unit_price out of bounds (0, {MAX_UNIT_PRICE}]"
    rf.assert_quarantined(warehouse, sales, {
        4: quantity, 5: quantity, 6: quantity, 7: "invalid quantity", 8: "invalid quantity",
        9: price, 10: price, 11: price, 12: price, 13: "discount is not a rate in [0, 1)", 14: "amount out of bounds",
        15: quantity})
    rf.assert_quarantined(warehouse, loyalty, {3: f"points out of bounds [0, {MAX_POINTS}]",
                                               4: f"points out of bounds [0, {MAX_POINTS}]"})
    rf.assert_quarantined(warehouse, products, {5: f"list_price out of bounds (0, {MAX_UNIT_PRICE}]"})
    assert rf.query(warehouse, "select max(abs(quantity)), max(unit_price) from warehouse.fact_ventes") == [
        (MAX_QUANTITY, Decimal(MAX_UNIT_PRICE))]
    rf.assert_reconciled(warehouse)


def test_decimals_beyond_the_columns_scale_are_rounded_half_away_from_zero_as_postgresql_does(warehouse, folder):
    folder.write_rows("sales", DAY1, [
        sale("T0300", 1, quantity="1", unit_price="1.005", discount="0.12345", amount="2.00005"),
        sale("T0300", 2, quantity="-1", unit_price="1.20", amount="-1.20005"),
        sale("T0300", 3, quantity="3", unit_price="0.335", discount="0"),  # amount computed from the price as written
    ])

    rf.load(warehouse, folder)

    assert rf.query(warehouse, "select line_number, unit_price, discount, amount from warehouse.fact_ventes "
                               "where ticket_id = 'T0300' order by line_number") == [
        (1, Decimal("1.01"), Decimal("0.1235"), Decimal("2.0001")),
        (2, Decimal("1.20"), Decimal("0"), Decimal("-1.2001")),
        (3, Decimal("0.34"), Decimal("0"), Decimal("1.01")),
    ]


def test_13_event_dated_after_its_file_or_the_run_date_is_quarantined(warehouse, folder):
    late = date(2026, 12, 1)
    sales = folder.write_rows("sales", DAY1, rf.SALES[DAY1] + [sale("T0004", 1, "2026-03-03T00:30:00+01:00"),
                                                             sale("T0004", 2, "2026-03-02T23:30:00Z")])
    loyalty = folder.write_rows("loyalty", DAY1, rf.LOYALTY[DAY1] + [event("E0003", "2026-03-03T08:00:00")])
    after_run = folder.write_rows("sales", late, [sale("T0900", 1, "2026-12-01T10:00:00+01:00")])

    results = rf.load(warehouse, folder)

    rf.assert_quarantined(warehouse, sales, {5: "dated after its file's business date",
                                             6: "dated after its file's business date"})   # 00:30 Paris, next day
    rf.assert_quarantined(warehouse, loyalty, {4: "dated after its file's business date"})
    assert str(after_run) not in {r.path for r in results}                      # a file after the run date waits
    assert rf.ledger_row(warehouse, after_run) is None
    assert rf.scalar(warehouse, "select max(sale_date) from warehouse.fact_ventes") <= RUN_DATE
    rf.assert_reconciled(warehouse)


def test_13_run_date_bounds_every_fact(warehouse, folder):
    rf.load(warehouse, folder, run_date=DAY1)

    assert rf.scalar(warehouse, "select max(sale_date) from warehouse.fact_ventes") == DAY1
    assert rf.ledger_row(warehouse, folder.path("sales", DAY2)) is None
    rf.assert_reconciled(warehouse)


# --- 14, 15: time and dates ------------------------------------------------------------------

def test_14_dst_policy_offsets_are_exact_local_gap_and_overlap_are_quarantined(warehouse, folder):
    """ISO timestamps with an offset are exact instants; without one they are Europe/Paris time,
    and a local time that does not exist (29 March 02:30) or exists twice (25 October 02:30)
    is quarantined, never shifted."""
    spring, autumn = date(2026, 3, 29), date(2026, 10, 25)
    spring_rows = [sale("T0301", 1, "2026-03-29T01:30:00"),                     # CET
                   sale("T0301", 2, "2026-03-29T02:30:00"),                     # does not exist
                   sale("T0301", 3, "2026-03-29T03:30:00"),                     # CEST
                   sale("T0301", 4, "2026-03-29T02:30:00+01:00"),               # exact: = 03:30 CEST
                   sale("T0301", 5, "2026-03-29T02:00:00")]                     # does not exist
    autumn_rows = [sale("T1025", 1, "2026-10-25T01:59:59"),                     # CEST
                   sale("T1025", 2, "2026-10-25T02:30:00"),                     # twice
                   sale("T1025", 3, "2026-10-25T02:30:00+02:00"),               # first 02:30
                   sale("T1025", 4, "2026-10-25T02:30:00+01:00"),               # second 02:30
                   sale("T1025", 5, "2026-10-25T03:00:00"),                     # CET
                   sale("T1025", 6, "2026-10-25 02:00")]                        # twice
    spring_path = folder.write_rows("sales", spring, spring_rows)
    autumn_path = folder.write_rows("sales", autumn, autumn_rows)
    loyalty_path = folder.write_rows("loyalty", autumn, [event("E1025", "2026-10-25T02:15:00"),
                                                         event("E1026", "2026-10-25T02:15:00+01:00")])

    rf.load(warehouse, folder)

    gap, overlap = "nonexistent Europe/Paris local time", "ambiguous Europe/Paris local time"
    rf.assert_quarantined(warehouse, spring_path, {3: gap, 6: gap})
    rf.assert_quarantined(warehouse, autumn_path, {3: overlap, 7: overlap})
    rf.assert_quarantined(warehouse, loyalty_path, {2: overlap})
    assert rf.query(warehouse, "select data_type from information_schema.columns where table_schema = 'warehouse' "
                               "and column_name in ('sold_at', 'occurred_at') group by 1") == [("timestamp with time zone",)]
    stored = dict(((t, n), at) for t, n, at in rf.query(
        warehouse, "select ticket_id, line_number, sold_at from warehouse.fact_ventes where ticket_id in ('T0301', 'T1025')"))
    utc = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
    assert stored == {
        ("T0301", 1): utc(2026, 3, 29, 0, 30), ("T0301", 3): utc(2026, 3, 29, 1, 30),
        ("T0301", 4): utc(2026, 3, 29, 1, 30),
        ("T1025", 1): utc(2026, 10, 24, 23, 59, 59), ("T1025", 3): utc(2026, 10, 25, 0, 30),
        ("T1025", 4): utc(2026, 10, 25, 1, 30), ("T1025", 5): utc(2026, 10, 25, 2, 0),
    }
    assert rf.query(warehouse, "select distinct sale_date from warehouse.fact_ventes where ticket_id in ('T0301', 'T1025') "
                               "order by 1") == [(spring,), (autumn,)]     # Paris dates, not UTC dates
    assert rf.query(warehouse, "select event_id, occurred_at from warehouse.fact_fidelite where event_date = %s",
                    (autumn,)) == [("E1026", utc(2026, 10, 25, 1, 15))]
    rf.assert_reconciled(warehouse)


@pytest.mark.parametrize("sold_at", ["03/04/2026 10:00", "4.3.2026"])
def test_15_ambiguous_day_month_date_without_a_declared_format_is_an_error(warehouse, loaded, sold_at):
    before = rf.snapshot(warehouse)
    day = date(2026, 4, 3)
    path = loaded.write_rows("sales", day, [sale("T0403", 1, "2026-04-03T10:00:00+02:00"),
                                            sale("T0403", 2, sold_at)])

    with pytest.raises(FileRejected) as error:
        rf.load(warehouse, loaded)

    assert_rejected_file(error.value, path, "declare date_format in format.json", 3)
    assert sold_at in str(error.value)
    assert rf.snapshot(warehouse) == before                                     # no guessed dates


@pytest.mark.parametrize("date_format, day", [("DD/MM/YYYY HH24:MI", date(2026, 4, 3)),
                                              ("MM/DD/YYYY HH24:MI", date(2026, 3, 4))])
def test_15_declared_date_format_decides_day_and_month(warehouse, tmp_path, date_format, day):
    folder = rf.build(tmp_path / "raw", sales=False, loyalty=False)
    folder.declare(date_format=date_format)
    path = folder.write_rows("sales", day, [sale("T0403", 1, "03/04/2026 10:00"),
                                            sale("T0403", 2, "03/04/2026 25:00")])

    rf.load(warehouse, folder)

    ten_in_paris = datetime(day.year, day.month, day.day, 10, 0, tzinfo=PARIS)
    assert rf.query(warehouse, "select sale_date, sold_at from warehouse.fact_ventes") == [(day, ten_in_paris)]
    rf.assert_quarantined(warehouse, path, {3: "timestamp does not match the declared date_format"})
    rf.assert_reconciled(warehouse)


def test_15_ambiguous_reference_date_quarantines_its_row_never_guessed(warehouse, folder):
    """Dates of reference snapshots (opened_on, enrolled_on) are ISO only: a day/month date
    quarantines its row (the file's other rows load); the declared date_format is for event timestamps."""
    stores = folder.write_rows("stores", REF_DAY, rf.STORES + [dict(rf.STORES[0], store_code="S003", opened_on="03/04/2010")])
    customers = folder.write_rows("customers", REF_DAY, rf.CUSTOMERS + [dict(rf.CUSTOMERS[0], customer_code="C004",
                                                                           enrolled_on="2021-13-01")])

    rf.load(warehouse, folder)

    rf.assert_quarantined(warehouse, stores, {4: "invalid opened_on (expected YYYY-MM-DD)"})
    rf.assert_quarantined(warehouse, customers, {5: "invalid enrolled_on (expected YYYY-MM-DD)"})
    assert rf.scalar(warehouse, "select count(*) from warehouse.dim_magasin where opened_on is not null") == 1
    rf.assert_reconciled(warehouse)


# --- 16, 17, 18, 19, 20: file shapes ----------------------------------------------------------

@pytest.mark.parametrize("entity, day", [("sales", date(2026, 3, 4)), ("stores", date(2026, 2, 1))])
def test_16_empty_file_is_an_error(warehouse, loaded, entity, day):
    before = rf.snapshot(warehouse)
    path = loaded.write_bytes(entity, day, b"")

    with pytest.raises(FileRejected) as error:
        rf.load(warehouse, loaded)

    assert_rejected_file(error.value, path, "empty file (0 bytes)", None)
    assert "header" in str(error.value)
    assert rf.snapshot(warehouse) == before


@pytest.mark.parametrize("ending", ["\n", "\r\n\r\n\n"])
def test_17_header_only_file_loads_nothing_with_a_warning_and_is_recorded(warehouse, loaded, caplog, ending):
    day = date(2026, 3, 4)
    path = loaded.write_text("sales", day, loaded.header("sales") + ending)
    before = rf.counts(warehouse)

    with caplog.at_level(logging.WARNING, logger="etl_helpers"):
        results = rf.load(warehouse, loaded)

    assert [r.status for r in results if r.path == str(path)] == ["loaded"]
    assert "header only" in caplog.text and path.name in caplog.text
    assert "empty file" not in caplog.text                                      # not the message of 16
    assert rf.ledger_row(warehouse, path) | {"file_id": 0} == {"file_id": 0, "read": 0, "loaded": 0, "rejected": 0}
    assert rf.counts(warehouse) == before
    rf.assert_reconciled(warehouse)


@pytest.mark.parametrize("entity, day, rows, missing", [
    ("sales", date(2026, 3, 4), [sale("T0004", 1, "2026-03-04T10:00:00+01:00")], "quantity"),
    ("customers", date(2026, 2, 1), rf.CUSTOMERS, "has_loyalty_card"),
])
def test_18_missing_required_column_is_an_error_before_any_write(warehouse, loaded, entity, day, rows, missing):
    before = rf.snapshot(warehouse)
    columns = [c for c in rf.ENTITIES[entity].column_names if c != missing]
    path = loaded.write_rows(entity, day, rows, columns)

    with pytest.raises(FileRejected) as error:
        rf.load(warehouse, loaded)

    assert_rejected_file(error.value, path, f"required column(s) missing: {missing}", 1)
    assert rf.snapshot(warehouse) == before


def test_19_unknown_extra_column_is_ignored_with_a_warning(warehouse, folder, caplog):
    columns = rf.ENTITIES["sales"].column_names
    columns = columns[:3] + ["cashier_name"] + columns[3:] + ["Loyalty_Tier"]
    rows = [dict(r, cashier_name="Élodie, caisse 3", Loyalty_Tier="gold") for r in rf.SALES[DAY1]]
    folder.write_rows("sales", DAY1, rows, columns)

    with caplog.at_level(logging.WARNING, logger="etl_helpers"):
        rf.load(warehouse, folder)

    assert "ignoring unknown column(s) cashier_name, loyalty_tier" in caplog.text
    assert fact_sales(warehouse, DAY1) == expected_sales(rf.SALES[DAY1])
    staged = {c for c, in rf.query(warehouse, "select column_name from information_schema.columns "
                                             "where table_schema = 'staging'")}
    assert "ticket_id" in staged and not staged & {"cashier_name", "loyalty_tier"}   # nothing new is stored
    rf.assert_reconciled(warehouse)


def test_20_columns_in_another_order_and_case_are_mapped_by_name(warehouse, folder):
    for entity, day, rows in (("stores", REF_DAY, rf.STORES), ("sales", DAY1, rf.SALES[DAY1])):
        columns = list(reversed(rf.ENTITIES[entity].column_names))
        text = folder.text(entity, rows, columns)
        header, body = text.split("\n", 1)
        folder.write_text(entity, day, header.upper() + "\n" + body)

    rf.load(warehouse, folder)

    assert fact_sales(warehouse, DAY1) == expected_sales(rf.SALES[DAY1])
    stores = rf.query(warehouse, "select store_code, store_name, city, postal_code, region_code "
                                 "from warehouse.dim_magasin join warehouse.dim_region using (region_id) order by 1")
    assert stores == [(s["store_code"], s["store_name"], s["city"], s["postal_code"], s["region_code"])
                      for s in rf.STORES]
    rf.assert_reconciled(warehouse)
    rf.assert_data_tests_pass(warehouse)


# --- 21, 22, 23: hostile values ---------------------------------------------------------------

def test_21_huge_field_or_long_line_is_quarantined(warehouse, folder):
    rows = rf.SALES[DAY1]
    huge = "x" * (1 << 20)
    path = folder.write_text("sales", DAY1, "\n".join([
        folder.header("sales"),
        folder.line(rows[0]),
        folder.line(sale("T0004", 1, product_code=huge)),                       # 3: a 1 MB field
        folder.line(rows[1]),
        folder.line(sale("T" * (MAX_LINE_BYTES - 100), 2)),                   # 5: long, under the line bound
        folder.line(rows[2]),
        "y" * (3 * MAX_LINE_BYTES),                                             # 7: a long line, no fields
    ]) + "\n")
    stores = folder.write_rows("stores", REF_DAY, rf.STORES + [dict(rf.STORES[0], store_code="S003",
                                                                    store_name="S" * (MAX_TEXT_LENGTH + 1))])

    rf.load(warehouse, folder)

    quarantined = rf.assert_quarantined(warehouse, path, {3: f"line longer than {MAX_LINE_BYTES} bytes",
                                                          5: "text too long",
                                                          7: f"line longer than {MAX_LINE_BYTES} bytes"})
    assert len(quarantined[3][1]) <= 1001 and quarantined[3][1].startswith("T0004,1,")
    rf.assert_quarantined(warehouse, stores, {4: "text too long"})
    assert fact_sales(warehouse, DAY1) == expected_sales(rows)
    rf.assert_reconciled(warehouse)


MEMORY_SCRIPT = textwrap.dedent("""
    import sys
    from datetime import date
    from pathlib import Path
    from etl_helpers import db
    from etl_helpers.loading.load import load_raw_folder
    from etl_helpers.settings import Settings

    def peak_rss_kb():  # this process's high-water mark (ru_maxrss would include the parent's, across exec)
        status = Path("/proc/self/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])

    settings = Settings(database_url=sys.argv[1], workdir=Path(sys.argv[2]))
    raw_dir, warm_up_date, run_date = Path(sys.argv[3]), date.fromisoformat(sys.argv[4]), date.fromisoformat(sys.argv[5])
    load_raw_folder(settings, raw_dir, warm_up_date, progress=False)  # the small files: every lazy import and pool
    before = peak_rss_kb()
    results = load_raw_folder(settings, raw_dir, run_date, progress=False)  # the big file alone
    print(before, peak_rss_kb(), sum(r.rows_rejected for r in results))
""")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak RSS from /proc")
def test_21_memory_stays_bounded_on_a_file_of_huge_lines(warehouse, folder, tmp_path):
    """A 160 MB file of 1 MB lines and one 64 MB line: the loader's peak memory grows by a few
    chunk-sized buffers (it streams CHUNK_BYTES at a time and skips over-long lines), far less than the file."""
    day, megabyte = date(2026, 3, 4), 1 << 20
    path = folder.path("sales", day)
    with path.open("w", encoding="utf-8") as out:
        out.write(folder.header("sales") + "\n")
        for i in range(96):
            out.write(folder.line(sale(f"T{i:05d}", 1, "2026-03-04T10:00:00+01:00", product_code="p" * megabyte)) + "\n")
            out.write(folder.line(sale(f"T{i:05d}", 2, "2026-03-04T10:00:00+01:00", amount="1.20")) + "\n")
        out.write("z" * (64 * megabyte) + "\n")
    size = path.stat().st_size

    done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, warehouse.database_url, str(tmp_path),
                           str(folder.root), DAY2.isoformat(), RUN_DATE.isoformat()],
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    before_kb, after_kb, rejected_count = map(int, done.stdout.split())
    growth = (after_kb - before_kb) * 1024
    bound = 12 * CHUNK_BYTES
    assert rejected_count == 97
    assert growth < bound < size / 1.5, f"peak memory grew by {growth / megabyte:.0f} MB for a {size / megabyte:.0f} MB file"
    assert rf.ledger_row(warehouse, path) | {"file_id": 0} == {"file_id": 0, "read": 193, "loaded": 96, "rejected": 97}
    rf.assert_reconciled(warehouse)


CONTROL_BYTES = [b"\x00", b"\x01", b"\x1b", b"\x7f", b"\r"]                    # NUL, SOH, ESC, DEL, a bare CR


def test_22_nul_or_control_character_in_a_field_is_quarantined_whole(warehouse, folder):
    rows = rf.SALES[DAY1]
    bad_lines = [folder.line(sale(f"T010{i}", 1, amount="1.20")).encode().replace(b"T010", b"T01" + bad)
                 for i, bad in enumerate(CONTROL_BYTES)]                        # lines 3, 5, 7, 9, 11
    lines = [folder.header("sales").encode()]
    for i, bad_line in enumerate(bad_lines):
        lines += [folder.line(rows[i % 3] if i < 3 else sale(f"T020{i}", 1, amount="1.20")).encode(), bad_line]
    path = folder.write_bytes("sales", DAY1, b"\n".join(lines) + b"\n")

    rf.load(warehouse, folder)

    quarantined = rf.assert_quarantined(warehouse, path, {3 + 2 * i: "control character" for i in range(5)})
    for i, bad in enumerate(CONTROL_BYTES):
        assert f"control character 0x{bad[0]:02x} in a field" == quarantined[3 + 2 * i][0]
    assert quarantined[3][1].startswith("T01\\x00") and "\x00" not in quarantined[3][1]   # text cannot hold NUL
    assert quarantined[11][1].startswith("T01\r")
    assert rf.query(warehouse, "select count(*) from warehouse.fact_ventes where ticket_id like 'T01%%'") == [(0,)]
    assert [t for t, *_ in fact_sales(warehouse, DAY1)] == ["T0001", "T0001", "T0002", "T0203", "T0204"]
    rf.assert_reconciled(warehouse)


INJECTION = "Robert'); DROP TABLE dim_client;--"


def test_23_sql_injection_text_is_stored_verbatim_and_tables_stay_intact(warehouse, folder, caplog):
    tricky = [INJECTION, 'Robert"); drop table warehouse.dim_client; --', "$$; drop schema warehouse cascade; $$",
              "'; copy etl.runs to program 'false'; --"]
    stores = rf.STORES + [dict(rf.STORES[0], store_code=f"S10{i}", store_name=t) for i, t in enumerate(tricky)]
    products = rf.PRODUCTS + [dict(rf.PRODUCTS[0], product_code=f"P10{i}", product_name=t, brand=t)
                              for i, t in enumerate(tricky)]
    folder.write_rows("stores", REF_DAY, stores)
    folder.write_rows("products", REF_DAY, products)
    columns = rf.ENTITIES["sales"].column_names + ['x"); drop table warehouse.fact_ventes; --']
    sales_path = folder.write_rows("sales", DAY1, rf.SALES[DAY1] + [sale("T0004", 1, store_code="S100", amount="1.20"),
                                                                   sale("T0004", 2, customer_code=INJECTION)], columns)
    with db.connection(warehouse) as conn:
        tables_before = schema.existing_tables(conn)

    with caplog.at_level(logging.WARNING, logger="etl_helpers"):
        rf.load(warehouse, folder)

    assert rf.query(warehouse, "select store_name from warehouse.dim_magasin where store_code like 'S10%%' "
                               "order by store_code") == [(t,) for t in tricky]
    assert rf.query(warehouse, "select product_name, brand from warehouse.dim_produit where product_code like 'P10%%' "
                               "order by product_code") == [(t, t) for t in tricky]
    quarantined = rf.assert_quarantined(warehouse, sales_path, {6: "unknown customer_code"})
    assert INJECTION in quarantined[6][1]
    with db.connection(warehouse) as conn:
        assert schema.existing_tables(conn) == tables_before
    assert rf.counts(warehouse) == {"dim_region": 2, "dim_magasin": 6, "dim_produit": 7, "dim_client": 3,
                                    "fact_ventes": 6, "fact_fidelite": 2}
    assert "ignoring unknown column(s)" in caplog.text
    rf.assert_reconciled(warehouse)
    rf.assert_data_tests_pass(warehouse)


# --- 25, 26: crashes and concurrency ----------------------------------------------------------

KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from datetime import date
    from pathlib import Path
    from psycopg import sql
    from etl_helpers.loading import facts, load
    from etl_helpers.settings import Settings

    def slow_copy(conn, table, columns, data, binary=False, freeze=False):
        # the rows trickle in, so the COPY stays open long enough to be killed in
        data = data if isinstance(data, bytes) else b"".join(data)
        options = ", ".join(["format binary" if binary else "format csv"] + (["freeze"] if freeze else []))
        statement = sql.SQL("copy {} ({}) from stdin ({})").format(
            table, sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(options))
        with conn.cursor().copy(statement) as copy:
            for start in range(0, len(data), 4096):
                time.sleep(0.01)
                copy.write(data[start:start + 4096])

    facts.copy_into = slow_copy
    settings = Settings(database_url=sys.argv[1], workdir=Path(sys.argv[2]))
    load.load_raw_folder(settings, Path(sys.argv[3]), date.fromisoformat(sys.argv[4]), progress=False)
    print("finished")
""")


def big_sales(folder: rf.RawFolder, day: date, n: int, keep: list[dict]) -> Path:
    lines = [folder.line(r) for r in keep]
    lines += [f"K{day:%m%d}-{i:07d},1,{day.isoformat()}T10:00:00+01:00,S001,C001,P001,1,1.20,0,1.20" for i in range(n)]
    return folder.write_text("sales", day, folder.header("sales") + "\n" + "\n".join(lines) + "\n")


def test_25_sigkill_in_the_middle_of_a_fact_copy_leaves_the_database_as_before(warehouse, loaded, tmp_path):
    """A changed sales file (its old rows deleted in the same transaction) and a new one are
    being COPYed when the process is killed: old rows, ledger and quarantine are exactly as
    before; the rerun then loads both files completely."""
    before = rf.snapshot(warehouse)
    replaced = big_sales(loaded, DAY2, 10_000, rf.SALES[DAY2])
    added = big_sales(loaded, date(2026, 3, 4), 1_000, [])
    child = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, warehouse.database_url, str(tmp_path),
                              str(loaded.root), RUN_DATE.isoformat()], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with db.connect(warehouse, autocommit=True) as watcher:
            deadline = time.monotonic() + 30
            copying = None
            while copying is None and time.monotonic() < deadline and child.poll() is None:
                copying = watcher.execute(
                    "select p.pid from pg_stat_progress_copy p join pg_stat_activity a using (pid) "
                    "where p.datname = current_database() and p.relid::regclass::text like 'warehouse.fact_ventes%%' "
                    "and p.tuples_processed > 0 and a.query ilike 'copy%%'").fetchone()
                time.sleep(0.01)
            assert copying, f"the load never reached the COPY: {child.communicate()[1].decode()[-2000:]}"
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
            assert child.returncode == -signal.SIGKILL
            while watcher.execute("select 1 from pg_stat_activity where pid = %s", copying).fetchone():
                assert time.monotonic() < deadline + 30, "the killed load's backend never ended"
                time.sleep(0.02)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert rf.snapshot(warehouse) == before

    results = rf.load(warehouse, loaded)

    statuses = {r.path: r.status for r in results}
    assert statuses[str(replaced)] == "replaced" and statuses[str(added)] == "loaded"
    assert rf.counts(warehouse)["fact_ventes"] == 3 + 2 + 10_000 + 1_000
    rf.assert_reconciled(warehouse)
    rf.assert_data_tests_pass(warehouse)


def test_26_a_second_load_waits_on_the_advisory_lock(warehouse, folder):
    failures: list[BaseException] = []

    def run() -> None:
        try:
            rf.load(warehouse, folder)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    with db.connect(warehouse) as holder:
        holder.execute("select pg_advisory_xact_lock(%s)", (LOAD_LOCK_KEY,))
        loader = threading.Thread(target=run)
        loader.start()
        deadline = time.monotonic() + 20
        while not holder.execute(
                "select 1 from pg_locks where locktype = 'advisory' and not granted and objid = %s "
                "and database = (select oid from pg_database where datname = current_database())",
                (LOAD_LOCK_KEY,)).fetchone():
            assert time.monotonic() < deadline, "the load did not wait for the lock"
            time.sleep(0.01)
        assert rf.query(warehouse, "select count(*) from etl.loaded_files") == [(0,)]
        holder.commit()                                                         # releases the lock
    loader.join(timeout=30)

    assert not loader.is_alive() and not failures
    assert rf.counts(warehouse)["fact_ventes"] == 5
    rf.assert_reconciled(warehouse)


def test_26_two_loads_at_once_write_once(warehouse, folder, tmp_path):
    big_sales(folder, date(2026, 3, 4), 5_000, [])
    barrier = threading.Barrier(2)
    outcomes: list = [None, None]

    def run(slot: int) -> None:
        barrier.wait()
        try:
            outcomes[slot] = rf.load(warehouse, folder)
        except BaseException as error:  # noqa: BLE001
            outcomes[slot] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert all(isinstance(o, list) for o in outcomes), outcomes
    by_path: dict[str, list[str]] = {}
    for results in outcomes:
        for r in results:
            by_path.setdefault(r.path, []).append(r.status)
    assert len(by_path) == 8
    assert all(sorted(s) == ["loaded", "unchanged"] for s in by_path.values()), by_path   # one writer per file
    assert rf.scalar(warehouse, "select count(*) from etl.loaded_files") == 8
    assert rf.counts(warehouse) == {"dim_region": 2, "dim_magasin": 2, "dim_produit": 3, "dim_client": 3,
                                    "fact_ventes": 5 + 5_000, "fact_fidelite": 2}
    rf.assert_reconciled(warehouse)
    rf.assert_data_tests_pass(warehouse)                                        # no duplicate keys


# --- 30: store history ----------------------------------------------------------------------

MOVED = date(2026, 6, 1)


def sales_by_region(settings) -> dict[str, str]:
    return dict(rf.query(settings, """
        select f.ticket_id, r.region_code
        from warehouse.fact_ventes f
        join warehouse.dim_magasin m using (store_id)
        join warehouse.dim_region r using (region_id)
        where m.store_code = 'S001'"""))


def move_store(folder: rf.RawFolder) -> None:
    stores = [dict(rf.STORES[0], region_code="ARA", city="Lyon"), rf.STORES[1]]
    folder.write_rows("stores", MOVED, stores)
    folder.write_rows("sales", date(2026, 6, 15), [sale("T0615", 1, "2026-06-15T10:00:00+02:00", amount="1.20")])
    folder.write_rows("loyalty", date(2026, 6, 15), [event("E0615", "2026-06-15T10:01:00+02:00")])


def assert_store_history(settings) -> None:
    versions = rf.query(settings, """
        select r.region_code, m.valid_from, m.valid_to, m.is_current
        from warehouse.dim_magasin m join warehouse.dim_region r using (region_id)
        where m.store_code = 'S001' order by m.valid_from""")
    assert versions == [("IDF", date(1900, 1, 1), MOVED, False), ("ARA", MOVED, None, True)]
    assert sales_by_region(settings) == {"T0001": "IDF", "T0615": "ARA"}       # past sales keep the old region
    loyalty = dict(rf.query(settings, """
        select f.event_id, r.region_code from warehouse.fact_fidelite f
        join warehouse.dim_magasin m using (store_id) join warehouse.dim_region r using (region_id)
        where m.store_code = 'S001'"""))
    assert loyalty == {"E0001": "IDF", "E0615": "ARA"}
    rf.assert_data_tests_pass(settings)


def test_30_store_moving_region_keeps_history_in_one_load(warehouse, folder):
    move_store(folder)

    rf.load(warehouse, folder)

    assert_store_history(warehouse)
    rf.assert_reconciled(warehouse)


def test_30_store_moving_region_in_a_late_snapshot_repoints_later_facts(warehouse, folder):
    """The snapshot dated 1 June arrives after sales of 15 June were loaded with the old version:
    those move to the new version, earlier ones stay."""
    move_store(folder)
    snapshot = folder.path("stores", MOVED)
    held_back = snapshot.with_name(".held_back")
    snapshot.rename(held_back)
    rf.load(warehouse, folder)
    assert sales_by_region(warehouse) == {"T0001": "IDF", "T0615": "IDF"}
    held_back.rename(snapshot)

    rf.load(warehouse, folder)

    assert_store_history(warehouse)
    rf.assert_reconciled(warehouse)


# --- data tests: the days loaded since their last passing run ---------------------------------

def test_data_tests_check_the_days_loaded_since_their_last_passing_run(warehouse, loaded):
    day3 = date(2026, 3, 4)
    with db.connection(warehouse) as conn:
        calendar.build_dim_temps(conn, rf.REF_DAY, RUN_DATE)
        assert set(run_data_tests(conn)["dates"]) == {"all"}                    # the first run: every date
    loaded.write_rows("sales", day3, [sale("T0005", 1, "2026-03-04T09:00:00+01:00", amount="1.20")])
    rf.load(warehouse, loaded)
    with db.connection(warehouse) as conn:
        conn.execute("update warehouse.fact_ventes set product_id = -1 where sale_date = %s", (DAY1,))
        results = run_data_tests(conn)                                          # an old day is not re-read
        assert set(results["dates"]) == {"2026-03-04 .. 2026-03-04"} and results["passed"].all()
        conn.rollback()


def test_data_tests_fail_on_a_bad_row_of_a_new_day_and_record_no_pass(warehouse, loaded):
    day3 = date(2026, 3, 4)
    with db.connection(warehouse) as conn:
        calendar.build_dim_temps(conn, rf.REF_DAY, RUN_DATE)
        run_data_tests(conn)
    loaded.write_rows("sales", day3, [sale("T0005", 1, "2026-03-04T09:00:00+01:00", amount="1.20")])
    rf.load(warehouse, loaded)
    with db.connection(warehouse) as conn:
        runs = rf.scalar(warehouse, "select count(*) from etl.data_test_runs")
        conn.execute("update warehouse.fact_ventes set product_id = -1 where sale_date = %s", (day3,))
        with pytest.raises(DataTestFailure, match="product joins dim_produit"):
            run_data_tests(conn)
        assert conn.execute("select count(*) from etl.data_test_runs").fetchone()[0] == runs
        conn.rollback()


def test_a_dimension_snapshot_widens_the_data_tests_to_every_date(warehouse, loaded):
    with db.connection(warehouse) as conn:
        calendar.build_dim_temps(conn, rf.REF_DAY, RUN_DATE)
        run_data_tests(conn)
    loaded.write_rows("products", date(2026, 3, 4), rf.PRODUCTS)
    rf.load(warehouse, loaded)
    with db.connection(warehouse) as conn:
        conn.execute("update warehouse.fact_ventes set product_id = -1 where sale_date = %s", (DAY1,))
        with pytest.raises(DataTestFailure, match="product joins dim_produit"):
            run_data_tests(conn)
        conn.rollback()


# --- statistics after a load -----------------------------------------------------------------

def test_statistics_cover_what_a_load_wrote(warehouse, loaded):
    july = [date(2026, 7, 15), date(2026, 7, 16)]
    rows = {day: [sale(f"J{day:%d}", 1, f"{day}T09:00:00+02:00", amount="1.20")] for day in july}
    loaded.write_rows("sales", july[0], rows[july[0]])
    with db.connection(warehouse) as conn:                                      # a new month: the whole table
        assert analyze_loaded(conn, rf.load(warehouse, loaded)) == ["fact_ventes"]
    loaded.write_rows("sales", july[1], rows[july[1]])
    with db.connection(warehouse) as conn:                                      # a month known: its partition
        assert analyze_loaded(conn, rf.load(warehouse, loaded)) == ["fact_ventes_2026_07"]
        assert conn.execute("select reltuples from pg_class where relname = 'fact_ventes_2026_07'").fetchone()[0] == 2
        assert analyze_loaded(conn, rf.load(warehouse, loaded)) == []                  # nothing new
