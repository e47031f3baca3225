"""Skip what has not changed (run/reuse.py): a step whose inputs (the ledger's raw files, its
parameters, its notebook, the package's code and SQL) are those of its last results is not
run again; the manifest says ``reused`` and names the run that made the results, which stay
byte-identical to a forced recomputation. A changed parameter, SQL file, notebook, published
file or raw file (a late correction) makes the step run again; ``--force`` runs every step."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import date
from pathlib import Path

import nbformat
import pytest

from etl_helpers import cli, db, kernels, runner, sources
from etl_helpers.run import pipeline, reuse
from etl_helpers.runner import RunRequest, Step
from etl_helpers.settings import PROJECT_ROOT, Settings
from etl_helpers.sources import SourceOptions, demo
from etl_helpers.writing import sha256_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loading"))
import rawfolder as rf  # noqa: E402  (the minimal canonical raw folder of the loader's tests)
from notebook_files import write_notebook

RUN_DATE = date(2026, 11, 30)
MART = "fact_fidelite_mart"
MART_PARAMS = 'run_date: str = "2026-11-30"\nexport_dir: str = ""\ntag: str = "one"\n'
WRITE = "from pathlib import Path\nPath(export_dir, '{name}.csv').write_text(f'value\\n{{tag}}\\n')"


@pytest.fixture
def steps_dir(tmp_path) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "00_first.ipynb", 'run_date: str = "2026-11-30"', "print('first ran for', run_date)")
    write_notebook(folder / "30_views.ipynb", 'run_date: str = "2026-11-30"', "print('views for', run_date)")
    write_notebook(folder / "40_mart_a.ipynb", MART_PARAMS, WRITE.format(name="a"))
    write_notebook(folder / "41_mart_b.ipynb", MART_PARAMS, WRITE.format(name="b"))
    return folder


ALL = [Step("00_first", "pipeline"), Step("30_views", "pipeline"), Step("40_mart_a", MART), Step("41_mart_b", MART)]


def _run(settings: Settings, steps_dir: Path, steps: list[Step] = ALL, run_date: date = RUN_DATE, **kwargs) -> dict:
    return runner.run_one_date(run_date, RunRequest(run_dates=[run_date], steps=steps, **kwargs), settings,
                               notebooks_dir=steps_dir)


def _steps(manifest: dict) -> dict[str, dict]:
    return {s["notebook"]: s for s in manifest["steps"]}


def _status(manifest: dict) -> dict[str, str]:
    return {name: s["status"] for name, s in _steps(manifest).items()}


def _data_files(settings: Settings) -> dict[str, bytes]:
    """The published data exports (not the executed notebooks, which name their run)."""
    folder = settings.exports_dir / MART
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix not in (".ipynb", ".html")}


def _published(settings: Settings) -> dict:
    return json.loads(runner.published_manifest_path(settings, RUN_DATE).read_text())


def _consistent(settings: Settings) -> None:
    manifest = _published(settings)
    on_disk = {p.relative_to(settings.exports_dir).as_posix(): sha256_of(p)
               for p in (settings.exports_dir / MART).rglob("*") if p.is_file()}
    assert {f["path"]: f["sha256"] for f in manifest["files"]} == on_disk


def test_a_rerun_with_unchanged_inputs_reuses_results_identical_to_a_forced_recomputation(warehouse, steps_dir):
    first = _run(warehouse, steps_dir)
    assert set(_status(first).values()) == {"succeeded"}
    assert all(s["made_in_run"] == first["run_id"] for s in first["steps"])
    published_files = _data_files(warehouse)

    second = _run(warehouse, steps_dir)
    # the loading steps always run (they skip what the ledger holds); what derives from them is reused
    assert _status(second) == {"00_first": "succeeded", "30_views": "reused", "40_mart_a": "reused",
                               "41_mart_b": "reused"}
    for name in ("30_views", "40_mart_a", "41_mart_b"):
        kept, made = _steps(second)[name], _steps(first)[name]
        assert kept["made_in_run"] == first["run_id"] and kept["fingerprint"] == made["fingerprint"]
        assert kept["executed_notebook"] == made["executed_notebook"]  # the report of the run that made them
    assert not (runner.run_dir(warehouse, RUN_DATE, second["run_id"]) / "40_mart_a.ipynb").exists()
    assert _published(warehouse)["run_id"] == second["run_id"]
    assert _data_files(warehouse) == published_files
    _consistent(warehouse)
    log_text = (runner.run_dir(warehouse, RUN_DATE, second["run_id"]) / "run.log").read_text()
    assert f"40_mart_a reused from run {first['run_id']}" in log_text

    forced = _run(warehouse, steps_dir, force=True)
    assert set(_status(forced).values()) == {"succeeded"}
    assert all(s["made_in_run"] == forced["run_id"] for s in forced["steps"])
    assert (runner.run_dir(warehouse, RUN_DATE, forced["run_id"]) / "40_mart_a.ipynb").exists()
    assert _data_files(warehouse) == published_files  # recomputed: byte for byte what was reused
    assert [s["fingerprint"] for s in forced["steps"]] == [s["fingerprint"] for s in first["steps"]]
    _consistent(warehouse)


def test_a_changed_parameter_recomputes_the_steps_that_declare_it(warehouse, steps_dir):
    first = _run(warehouse, steps_dir)
    changed = _run(warehouse, steps_dir, overrides={"tag": "two"})
    assert _status(changed) == {"00_first": "succeeded", "30_views": "reused", "40_mart_a": "succeeded",
                                "41_mart_b": "succeeded"}
    assert _steps(changed)["40_mart_a"]["fingerprint"] != _steps(first)["40_mart_a"]["fingerprint"]
    assert (warehouse.export_dir(MART, "2026-11-30") / "a.csv").read_text() == "value\ntwo\n"
    back = _run(warehouse, steps_dir)  # the published results are tag two's: tag one is computed again
    assert _status(back)["40_mart_a"] == "succeeded" and _steps(back)["40_mart_a"]["made_in_run"] == back["run_id"]
    assert (warehouse.export_dir(MART, "2026-11-30") / "a.csv").read_text() == "value\none\n"
    assert _steps(back)["40_mart_a"]["fingerprint"] == _steps(first)["40_mart_a"]["fingerprint"]
    _consistent(warehouse)


def test_a_changed_sql_file_or_notebook_recomputes(warehouse, steps_dir, tmp_path, monkeypatch):
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (sql_dir / "marts.sql").write_text("select 1;\n")
    monkeypatch.setattr(reuse, "CODE_FOLDERS", (*reuse.CODE_FOLDERS, (sql_dir, "*.sql")))
    _run(warehouse, steps_dir)
    assert set(_status(_run(warehouse, steps_dir)).values()) == {"succeeded", "reused"}

    (sql_dir / "marts.sql").write_text("select 2;\n")
    after_sql = _run(warehouse, steps_dir)
    assert set(_status(after_sql).values()) == {"succeeded"}

    notebook = nbformat.read(steps_dir / "41_mart_b.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("print('one more cell')"))
    nbformat.write(notebook, steps_dir / "41_mart_b.ipynb")
    after_notebook = _run(warehouse, steps_dir)
    assert _status(after_notebook) == {"00_first": "succeeded", "30_views": "reused", "40_mart_a": "reused",
                                       "41_mart_b": "succeeded"}
    assert _steps(after_notebook)["40_mart_a"]["made_in_run"] == after_sql["run_id"]
    _consistent(warehouse)


def test_the_code_digest_covers_the_package_and_its_sql():
    folders = {folder for folder, _ in reuse.CODE_FOLDERS}
    assert folders == {PROJECT_ROOT / "src" / "etl_helpers", PROJECT_ROOT / "sql"}
    assert reuse.code_digest() == reuse.code_digest()


def test_a_published_file_edited_by_hand_is_not_reused(warehouse, steps_dir):
    _run(warehouse, steps_dir)
    (warehouse.export_dir(MART, "2026-11-30") / "a.csv").write_text("value\nedited\n")
    rerun = _run(warehouse, steps_dir)
    assert _status(rerun)["40_mart_a"] == "succeeded" and _status(rerun)["41_mart_b"] == "succeeded"
    assert (warehouse.export_dir(MART, "2026-11-30") / "a.csv").read_text() == "value\none\n"
    _consistent(warehouse)


def test_a_failed_step_is_not_reused(warehouse, steps_dir):
    _run(warehouse, steps_dir)
    write_notebook(steps_dir / "30_views.ipynb", 'run_date: str = "2026-11-30"', "raise ValueError('deliberate')")
    with pytest.raises(runner.StepFailed):
        _run(warehouse, steps_dir)
    write_notebook(steps_dir / "30_views.ipynb", 'run_date: str = "2026-11-30"', "print('views for', run_date)")
    rerun = _run(warehouse, steps_dir)  # the notebook is back as it was, but its last execution failed
    assert _status(rerun)["30_views"] == "succeeded"


def test_force_is_a_command_line_option():
    args = cli.build_parser().parse_args(["--date", "2026-11-30", "--force"])
    assert cli._request(args).force is True
    assert cli._request(cli.build_parser().parse_args(["--date", "2026-11-30"])).force is False


LOADING = ("00_schema", "10_dimensions", "20_facts", "30_views")
COUNT_SALES = ("from pathlib import Path\nfrom etl_helpers import db\n"
               "with db.connection() as conn:\n"
               "    total = conn.execute('select sum(quantity) from warehouse.fact_ventes').fetchone()[0]\n"
               "Path(export_dir, 'quantity.csv').write_text(f'quantity\\n{total}\\n')")
WAREHOUSE_DIGEST = "select md5(" + " || ".join(  # every row of the facts and the dimensions they join
    f"coalesce((select string_agg(t::text, '|' order by t::text) from warehouse.{table} as t), '')"
    for table in ("fact_ventes", "fact_fidelite", "dim_client", "dim_magasin", "dim_produit")) + ")"


@pytest.fixture
def loading_run(settings, tmp_path, monkeypatch):
    """The real pipeline notebooks (00..30) and a mart counting the sales, on a canonical raw
    folder: ``(run, raw)``, ``run(**request)`` running them for RUN_DATE."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ETL_WORKDIR", str(settings.workdir))
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in LOADING:
        shutil.copy(PROJECT_ROOT / "notebooks" / f"{name}.ipynb", folder)
    write_notebook(folder / "40_quantity.ipynb", MART_PARAMS, COUNT_SALES)
    raw = rf.build(tmp_path / "raw")
    steps = [*(Step(name, "pipeline") for name in LOADING), Step("40_quantity", MART)]

    def run(**kwargs) -> dict:
        request = dict(steps=steps, source="canonical", options=SourceOptions(raw=raw.root)) | kwargs
        return _run(settings, folder, **request)

    return run, raw


def _warehouse_digest(settings: Settings) -> str:
    with db.connection(settings) as conn:
        return db.scalar(conn, WAREHOUSE_DIGEST)


def _no_kernel(monkeypatch) -> None:
    """Fail the test if the run starts a notebook kernel or the marts' threads."""
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel or the marts' threads were started")
    monkeypatch.setattr(kernels, "new_kernel", refuse)
    monkeypatch.setattr(pipeline, "ThreadPoolExecutor", refuse)


@pytest.mark.notebooks
def test_a_rerun_with_nothing_new_reuses_every_step_and_starts_no_kernel(settings, loading_run, monkeypatch):
    run, _raw = loading_run
    quantity = settings.export_dir(MART, "2026-11-30") / "quantity.csv"
    first = run()
    assert set(_status(first).values()) == {"succeeded"}
    made, loaded = quantity.read_bytes(), _warehouse_digest(settings)

    with monkeypatch.context() as patched:
        _no_kernel(patched)
        nothing_new = run()
    assert set(_status(nothing_new).values()) == {"reused"}
    assert all(s["made_in_run"] == first["run_id"] for s in nothing_new["steps"])
    for name in (*LOADING, "40_quantity"):  # the report of the run that made them
        assert _steps(nothing_new)[name]["executed_notebook"] == _steps(first)[name]["executed_notebook"]
    run_folder = runner.run_dir(settings, RUN_DATE, nothing_new["run_id"])
    assert json.loads((run_folder / "manifest.json").read_text())["loads"] == []
    assert not list(run_folder.glob("*.ipynb"))  # nothing executed
    log_text = (run_folder / "run.log").read_text()
    for name in LOADING:
        assert f"{name} reused from run {first['run_id']}" in log_text
    assert quantity.read_bytes() == made and _warehouse_digest(settings) == loaded

    forced = run(force=True)  # recomputes every step: the same warehouse and exports, byte for byte
    assert set(_status(forced).values()) == {"succeeded"}
    assert all(s["made_in_run"] == forced["run_id"] for s in forced["steps"])
    assert quantity.read_bytes() == made and _warehouse_digest(settings) == loaded
    assert [s["fingerprint"] for s in forced["steps"]] == [s["fingerprint"] for s in first["steps"]]
    after_force = run()
    assert set(_status(after_force).values()) == {"reused"}
    assert all(s["made_in_run"] == forced["run_id"] for s in after_force["steps"])
    _consistent(settings)


@pytest.mark.notebooks
def test_a_new_or_corrected_raw_file_recomputes_what_reads_it(settings, loading_run):
    run, raw = loading_run
    quantity = settings.export_dir(MART, "2026-11-30") / "quantity.csv"
    first = run()
    loaded = sum(int(row["quantity"]) for rows in rf.SALES.values() for row in rows)
    assert quantity.read_text() == f"quantity\n{loaded}\n"

    corrected = [dict(row) for row in rf.SALES[rf.DAY2]]
    corrected[0].update(quantity="3", amount="11.85")  # a late correction of the second day
    raw.write_rows("sales", rf.DAY2, corrected)
    after = run()
    assert _status(after) == {"00_schema": "reused", "10_dimensions": "reused", "20_facts": "succeeded",
                              "30_views": "succeeded", "40_quantity": "succeeded"}
    assert _steps(after)["10_dimensions"]["made_in_run"] == first["run_id"]
    assert [load["path"] for load in after["loads"]] == ["sales/sales_2026-03-03.csv"]
    assert quantity.read_text() == f"quantity\n{loaded + 1}\n"
    assert _steps(after)["40_quantity"]["made_in_run"] == after["run_id"]

    new_day = date(2026, 3, 4)  # a new daily sales file
    raw.write_rows("sales", new_day, [rf.sale(ticket_id="T0100", sold_at="2026-03-04T09:00:00+01:00")])
    later = run()
    assert _status(later) == {"00_schema": "reused", "10_dimensions": "reused", "20_facts": "succeeded",
                              "30_views": "succeeded", "40_quantity": "succeeded"}
    assert [load["path"] for load in later["loads"]] == ["sales/sales_2026-03-04.csv"]
    assert quantity.read_text() == f"quantity\n{loaded + 1 + int(rf.sale()['quantity'])}\n"

    raw.write_rows("stores", date(2026, 2, 1), rf.STORES)  # a new reference snapshot: both loads run
    with_snapshot = run()
    assert _status(with_snapshot)["10_dimensions"] == "succeeded" and _status(with_snapshot)["20_facts"] == "succeeded"
    assert set(_status(run()).values()) == {"reused"}  # and then nothing is new again


@pytest.mark.notebooks
def test_a_later_date_with_no_new_snapshot_reuses_the_dimensions_and_the_facts_step_extends_the_calendar(
    settings, loading_run
):
    run, raw = loading_run
    first = run()
    next_year = date(RUN_DATE.year + 1, 1, 2)  # a date whose year the calendar does not hold yet
    later = run(run_date=next_year)
    assert _status(later) == {"00_schema": "reused", "10_dimensions": "reused", "20_facts": "succeeded",
                              "30_views": "succeeded", "40_quantity": "succeeded"}
    assert _steps(later)["10_dimensions"]["made_in_run"] == first["run_id"]
    with db.connection(settings) as conn:
        assert db.scalar(conn, "select max(date_id) from warehouse.dim_temps") == date(next_year.year, 12, 31)

    raw.write_rows("stores", date(next_year.year, 1, 1), rf.STORES)  # a snapshot dated up to the run date
    with_snapshot = run(run_date=next_year)
    assert _status(with_snapshot)["10_dimensions"] == "succeeded"
    assert [load["path"] for load in with_snapshot["loads"]] == [f"stores/stores_{next_year.year}-01-01.csv"]


@pytest.mark.notebooks
def test_a_changed_parameter_or_sql_file_recomputes_the_loading_steps(settings, loading_run, tmp_path, monkeypatch):
    run, raw = loading_run
    run()
    changed = run(options=SourceOptions(raw=raw.root, points_rate=0.2))  # a source option: every step's input
    assert set(_status(changed).values()) == {"succeeded"}
    assert set(_status(run(options=SourceOptions(raw=raw.root, points_rate=0.2))).values()) == {"reused"}

    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (sql_dir / "warehouse.sql").write_text("select 1;\n")
    monkeypatch.setattr(reuse, "CODE_FOLDERS", (*reuse.CODE_FOLDERS, (sql_dir, "*.sql")))
    assert set(_status(run()).values()) == {"succeeded"}
    (sql_dir / "warehouse.sql").write_text("select 2;\n")
    assert set(_status(run()).values()) == {"succeeded"}
    assert set(_status(run()).values()) == {"reused"}


def test_a_demo_folder_is_ready_only_when_the_generator_would_write_nothing(settings, demo_raw_dir, monkeypatch):
    options = SourceOptions(scale="small", seed=42)
    folder = sources.raw_folder("demo", settings, options)
    assert sources.ready_raw("demo", settings, RUN_DATE, options) is None  # never prepared
    shutil.copytree(demo_raw_dir, folder)
    assert sources.ready_raw("demo", settings, RUN_DATE, options) is None  # no mark: not prepared by the pipeline
    sources.prepare_raw("demo", settings, RUN_DATE, options)
    assert sources.ready_raw("demo", settings, RUN_DATE, options) == folder

    def generator_built(*args, **kwargs):
        raise AssertionError("the generator was run")

    with monkeypatch.context() as patched:  # prepared again: nothing to write, no generator built
        patched.setattr(demo, "generate", generator_built)
        assert sources.prepare_raw("demo", settings, RUN_DATE, options) == folder
        with pytest.raises(AssertionError, match="generator was run"):  # a new day is generated
            sources.prepare_raw("demo", settings, date(2026, 12, 1), options)
    assert sources.ready_raw("demo", settings, date(2026, 11, 29), options) is None  # its window starts a day earlier
    assert sources.ready_raw("demo", settings, date(2026, 12, 1), options) is None  # a new day to generate
    assert sources.ready_raw("demo", settings, RUN_DATE, SourceOptions(scale="small", seed=7)) is None
    (folder / "loyalty" / "loyalty_2026-06-15.csv").unlink()  # a missing day is generated again
    assert sources.ready_raw("demo", settings, RUN_DATE, options) is None
    assert demo.window_complete(demo_raw_dir, RUN_DATE) and not demo.window_complete(demo_raw_dir, date(2026, 12, 1))
