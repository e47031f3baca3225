"""The one mart registry: parameters declared once (and the notebooks' literal defaults equal
them), tables and charts declared as data, the export folder of a notebook's run, the empty
window warning, and the bad inputs of the marts (BAD_INPUTS.md cases 45 and 51)."""

from __future__ import annotations

import ast
import io
import logging
from datetime import date

import pandas as pd
import papermill
import pyarrow.parquet as pq
import pytest

from etl_helpers import aggregates, charts, db, exports, marts, views
from etl_helpers.marts import rules
from etl_helpers.parameters import PARAMETERS
from etl_helpers.settings import PROJECT_ROOT

MART_NOTEBOOKS = {"40_fidelite_segmentation": marts.FIDELITE, "41_fidelite_affinity": marts.FIDELITE,
                  "50_vente_products": marts.VENTE, "51_vente_geo_time": marts.VENTE}
BOUNDARY = {"run_date", "export_dir", "currency"}  # converted or resolved by marts.open_run


def _declared(notebook: str) -> dict[str, object]:
    found = papermill.inspect_notebook(str(PROJECT_ROOT / "notebooks" / f"{notebook}.ipynb"))
    return {name: ast.literal_eval(p["default"]) for name, p in found.items()}


@pytest.mark.parametrize("notebook", MART_NOTEBOOKS)
def test_notebook_defaults_are_the_declared_defaults(notebook):
    mart = MART_NOTEBOOKS[notebook]
    declared = _declared(notebook)
    assert BOUNDARY <= set(declared)
    assert declared["export_dir"] == "" and declared["currency"] == charts.DEFAULT_CURRENCY
    date.fromisoformat(declared["run_date"])
    params = {k: v for k, v in declared.items() if k not in BOUNDARY}
    assert set(params) <= set(PARAMETERS[mart]), set(params) - set(PARAMETERS[mart])
    for name, value in params.items():
        assert value == PARAMETERS[mart][name].default, name
        assert type(value) is type(PARAMETERS[mart][name].default), name


def test_every_mart_parameter_is_a_parameter_of_a_notebook():
    for mart, declared in PARAMETERS.items():
        in_notebooks = set().union(*(_declared(n) for n, m in MART_NOTEBOOKS.items() if m == mart))
        assert set(declared) <= in_notebooks, mart


def test_the_registry_declares_each_table_once_with_its_sql_and_parameters():
    for name, table in marts.TABLES.items():
        assert table.mart in marts.PARAMETERS and table.sort_by, name
        assert (table.sql is None) != (table.derive is None), name
        if table.sql:
            text = (PROJECT_ROOT / "sql" / "marts" / f"{table.sql}.sql").read_text(encoding="utf-8")
            for param in table.params:
                assert f"%({param})s" in text, (name, param)
        assert set(table.params) <= set(marts.PARAMETERS[table.mart]), name
        assert set(table.reads) <= {a.name for a in aggregates.AGGREGATES}, name
        assert set(table.inputs) <= set(marts.TABLES), name
    for name, chart in marts.CHARTS.items():
        assert marts.TABLES[chart.table].mart == chart.mart, name


def test_parameters_are_checked_against_their_bounds():
    assert marts.parameters(marts.VENTE, ("daily_days",)) == {"daily_days": 90}
    assert marts.parameters(marts.FIDELITE, ("min_support",), {"min_support": 0.5}) == {"min_support": 0.5}
    for name, value, message in (("daily_days", 0, r"daily_days must lie in \[1, "),
                                 ("daily_days", 2.5, "daily_days must be an integer"),
                                 ("min_support", 0, r"min_support must lie in \(0, 1\]"),
                                 ("max_len", 10, r"max_len must lie in \[2, 5\]"),
                                 ("min_confidence", float("nan"), "min_confidence must lie")):
        mart = marts.VENTE if name == "daily_days" else marts.FIDELITE
        with pytest.raises(ValueError, match=message):
            marts.parameters(mart, (name,), {name: value})
    with pytest.raises(TypeError, match="unknown parameter"):
        marts.parameters(marts.VENTE, ("daily_days",), {"days": 3})


def test_open_run_writes_to_the_scratch_folder_unless_given_one(warehouse, tmp_path):
    with pytest.raises(TypeError, match="min_suport"):
        marts.open_run(marts.FIDELITE, "2026-11-30", settings=warehouse, min_suport=0.1)
    scratch = marts.open_run(marts.VENTE, "2026-11-30", settings=warehouse)
    try:
        assert scratch.run_date == date(2026, 11, 30) and scratch.is_scratch
        assert scratch.directory == warehouse.exports_dir / "scratch" / marts.VENTE / "2026-11-30"
        assert "scratch folder" in scratch._repr_markdown_()
    finally:
        scratch.close()
    given = marts.open_run(marts.VENTE, "2026-11-30", settings=warehouse, export_dir=str(tmp_path / "staging"),
                           currency="USD", daily_days=7)
    try:
        assert given.directory == tmp_path / "staging" and not given.is_scratch
        assert "scratch" not in given._repr_markdown_() and "daily_days = 7" in given._repr_markdown_()
    finally:
        given.close()


def test_an_empty_window_is_a_visible_and_logged_warning(warehouse, tmp_path, caplog):
    with db.connect(warehouse, autocommit=True) as connection:
        views.create_views(connection)
        aggregates.refresh(connection)
    run = marts.open_run(marts.VENTE, "2026-11-30", settings=warehouse, export_dir=str(tmp_path))
    try:
        with caplog.at_level(logging.WARNING, logger="etl_helpers.charts"):
            frame = run.table("sales_daily")
        assert len(frame) == 90 and (frame["revenue"] == 0).all()
        assert any("sales_daily: no data in its window as of 2026-11-30" in r.getMessage()
                   and r.levelno == logging.WARNING for r in caplog.records)
        assert (tmp_path / "sales_daily.csv").exists()
    finally:
        run.close()
    shown = charts.warn("sales_daily: no data")._repr_html_()
    assert "Warning:" in shown and "sales_daily: no data" in shown


def test_45_exported_csv_neutralises_formulas_and_parquet_keeps_them(tmp_path):
    names = ["=HYPERLINK(\"http://x\")", "+33 6 12", "-2+3", "@SUM(A1)", "plain", "a=b", None]
    frame = pd.DataFrame({"key": range(len(names)), "name": names, "amount": [-1.5, 2, -3, 4, 5, 6, 7]})
    before = frame.copy()
    exports.write_table(frame, "names", tmp_path, sort_by=["key"])
    csv = pd.read_csv(tmp_path / "names.csv", keep_default_na=False)
    assert csv["name"].tolist() == ["'=HYPERLINK(\"http://x\")", "'+33 6 12", "'-2+3", "'@SUM(A1)", "plain", "a=b", ""]
    assert csv["amount"].tolist() == [-1.5, 2, -3, 4, 5, 6, 7]       # numbers are never changed
    parquet = pq.read_table(io.BytesIO((tmp_path / "names.parquet").read_bytes()))
    assert parquet.column("name").to_pylist() == names                 # verbatim
    assert exports.neutralise_formulas(frame)["name"].tolist()[:1] == ["'=HYPERLINK(\"http://x\")"]
    pd.testing.assert_frame_equal(frame, before)                       # the caller's frame untouched


def test_51_an_explosive_rule_search_fails_at_once_naming_the_bound(demo_warehouse):
    with pytest.raises(ValueError, match=r"max_len must lie in \[2, 5\]"):
        marts.open_run(marts.FIDELITE, "2026-11-30", settings=demo_warehouse, min_support=0.01, max_len=10)
    with pytest.raises(ValueError, match=r"min_support must lie in \(0, 1\]"):
        marts.open_run(marts.FIDELITE, "2026-11-30", settings=demo_warehouse, min_support=0)
    with db.connect(demo_warehouse, autocommit=True) as conn:
        with pytest.raises(ValueError, match="MAX_LEN = 5"):
            rules.count_basket_itemsets(conn, date(2026, 11, 30), min_support=0, max_len=10)
        with pytest.raises(ValueError, match="max_len must lie"):
            marts.compute(conn, "product_rules", date(2026, 11, 30), min_support=0.01, max_len=10)
        # the candidate bound: a tiny support over categories makes every combination a candidate
        bound = rules.MAX_CANDIDATES
        try:
            rules.MAX_CANDIDATES = 3
            with pytest.raises(ValueError, match="exceed MAX_CANDIDATES = 3"):
                rules.count_basket_itemsets(conn, date(2026, 11, 30), level="category", min_support=0.0001,
                                            max_len=4)
        finally:
            rules.MAX_CANDIDATES = bound
    with pytest.raises(ValueError, match="exceed MAX_CANDIDATES"):
        baskets = [[f"i{k}" for k in range(40)]] * 2
        rules.count_itemsets(baskets, 0.5, max_len=5)


def test_sql_window_months_is_the_python_rule(warehouse):
    """The marts' SQL split of a window into whole months and edge days (marts.window_months)
    and the Python one (marts.whole_months, which the rule search binds) agree on every case."""
    days = [date(2024, 1, 1), date(2024, 1, 31), date(2024, 2, 1), date(2024, 2, 28), date(2024, 2, 29),
            date(2024, 3, 1), date(2024, 3, 15), date(2024, 12, 31), date(2025, 1, 1), date(2025, 2, 28),
            date(2025, 11, 16), date(2025, 11, 30), date(2026, 11, 30), date(1, 1, 1)]
    pairs = [(a, b) for a in days for b in days if a <= b]
    with db.connect(warehouse, autocommit=True) as conn:
        views.create_views(conn)
        got = conn.execute(
            "select first_day, last_day, whole.months_start, whole.months_end "
            "from unnest(%s::date[], %s::date[]) as pairs (first_day, last_day), "
            "marts.window_months(first_day, last_day) as whole",
            ([a for a, _ in pairs], [b for _, b in pairs])).fetchall()
    assert len(got) == len(pairs)
    for first_day, last_day, start, end in got:
        assert (start, end) == marts.whole_months(first_day, last_day), (first_day, last_day)
