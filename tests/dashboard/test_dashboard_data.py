"""The dashboard's reading of the run layout: manifests (with or without currency and run
records), tables checked against the manifest, and CSV downloads safe in a spreadsheet."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import RUN_DATES
from dashboard import data, kpis, layout, ui

LATEST, EARLIER = RUN_DATES[-1], RUN_DATES[0]


def _manifest_path(exports: Path, run_date: str) -> Path:
    return exports / "pipeline" / run_date / "manifest.json"


def _rewrite(path: Path, change) -> None:
    manifest = json.loads(path.read_text())
    change(manifest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest))


def test_a_manifest_without_currency_is_in_euros_and_one_with_it_keeps_it(tmp_path):
    text = json.dumps({"run_date": LATEST, "status": "succeeded", "run_id": 7, "files": []})
    run = layout.parse_manifest(text, tmp_path / "manifest.json", published=True)
    assert (run.currency, run.run_id, run.published) == ("EUR", "7", True)
    dollars = layout.parse_manifest(json.dumps({"run_date": LATEST, "currency": "USD"}), tmp_path / "m.json", True)
    assert dollars.currency == "USD" and dollars.status == "unknown"
    assert ui.money(1234.5, "USD", 2) == "$1,234.50"
    assert ui.money(-1234.5, "EUR") == "-1\u202f234 €"


def test_without_run_records_the_history_is_the_published_runs(exports_copy):
    for run_date in RUN_DATES:
        shutil.rmtree(exports_copy / "pipeline" / run_date / "runs", ignore_errors=True)
    history = data.run_history(exports_copy)
    assert [(r.run_date, r.published) for r in history] == [(LATEST, True), (EARLIER, True)]


def test_run_records_are_the_history_and_the_published_run_is_what_the_picker_offers(exports_copy):
    published = _manifest_path(exports_copy, LATEST)
    record = exports_copy / "pipeline" / LATEST / "runs"
    shutil.rmtree(record, ignore_errors=True)  # only the two records made here
    _rewrite(published, lambda m: m.update(run_id="20261130T020000Z-bb22", currency="EUR"))
    published_text = published.read_text()
    (record / "20261130T010000Z-aa11").mkdir(parents=True)
    (record / "20261130T010000Z-aa11" / "manifest.json").write_text(published_text)
    _rewrite(record / "20261130T010000Z-aa11" / "manifest.json",
             lambda m: m.update(run_id="20261130T010000Z-aa11", status="failed",
                                started_at="2026-12-07T01:00:00+00:00"))
    (record / "20261130T020000Z-bb22").mkdir()
    (record / "20261130T020000Z-bb22" / "manifest.json").write_text(published_text)

    history = data.run_history(exports_copy)
    assert [(r.run_date, r.run_id, r.status, r.published) for r in history] == [
        (LATEST, "20261130T020000Z-bb22", "succeeded", True), (LATEST, "20261130T010000Z-aa11", "failed", False),
        (EARLIER, history[2].run_id, "succeeded", True)]
    assert [r.run_date for r in data.succeeded_runs(exports_copy)] == [LATEST, EARLIER]

    failed = history[1]  # its report is in its own folder, named relative to it or to the exports
    report = exports_copy / "fact_vente_mart" / LATEST / "51_vente_geo_time.html"
    (record / failed.run_id / "51_vente_geo_time.html").write_bytes(report.read_bytes())
    assert data.verified_report(exports_copy, failed, "51_vente_geo_time.html") == \
        (record / failed.run_id / "51_vente_geo_time.html").resolve()
    assert data.verified_report(exports_copy, failed, f"pipeline/{LATEST}/runs/{failed.run_id}/51_vente_geo_time.html")
    with pytest.raises(data.ExportMissing):
        data.verified_report(exports_copy, failed, "../../../../etc/passwd")


def test_a_date_whose_published_run_failed_is_not_offered(exports_copy):
    # the published manifest and the run's own record both say failed (the history reads the records)
    for path in [_manifest_path(exports_copy, EARLIER),
                 *(exports_copy / "pipeline" / EARLIER / "runs").glob("*/manifest.json")]:
        _rewrite(path, lambda m: m.update(status="failed"))
    assert [r.run_date for r in data.succeeded_runs(exports_copy)] == [LATEST]
    assert [r.status for r in data.run_history(exports_copy)] == ["succeeded", "failed"]


def test_tables_are_read_only_when_they_match_the_manifest(exports_copy):
    run = data.succeeded_runs(exports_copy)[0]
    frame = data.table(exports_copy, run, layout.SALES_MART, "sales_daily")
    assert frame.equals(pd.read_parquet(exports_copy / "fact_vente_mart" / LATEST / "sales_daily.parquet"))
    with pytest.raises(data.ExportMissing):
        data.table(exports_copy, run, layout.SALES_MART, "no_such_table")

    tampered = exports_copy / "fact_vente_mart" / LATEST / "sales_daily.parquet"
    tampered.write_bytes(tampered.read_bytes()[:-1] + b"\0")  # after it was read (and cached)
    with pytest.raises(data.ExportRefused, match="sha256"):
        data.table(exports_copy, run, layout.SALES_MART, "sales_daily")

    unlisted = layout.table_path(layout.SALES_MART, LATEST, "sales_by_weekday_hour")
    _rewrite(run.manifest_path, lambda m: m.update(files=[f for f in m["files"] if f["path"] != unlisted]))
    run = data.succeeded_runs(exports_copy)[0]
    with pytest.raises(data.ExportRefused, match="not listed"):
        data.table(exports_copy, run, layout.SALES_MART, "sales_by_weekday_hour")


def test_a_manifest_path_cannot_leave_the_exports_folder(tmp_path):
    assert layout.resolve(tmp_path, "../../etc/passwd") is None
    assert layout.resolve(tmp_path, "fact_vente_mart/x.parquet") == (tmp_path / "fact_vente_mart/x.parquet").resolve()


def test_csv_downloads_neutralise_formulas():
    frame = pd.DataFrame({"text": ["=1+1", "+33 6", "-cmd", "@SUM(A1)", "\tx", "plain", None],
                          "number": [-1.5, 2, 3, 4, 5, 6, 7]})
    lines = ui.csv_bytes(frame).decode().splitlines()
    assert lines == ["text,number", "'=1+1,-1.5", "'+33 6,2.0", "'-cmd,3.0", "'@SUM(A1),4.0", "'\tx,5.0",
                     "plain,6.0", ",7.0"]


def test_growth_is_undefined_without_a_base():
    assert kpis.growth_pct(110.0, 100.0) == 10.0
    assert kpis.growth_pct(5.0, 0.0) is None and kpis.growth_pct(None, 3.0) is None


def test_rejected_rows_are_counted_by_reason_from_the_rejects_files(exports_copy):
    folder = exports_copy.parent / "data" / "processed" / LATEST / "rejects"
    shutil.rmtree(folder, ignore_errors=True)
    assert data.rejects_by_reason(exports_copy, LATEST) is None
    folder.mkdir(parents=True)
    header = "source_file,line_number,reason,raw_text\n"
    (folder / "sales_2026-11-30.csv").write_text(
        header + 'a.csv,2,unknown store_code,"x"\na.csv,3,unknown store_code,"y"\na.csv,9,bad date,"z"\n')
    (folder / "loyalty_2026-11-30.csv").write_text(header + 'b.csv,4,bad date,"w"\nb.csv,5,bad date,"v"\n')
    counted = data.rejects_by_reason(exports_copy, LATEST)
    assert counted.to_dict("records") == [{"reason": "bad date", "rows": 3},
                                          {"reason": "unknown store_code", "rows": 2}]


def test_the_history_counts_the_steps_a_run_reused_apart_from_those_it_ran(tmp_path):
    from dashboard.views import runs

    steps = [{"notebook": "20_facts", "status": "succeeded"}, {"notebook": "30_views", "status": "reused"},
             {"notebook": "40_fidelite_segmentation", "status": "reused"}]
    run = layout.Run(run_date=LATEST, run_id="r2", status="succeeded", source="demo", currency="EUR",
                     started_at=None, finished_at=None, steps=steps, loads=[], files={},
                     manifest_path=tmp_path / "manifest.json", manifest_sha256="", published=True)
    row = runs.history_table([run]).iloc[0]
    assert (row["steps_succeeded"], row["steps_reused"], row["steps"]) == (1, 2, 3)
