"""The loading cases of BAD_INPUTS.md's second catalogue (32-53): the behaviour and its invariant.

Same letters and probes as ``test_bad_inputs.py`` (cases 1-31); numbers in test names are the
cases'. "Same as fresh": the warehouse equals a fresh database loaded from the same raw folder
in one run (``fresh.assert_same_warehouse``).
"""

from __future__ import annotations

import errno
import shutil
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

import rawfolder as rf
from etl_helpers import calendar, db
from etl_helpers.data_tests import DataTestFailure, run_data_tests
from etl_helpers.loading import batches
from etl_helpers.loading import load as loader
from etl_helpers.loading.reader import FileRejected
from etl_helpers.settings import Settings
from etl_helpers.sources import SourceOptions
from etl_helpers.warehouse import build_warehouse, create_views
from fresh import assert_same_marts, assert_same_warehouse, fresh_database
from rawfolder import DAY1, REF_DAY, sale

JUNE = date(2026, 6, 1)
MARCH = date(2026, 3, 1)
NOVEMBER = date(2026, 11, 2)


@pytest.fixture
def fresh(server_url, tmp_path):
    """Factory: a fresh database loaded from ``folder`` in one run; its settings."""
    made = []

    def load(folder: rf.RawFolder) -> Settings:
        context = fresh_database(server_url)
        url = context.__enter__()
        made.append(context)
        settings = Settings(database_url=url, workdir=tmp_path / f"fresh-{len(made)}")
        rf.load(settings, folder)
        return settings

    yield load
    for context in made:
        context.__exit__(None, None, None)


def with_marts(settings: Settings) -> Settings:
    """The views created and the aggregates refreshed, as the pipeline's 30_views step does."""
    with db.connection(settings) as conn:
        calendar.build_dim_temps(conn, REF_DAY, rf.RUN_DATE)
    create_views(settings)
    return settings


def stores(**changes: dict) -> list[dict]:
    """The folder's two stores, with ``changes`` by store code."""
    return [dict(row, **changes.get(row["store_code"], {})) for row in rf.STORES]


def region_of_sales(settings: Settings) -> dict[str, str]:
    """ticket -> region of the store version its sale points to."""
    return dict(rf.query(settings, """
        select f.ticket_id, r.region_code from warehouse.fact_ventes f
        join warehouse.dim_magasin m using (store_id) join warehouse.dim_region r on r.region_id = m.region_id"""))


def store_versions(settings: Settings, code: str) -> list[tuple]:
    return rf.query(settings, "select store_id, city, banner, valid_from, valid_to, is_current "
                              "from warehouse.dim_magasin where store_code = %s order by valid_from", (code,))


# --- 39, 40: store history, whatever the order snapshots arrive in -----------------------------

def test_39_an_earlier_store_snapshot_arriving_late_gives_the_same_warehouse_as_fresh(warehouse, tmp_path, fresh):
    """Snapshots of 1 January and 1 June are loaded, with sales in March and November; the
    snapshot of 1 March (S001 moved to ARA, back in IDF in June) arrives last."""
    folder = rf.build(tmp_path / "raw")
    folder.write_rows("stores", JUNE, stores(S002={"banner": "hyper", "store_name": "Hyper Lyon Part-Dieu"}))
    folder.write_rows("sales", NOVEMBER, [sale("T1101", 1, "2026-11-02T11:00:00+01:00", "S001"),
                                          sale("T1102", 1, "2026-11-02T12:00:00+01:00", "S002")])
    rf.load(warehouse, folder)
    with_marts(warehouse)
    s002_before = store_versions(warehouse, "S002")

    folder.write_rows("stores", MARCH, stores(S001={"region_code": "ARA"}))
    rf.load(warehouse, folder)

    fresh_load = fresh(folder)
    assert_same_warehouse(warehouse, fresh_load)
    assert_same_marts(with_marts(warehouse), with_marts(fresh_load))
    regions = region_of_sales(warehouse)
    assert regions["T0001"] == "ARA" and regions["T1101"] == "IDF"      # 2 March in ARA, November back in IDF
    assert rf.query(warehouse, "select r.region_code from warehouse.dim_magasin m join warehouse.dim_region r "
                               "using (region_id) where m.store_code = 'S001' and m.is_current") == [("IDF",)]
    assert store_versions(warehouse, "S002") == s002_before              # its current version kept as it was
    rf.assert_reconciled(warehouse)
    rf.assert_data_tests_pass(warehouse)


def test_40_a_corrected_old_store_snapshot_gives_the_same_warehouse_as_fresh(warehouse, tmp_path, fresh):
    """The snapshot of 1 January spelled S001's city wrong, June's spells it right; S002 changed
    banner in June. The January file is corrected: S001 has one version, S002 is untouched."""
    folder = rf.build(tmp_path / "raw")
    folder.write_rows("stores", REF_DAY, stores(S001={"city": "Evry"}))
    folder.write_rows("stores", JUNE, stores(S002={"banner": "hyper", "store_name": "Hyper Lyon Part-Dieu"}))
    folder.write_rows("sales", NOVEMBER, [sale("T1101", 1, "2026-11-02T11:00:00+01:00", "S001"),
                                          sale("T1102", 1, "2026-11-02T12:00:00+01:00", "S002")])
    rf.load(warehouse, folder)
    with_marts(warehouse)
    assert [v[1] for v in store_versions(warehouse, "S001")] == ["Evry", "Évry"]
    s002_before = store_versions(warehouse, "S002")

    folder.write_rows("stores", REF_DAY, stores())
    rf.load(warehouse, folder)

    fresh_load = fresh(folder)
    assert_same_warehouse(warehouse, fresh_load)
    assert_same_marts(with_marts(warehouse), with_marts(fresh_load))
    assert [(city, valid_from, current) for _, city, _, valid_from, _, current in store_versions(warehouse, "S001")] \
        == [("Évry", date(1900, 1, 1), True)]
    assert store_versions(warehouse, "S002") == s002_before              # ids, banners and dates untouched
    rf.assert_reconciled(warehouse)
    rf.assert_data_tests_pass(warehouse)


def test_40_a_corrected_product_snapshot_older_than_the_latest_changes_nothing_the_latest_gives(
        warehouse, tmp_path, fresh):
    """Type 1 dimensions: the latest snapshot of each code wins, whatever arrives last."""
    folder = rf.build(tmp_path / "raw")
    later = [dict(row, list_price="9.99") if row["product_code"] == "P001" else row for row in rf.PRODUCTS]
    folder.write_rows("products", JUNE, later)
    rf.load(warehouse, folder)

    folder.write_rows("products", REF_DAY, [dict(row, product_name=row["product_name"] + " (corrigé)")
                                            for row in rf.PRODUCTS])
    rf.load(warehouse, folder)

    assert_same_warehouse(warehouse, fresh(folder))
    assert rf.scalar(warehouse, "select product_name from warehouse.dim_produit where product_code = 'P001'") \
        == "Baguette tradition"


# --- 43: the ledger knows files by their place in the raw layout ------------------------------

def test_43_a_moved_raw_folder_then_a_late_correction_replaces_its_rows(warehouse, tmp_path, fresh):
    folder = rf.build(tmp_path / "raw")
    rf.load(warehouse, folder)
    moved = replace(folder, root=tmp_path / "elsewhere" / "raw")
    moved.root.parent.mkdir()
    shutil.move(folder.root, moved.root)
    corrected = [dict(rf.SALES[DAY1][0], quantity="3", amount="3.60"), *rf.SALES[DAY1][1:]]
    path = moved.write_rows("sales", DAY1, corrected)

    results = rf.load(warehouse, moved)

    statuses = {Path(r.path).name: r.status for r in results}
    assert statuses.pop(path.name) == "replaced"
    assert set(statuses.values()) == {"unchanged"}
    assert rf.rejected(warehouse, path) == {}                            # nothing "already loaded"
    assert rf.scalar(warehouse, "select sum(amount) from warehouse.fact_ventes where sale_date = %s", (DAY1,)) \
        == rf.control_total(corrected)
    assert rf.ledger_row(warehouse, path)["loaded"] == len(corrected)
    assert_same_warehouse(warehouse, fresh(moved))
    rf.assert_reconciled(warehouse)


# --- 44: every fact within its store's open dates ----------------------------------------------

def test_44_sales_and_events_outside_their_store_open_dates_are_quarantined(warehouse, tmp_path):
    """S001 opened on 2010-05-01 (the folder's snapshot); S002 closes for good on 2 March, its
    last trading day (the contract's optional closed_on)."""
    folder = rf.build(tmp_path / "raw")
    folder.write_rows("stores", REF_DAY, stores(S002={"closed_on": "2026-03-02"}))
    early = folder.write_rows("sales", date(2009, 6, 1), [sale("T0900", 1, "2009-06-01T10:00:00+02:00", "S001")])
    late = folder.path("sales", date(2026, 3, 3))   # T0003 at S002 on 3 March: after its last day
    events = folder.write_rows("loyalty", date(2026, 3, 3), [rf.event("E0301", "2026-03-03T10:00:00+01:00",
                                                                    store_code="S002")])

    rf.load(warehouse, folder)

    rf.assert_quarantined(warehouse, early, {2: "before its store opened (the store's opened_on)"})
    rf.assert_quarantined(warehouse, late, {2: "after its store closed", 3: "after its store closed"})
    rf.assert_quarantined(warehouse, events, {2: "after its store closed"})
    outside = rf.scalar(warehouse, """
        select count(*) from warehouse.fact_ventes f join warehouse.dim_magasin m using (store_id)
        where f.sale_date < m.opened_on or f.sale_date > m.closed_on""")
    assert outside == 0
    assert rf.query(warehouse, "select ticket_id from warehouse.fact_ventes where store_id in "
                               "(select store_id from warehouse.dim_magasin where store_code = 'S002')") == [("T0002",)]
    assert rf.scalar(warehouse, "select closed_on from warehouse.dim_magasin where store_code = 'S002'") \
        == date(2026, 3, 2)
    rf.assert_reconciled(warehouse)
    rf.assert_data_tests_pass(warehouse)


# --- 36: a big file is cut into batches ------------------------------------------------------------

def test_36_a_file_bigger_than_a_batch_is_typed_and_written_in_bounded_batches(warehouse, tmp_path, monkeypatch):
    """Memory follows the batch, not the file: at a small scale (batches of 1,000 rows, blocks of
    16 kB), a file of 5,000 unique lines goes through in batches of at most a batch and a block."""
    monkeypatch.setattr(batches, "FIRST_BATCH_ROWS", 500)
    monkeypatch.setattr(batches, "TYPING_BATCH_ROWS", 1_000)
    monkeypatch.setattr(batches, "READ_BYTES", 16 * 1024)
    sizes: list[int] = []
    type_chunk = batches.type_chunk

    def counted(chunk, *args):
        sizes.append(chunk.num_rows)
        return type_chunk(chunk, *args)

    monkeypatch.setattr(batches, "type_chunk", counted)
    folder = rf.build(tmp_path / "raw", sales=False, loyalty=False)
    lines = [sale(f"T{n:05d}", 1, "2026-03-02T10:15:00+01:00") for n in range(5_000)]
    path = folder.write_rows("sales", DAY1, lines)
    block_rows = 16 * 1024 // len(folder.line(lines[0])) + 1

    rf.load(warehouse, folder, entities=["regions", "stores", "products", "customers"])
    sizes.clear()
    rf.load(warehouse, folder)

    assert sum(sizes) == 5_000
    assert len(sizes) >= 5
    assert sizes[0] <= 500 + block_rows and max(sizes) <= 1_000 + block_rows
    assert rf.ledger_row(warehouse, path)["loaded"] == 5_000
    rf.assert_reconciled(warehouse)


# --- 42: impossible offsets are the line's problem, never the file's ------------------------------

def test_42_offsets_beyond_14_hours_are_quarantined_and_mixed_offsets_are_accepted(warehouse, tmp_path):
    folder = rf.build(tmp_path / "raw", sales=False, loyalty=False)
    mixed = folder.write_rows("sales", DAY1, [
        sale("T0001", 1, "2026-03-02T10:15:00+01:00"),     # exact
        sale("T0002", 1, "2026-03-02T10:20:00"),           # Europe/Paris local time
        sale("T0003", 1, "2026-03-02T10:25:00+23:59"),     # no such offset
        sale("T0004", 1, "2026-03-02T10:30:00-14:30"),
        sale("T0005", 1, "2026-03-02T23:00:00+14:00"),     # the widest there is: Kiribati
    ])
    with_offsets = folder.write_rows("sales", rf.DAY2, [
        sale("T0006", 1, "2026-03-03T10:15:00+01:00"),
        sale("T0007", 1, "2026-03-03T10:15:00+2359"),      # every line has an offset: the fast path
    ])

    rf.load(warehouse, folder)

    rf.assert_quarantined(warehouse, mixed, {4: "UTC offset beyond ±14:00", 5: "UTC offset beyond ±14:00"})
    rf.assert_quarantined(warehouse, with_offsets, {3: "UTC offset beyond ±14:00"})
    assert dict(rf.query(warehouse, "select ticket_id, sold_at from warehouse.fact_ventes")) == {
        "T0001": datetime(2026, 3, 2, 9, 15, tzinfo=timezone.utc),
        "T0002": datetime(2026, 3, 2, 9, 20, tzinfo=timezone.utc),
        "T0005": datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc),
        "T0006": datetime(2026, 3, 3, 9, 15, tzinfo=timezone.utc),
    }
    rf.assert_reconciled(warehouse)


# --- 41: how old an event its file may carry ------------------------------------------------------

def test_41_an_event_years_before_its_file_is_quarantined_without_a_partition(warehouse, tmp_path):
    folder = rf.build(tmp_path / "raw")
    november = folder.write_rows("sales", NOVEMBER, [
        sale("T1101", 1, "2026-11-02T10:00:00+01:00"),
        sale("T1102", 1, "1999-01-01T10:00:00+01:00"),      # years before: a typo, never a late line
        sale("T1103", 1, "2025-11-01T10:00:00+01:00"),      # 366 days before: a late line still
    ])
    events = folder.write_rows("loyalty", NOVEMBER, [rf.event("E1101", "2025-10-31T10:00:00+01:00")])

    build_warehouse(warehouse, rf.RUN_DATE, "canonical", SourceOptions(raw=folder.root))  # data tests included

    reason = "dated more than 366 days before its file's business date (format.json max_event_age_days)"
    rf.assert_quarantined(warehouse, november, {3: reason})
    rf.assert_quarantined(warehouse, events, {2: reason})
    assert rf.query(warehouse, "select ticket_id from warehouse.fact_ventes where file_id = %s order by 1",
                    (rf.ledger_row(warehouse, november)["file_id"],)) == [("T1101",), ("T1103",)]
    assert rf.scalar(warehouse, "select count(*) from pg_class where relname like 'fact_%%_1999_%%'") == 0
    rf.assert_reconciled(warehouse)
    build_warehouse(warehouse, rf.RUN_DATE, "canonical", SourceOptions(raw=folder.root))  # and the next run


def test_41_the_oldest_event_a_file_may_carry_is_set_in_format_json(warehouse, tmp_path):
    folder = rf.build(tmp_path / "raw", sales=False, loyalty=False)
    folder.declare(max_event_age_days=20_000)
    path = folder.write_rows("sales", NOVEMBER, [sale("T1102", 1, "1999-01-01T10:00:00+01:00", "S002")])

    rf.load(warehouse, folder)

    assert rf.ledger_row(warehouse, path)["loaded"] == 1


# --- 52: names and settings the loader cannot read name their file -------------------------------

@pytest.mark.parametrize("name", ["sales_2026-13-45.csv", "sales_2026-02-30.csv"])
def test_52_a_file_named_with_an_impossible_date_is_an_error_naming_it(warehouse, tmp_path, name):
    folder = rf.build(tmp_path / "raw")
    bad = folder.root / "sales" / name
    bad.write_text(folder.text("sales", [sale()]), encoding="utf-8")

    with pytest.raises(ValueError) as raised:
        rf.load(warehouse, folder)

    assert str(bad) in str(raised.value)
    assert rf.counts(warehouse)["fact_ventes"] == 0


@pytest.mark.parametrize("content, reason", [
    ("{encoding: utf-8", "not valid JSON"),
    ('{"encoding": "utf-9"}', "unknown encoding 'utf-9'"),
    ('["utf-8"]', "expected a JSON object"),
    ('{"max_reject_rate": 2}', "max_reject_rate must be a rate in [0, 1]"),
])
def test_52_a_broken_format_json_is_an_error_naming_it(warehouse, tmp_path, content, reason):
    folder = rf.build(tmp_path / "raw")
    (folder.root / "format.json").write_text(content, encoding="utf-8")

    with pytest.raises(ValueError) as raised:
        rf.load(warehouse, folder)

    assert str(folder.root / "format.json") in str(raised.value) and reason in str(raised.value)
    assert rf.counts(warehouse) == dict.fromkeys(rf.TABLES, 0)


# --- 37: a file nearly every line of which is rejected is refused whole ----------------------------

def test_37_a_file_rejecting_most_of_its_lines_is_refused_with_one_reason(warehouse, tmp_path):
    folder = rf.build(tmp_path / "raw")
    rf.load(warehouse, folder)
    before = rf.snapshot(warehouse)
    repeated = folder.write_text("sales", date(2026, 3, 4), folder.header("sales") + "\n"
                                 + (folder.line(sale("T0400", 1, "2026-03-04T10:00:00+01:00", product_code="P999"))
                                    + "\n") * 2_000
                                 + folder.line(sale("T0401", 1, "2026-03-04T10:00:00+01:00")) + "\n")

    with pytest.raises(FileRejected) as raised:
        rf.load(warehouse, folder)

    message = str(raised.value)
    assert str(repeated) in message
    assert "2000 of its 2001 lines rejected, more than max_reject_rate = 0.5 (format.json)" in message
    assert "line 2: unknown product_code" in message
    assert rf.snapshot(warehouse) == before                       # nothing of that file, nor its rejects
    assert not rf.rejects_file(warehouse, repeated)


def test_37_the_reject_rate_threshold_is_raised_in_format_json(warehouse, tmp_path):
    folder = rf.build(tmp_path / "raw", loyalty=False)
    folder.declare(max_reject_rate=1)
    repeated = folder.write_text("sales", date(2026, 3, 4), folder.header("sales") + "\n" + (
        folder.line(sale("T0400", 1, "2026-03-04T10:00:00+01:00", product_code="P999")) + "\n") * 200)

    rf.load(warehouse, folder)

    assert rf.ledger_row(warehouse, repeated) == {**rf.ledger_row(warehouse, repeated), "read": 200, "loaded": 0,
                                                  "rejected": 200}
    rf.assert_reconciled(warehouse)


def test_37_one_valid_line_repeated_is_refused_whole_not_quarantined_copy_by_copy(warehouse, tmp_path):
    folder = rf.build(tmp_path / "raw")
    rf.load(warehouse, folder)
    before = rf.snapshot(warehouse)
    repeated = folder.write_text("sales", date(2026, 3, 4), folder.header("sales") + "\n" + (
        folder.line(sale("T0400", 1, "2026-03-04T10:00:00+01:00")) + "\n") * 2_000)

    with pytest.raises(FileRejected) as raised:
        rf.load(warehouse, folder)

    assert str(repeated) in str(raised.value)
    assert "1999 of its 2000 lines rejected" in str(raised.value)
    assert "line 3: duplicate ticket line (first on line 2)" in str(raised.value)
    assert rf.snapshot(warehouse) == before


# --- 38: a reference snapshot's repeated key or unknown region is a quarantined line ---------------

def test_38_reference_rows_with_a_repeated_key_or_unknown_region_are_quarantined_with_their_text(warehouse, tmp_path):
    folder = rf.build(tmp_path / "raw")
    repeated_store = dict(rf.STORES[0], store_name="Hyper Évry bis")
    unknown_region = dict(rf.STORES[1], store_code="S003", region_code="XXX")
    stores_path = folder.write_rows("stores", REF_DAY, [*rf.STORES, repeated_store, unknown_region])
    repeated_customer = dict(rf.CUSTOMERS[0], tier="silver")
    customers_path = folder.write_rows("customers", REF_DAY, [*rf.CUSTOMERS, repeated_customer,
                                                              dict(rf.CUSTOMERS[1], customer_code="C004",
                                                                   region_code="XXX")])

    rf.load(warehouse, folder)

    stores = rf.assert_quarantined(warehouse, stores_path, {4: "duplicate store_code (first on line 2)",
                                                            5: "unknown region_code"})
    customers = rf.assert_quarantined(warehouse, customers_path, {5: "duplicate customer_code (first on line 2)",
                                                                  6: "unknown region_code"})
    assert stores[4][1] == folder.line(repeated_store, entity="stores")
    assert stores[5][1] == folder.line(unknown_region, entity="stores")
    assert customers[5][1] == folder.line(repeated_customer, entity="customers")
    assert rf.query(warehouse, "select store_name from warehouse.dim_magasin where store_code = 'S001'") \
        == [("Hyper Évry",)]
    assert rf.counts(warehouse)["fact_ventes"] == 5                  # the run went on
    rf.assert_reconciled(warehouse)
    rf.assert_data_tests_pass(warehouse)


# --- 35: a full disk while writing the rejects file ------------------------------------------------

REFERENCE = ["regions", "stores", "products", "customers"]


def test_35_disk_full_while_writing_rejects_leaves_no_truncated_file_and_the_rerun_writes_it(
        warehouse, tmp_path, monkeypatch):
    folder = rf.build(tmp_path / "raw", loyalty=False)
    bad = sale("T0009", 1, "2026-03-02T11:00:00+01:00", unit_price="x")
    path = folder.write_rows("sales", DAY1, [*rf.SALES[DAY1], bad])
    rf.load(warehouse, folder, entities=REFERENCE)
    before = rf.snapshot(warehouse)
    rejects_dir = warehouse.rejects_dir(rf.RUN_DATE.isoformat())
    copy_out = loader._copy_out

    def disk_full(conn, query, target):
        copy_out(conn, query, target)           # the rows reach the temporary file, then the disk is full
        with target.open("r+b") as out:
            out.truncate(target.stat().st_size // 2)
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(loader, "_copy_out", disk_full)
    with pytest.raises(OSError, match="No space left"):
        rf.load(warehouse, folder)

    assert not rejects_dir.exists() or list(rejects_dir.iterdir()) == []   # no truncated file, no leftover
    assert rf.snapshot(warehouse) == before                              # the load is undone, to be done again

    monkeypatch.setattr(loader, "_copy_out", copy_out)                   # space freed
    rf.load(warehouse, folder)

    rf.assert_quarantined(warehouse, path, {5: "invalid unit_price"})    # in the table and in the rejects file
    assert sorted(p.name for p in rejects_dir.iterdir()) == [path.name]
    rf.assert_reconciled(warehouse)


def test_44_the_data_tests_find_a_fact_outside_its_store_open_dates(warehouse, tmp_path):
    """The invariant is a data test too (``sql/tests/``): a fact written around the loader is found."""
    folder = rf.build(tmp_path / "raw")
    rf.load(warehouse, folder)
    rf.assert_data_tests_pass(warehouse)
    with db.connection(warehouse) as conn:
        conn.execute("update warehouse.dim_magasin set opened_on = '2026-03-03' where store_code = 'S001'")
        conn.execute("delete from etl.data_test_runs")  # every date checked again
        with pytest.raises(DataTestFailure, match=r"facts: within their store's open dates \(3 rows\)"):
            run_data_tests(conn)


# --- 45: formulas in rejected lines -----------------------------------------------------------------

def test_45_rejects_csv_neutralises_formulas(warehouse, tmp_path):
    """A rejected line whose text starts with = + - @ is kept verbatim in etl.rejected_rows and
    neutralised (a leading quote) in its rejects CSV, exactly as in the exported CSVs."""
    folder = rf.build(tmp_path / "raw")
    formula = folder.line(sale("=1+1", 1, unit_price="x"))       # a formula in the first field, a bad price
    lines = [formula, "-2+3", "@SUM(A1)", "+33 6 12 34 56", "plain text"]  # one field: the wrong field count
    path = folder.write_text("sales", DAY1, folder.text("sales", rf.SALES[DAY1]) + "\n".join(lines) + "\n")
    rf.load(warehouse, folder)

    first = len(rf.SALES[DAY1]) + 2                               # the header is line 1
    in_table = rf.rejected(warehouse, path)
    assert [raw for _, raw in in_table.values()] == lines         # the database keeps the text verbatim
    in_file = rf.rejects_file(warehouse, path)
    assert [(int(r["line_number"]), r["raw_text"]) for r in in_file] == [
        (first, "'" + formula), (first + 1, "'-2+3"), (first + 2, "'@SUM(A1)"), (first + 3, "'+33 6 12 34 56"),
        (first + 4, "plain text")]
    assert [r["reason"] for r in in_file] == [reason for reason, _ in in_table.values()]
    assert in_table[first][0].startswith("invalid unit_price") and formula.startswith("=1+1,1,")
    assert [r["source_file"] for r in in_file] == [str(path)] * len(lines)
    rf.assert_quarantined(warehouse, path, {first: "invalid unit_price", **{first + k: "fields" for k in range(1, 5)}})
    rf.assert_reconciled(warehouse)
