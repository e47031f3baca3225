"""The whole pipeline through run_pipeline's CLI on demo data: every step, its reports and
manifest; a rerun gives byte-identical data exports; no saved file holds the password
(case 31) even though DATABASE_URL carries one."""

import json
from pathlib import Path

import pytest
from psycopg import conninfo

from etl_helpers import aggregates, cli, runner, schema

pytestmark = pytest.mark.notebooks

PASSWORD = "Pw-e2e-7c1f9Zq"
RUN_DATE = "2026-11-30"
DATA_SUFFIXES = {".csv", ".parquet", ".png"}


@pytest.fixture
def run_env(make_database, demo_raw_dir, tmp_path, monkeypatch):
    url = conninfo.make_conninfo(make_database(), password=PASSWORD)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ETL_WORKDIR", str(tmp_path))
    return tmp_path


def _manifest(workdir: Path) -> dict:
    return json.loads((workdir / "exports" / "pipeline" / RUN_DATE / "manifest.json").read_text())


def test_full_run_twice_reports_everything_identically_and_leaks_no_password(run_env, demo_raw_dir, capsys):
    args = ["--date", RUN_DATE, "--source", "canonical", "--raw", str(demo_raw_dir), "-p", "min_support", "0.02"]
    assert cli.main(args) == 0
    first = _manifest(run_env)
    assert first["status"] == "succeeded"
    assert [s["notebook"] for s in first["steps"]] == [s.notebook for s in runner.STEPS]
    assert all(s["status"] == "succeeded" for s in first["steps"])
    assert sum(load["rows_loaded"] for load in first["loads"] if load["entity"] == "sales") > 40_000
    run_folder = run_env / "exports" / "pipeline" / RUN_DATE / "runs" / first["run_id"]
    for step in runner.STEPS:  # every report in the run's folder, the marts' also beside their exports
        folders = [run_folder] + ([run_env / "exports" / step.mart / RUN_DATE] if step.mart != "pipeline" else [])
        for folder in folders:
            assert (folder / f"{step.notebook}.ipynb").exists() and (folder / f"{step.notebook}.html").exists()
    affinity = (run_folder / "41_fidelite_affinity.html").read_text()
    assert "0.02" in affinity and RUN_DATE in affinity and "<title>41_fidelite_affinity — 2026-11-30</title>" in affinity
    for report in run_folder.glob("*.html"):  # no library warning (stderr) in any report
        assert "Warning" not in report.read_text(), report.name
    console, run_log = capsys.readouterr().err, (run_folder / "run.log").read_text()
    for aggregate in aggregates.AGGREGATES:  # 30_views: one progress line per aggregate, on the console too
        assert run_log.count(f"etl_helpers.aggregates: {aggregate.name}: ") == 1, aggregate.name
        assert f"INFO {aggregate.name}: " in console, aggregate.name
    for ddl in schema.schema_files():  # the schema applied once in a run (by 00_schema)
        assert run_log.count(f"applied {ddl.name}") == 1, ddl.name
    # a header-only file (case 17) is a warning in the run's log, not a stderr box in the report
    assert "header only, no rows" in run_log and "header only" not in (run_folder / "20_facts.html").read_text()
    data_files = {f["path"]: f for f in first["files"] if Path(f["path"]).suffix in DATA_SUFFIXES}
    assert any(p.startswith("fact_vente_mart/") for p in data_files)
    assert any(p.startswith("fact_fidelite_mart/") for p in data_files)
    assert all(f["rows"] is not None for p, f in data_files.items() if not p.endswith(".png"))

    assert cli.main([*args, "--force"]) == 0  # recomputes every step
    second = _manifest(run_env)
    assert second["run_id"] != first["run_id"]
    second_run = json.loads((run_env / "exports" / "pipeline" / RUN_DATE / "runs" / second["run_id"]
                             / "manifest.json").read_text())
    assert second_run["loads"] == []  # the ledger had every file already (the published loads are kept)
    assert second["loads"] == first["loads"]
    rerun = {f["path"]: f["sha256"] for f in second["files"] if Path(f["path"]).suffix in DATA_SUFFIXES}
    assert rerun == {p: f["sha256"] for p, f in data_files.items()}

    assert cli.main(args) == 0  # nothing new: every step is reused, byte for byte
    third = _manifest(run_env)
    reused = [s["notebook"] for s in third["steps"] if s["status"] == "reused"]
    assert reused == [s.notebook for s in runner.STEPS]
    assert all(s["made_in_run"] == second["run_id"] for s in third["steps"] if s["status"] == "reused")
    assert {f["path"]: f["sha256"] for f in third["files"] if Path(f["path"]).suffix in DATA_SUFFIXES} == rerun

    leaks = [str(p) for p in run_env.rglob("*")
             if p.is_file() and not p.is_symlink() and PASSWORD.encode() in p.read_bytes()]
    assert leaks == []


def test_every_notebook_runs_on_the_superstore_source(make_database, seed_data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", make_database())
    monkeypatch.setenv("ETL_WORKDIR", str(tmp_path))
    assert cli.main(["--date", RUN_DATE, "--source", "superstore"]) == 0
    manifest = _manifest(tmp_path)
    assert manifest["status"] == "succeeded" and manifest["source"] == "superstore"
    rfm = tmp_path / "exports" / "fact_fidelite_mart" / RUN_DATE / "rfm_customers.csv"
    assert sum(1 for _ in rfm.open()) - 1 == 793  # every Superstore customer earned derived points
    loads = {load["entity"]: 0 for load in manifest["loads"]}
    for load in manifest["loads"]:
        loads[load["entity"]] += load["rows_loaded"]
    assert loads["sales"] == 9_994 and loads["loyalty"] == 5_009
