"""Run records (issue: every run kept): each run in its own folder, the dated mart folders and
the published manifest swapped in atomically, a run refused by the lock writes nothing, a
partial run keeps the other steps' entries, several invocations with one --run-id are one run,
--history lists them; and what a kill leaves (cases 32, 33): no kernel outlives
the runner, the published manifest always matches the files beside it, the killed run is
closed as abandoned by the next one; a kernel that dies or hangs at start-up (case 34)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import nbformat
import psycopg
import pytest
from notebook_files import write_notebook

from etl_helpers import cli, db, kernels, runner, schema
from etl_helpers.kernels import WRITER_APP_NAME
from etl_helpers.runner import RunRequest, Step
from etl_helpers.writing import sha256_of

RUN_DATE = date(2026, 11, 30)
MART = "fact_fidelite_mart"


MART_PARAMS = 'run_date: str = "2026-11-30"\nexport_dir: str = ""\ntag: str = "one"\nhang: bool = False\n'
WRITE = ("from pathlib import Path\nimport os, time\n"
         "Path(export_dir, '{name}.csv').write_text(f'value\\n{{tag}}\\n')\n"
         "if hang:\n"
         "    Path(export_dir).parent.parent.joinpath('{name}.pids').write_text(f'{{os.getpid()}} {{os.getppid()}}')\n"
         "    time.sleep(600)")


@pytest.fixture
def steps_dir(tmp_path) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "00_first.ipynb", 'run_date: str = "2026-11-30"', "print('first ran for', run_date)")
    write_notebook(folder / "40_mart_a.ipynb", MART_PARAMS, WRITE.format(name="a"))
    write_notebook(folder / "41_mart_b.ipynb", MART_PARAMS, WRITE.format(name="b"))
    write_notebook(folder / "42_broken.ipynb", MART_PARAMS, "Path = None", "raise ValueError('deliberate failure')")
    write_notebook(folder / "20_hangs.ipynb", 'run_date: str = "2026-11-30"\nmarker: str = ""',
              "import os, time\nfrom pathlib import Path\nPath(marker).write_text(str(os.getpid()))\ntime.sleep(600)")
    return folder


ALL = [Step("00_first", "pipeline"), Step("40_mart_a", MART), Step("41_mart_b", MART)]


def _run(settings, steps_dir, steps=ALL, **kwargs) -> dict:
    return runner.run_one_date(RUN_DATE, RunRequest(run_dates=[RUN_DATE], steps=steps, **kwargs), settings,
                               notebooks_dir=steps_dir)


def _published(settings) -> dict:
    return json.loads(runner.published_manifest_path(settings, RUN_DATE).read_text())


def _consistent(settings) -> None:
    """The published manifest lists exactly the files of the dated folders, sha256 matching."""
    manifest = _published(settings)
    assert manifest["status"] == "succeeded"
    on_disk = {p.relative_to(settings.exports_dir).as_posix(): sha256_of(p)
               for p in (settings.exports_dir / MART).rglob("*") if p.is_file()}
    assert {f["path"]: f["sha256"] for f in manifest["files"]} == on_disk


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {str(p): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def test_every_run_is_kept_in_its_own_folder_and_the_marts_are_published(warehouse, steps_dir):
    first = _run(warehouse, steps_dir)
    second = _run(warehouse, steps_dir, overrides={"tag": "two"})
    assert first["run_id"] != second["run_id"]
    for manifest in (first, second):
        folder = runner.run_dir(warehouse, RUN_DATE, manifest["run_id"])
        kept = json.loads((folder / "manifest.json").read_text())
        assert kept["status"] == "succeeded" and kept["source"] == "demo" and kept["currency"] == "EUR"
        assert kept["code_version"] == manifest["code_version"]
        assert {"00_first.ipynb", "00_first.html", "40_mart_a.ipynb", "41_mart_b.html", "run.log"} <= {
            p.name for p in folder.iterdir()}
    assert second["overrides"] == {"tag": "two"}
    published = _published(warehouse)
    assert published["run_id"] == second["run_id"] and published["overrides"] == {"tag": "two"}
    assert (warehouse.export_dir(MART, "2026-11-30") / "a.csv").read_text() == "value\ntwo\n"
    assert (warehouse.export_dir(MART, "2026-11-30") / "41_mart_b.html").exists()
    _consistent(warehouse)
    assert not (runner.run_dir(warehouse, RUN_DATE, second["run_id"]) / "staging").exists()
    log_text = (runner.run_dir(warehouse, RUN_DATE, second["run_id"]) / "run.log").read_text()
    assert "succeeded: 0 rows loaded, 0 rejected, 0 warning(s); reports in" in log_text  # the summary


def test_a_failed_run_leaves_the_published_marts_and_manifest_as_they_were(warehouse, steps_dir):
    _run(warehouse, steps_dir)
    before = _snapshot(warehouse.exports_dir / MART) | {"manifest": runner.published_manifest_path(
        warehouse, RUN_DATE).read_bytes()}
    with pytest.raises(runner.StepFailed, match="42_broken.ipynb"):
        _run(warehouse, steps_dir, steps=[*ALL, Step("42_broken", MART)], overrides={"tag": "two"}, jobs=1)
    after = _snapshot(warehouse.exports_dir / MART) | {"manifest": runner.published_manifest_path(
        warehouse, RUN_DATE).read_bytes()}
    assert after == before
    _consistent(warehouse)
    failed = [r for r in runner.history(warehouse) if r["status"] == "failed"]
    assert len(failed) == 1 and (Path(failed[0]["report_folder"]) / "42_broken.ipynb").exists()


def test_a_run_refused_by_the_lock_writes_nothing(warehouse, steps_dir):
    _run(warehouse, steps_dir)
    before = _snapshot(warehouse.workdir)
    with runner.run_lock(warehouse, wait_seconds=0):
        with pytest.raises(runner.RunLocked):
            _run(warehouse, steps_dir, overrides={"tag": "two"})
    assert _snapshot(warehouse.workdir) == before


def test_a_partial_run_keeps_the_other_steps_entries(warehouse, steps_dir):
    first = _run(warehouse, steps_dir)
    _run(warehouse, steps_dir, steps=[Step("41_mart_b", MART)], overrides={"tag": "two"})
    published = _published(warehouse)
    steps = {s["notebook"]: s for s in published["steps"]}
    assert list(steps) == ["00_first", "40_mart_a", "41_mart_b"]
    assert steps["40_mart_a"]["executed_notebook"] == first["steps"][1]["executed_notebook"]
    assert steps["41_mart_b"]["executed_notebook"] != first["steps"][2]["executed_notebook"]
    folder = warehouse.export_dir(MART, "2026-11-30")
    assert (folder / "a.csv").read_text() == "value\none\n" and (folder / "b.csv").read_text() == "value\ntwo\n"
    _consistent(warehouse)


def test_invocations_with_one_run_id_form_one_run(warehouse, steps_dir):
    for step in ALL:
        _run(warehouse, steps_dir, steps=[step], run_id="airflow-2026-11-30")
    (folder,) = (warehouse.export_dir("pipeline", "2026-11-30") / "runs").iterdir()
    assert folder.name == "airflow-2026-11-30"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [s["notebook"] for s in manifest["steps"]] == ["00_first", "40_mart_a", "41_mart_b"]
    assert all(s["status"] == "succeeded" for s in manifest["steps"]) and manifest["status"] == "succeeded"
    assert (folder / "run.log").read_text().count("record in") == 3
    with db.connection(warehouse) as conn:
        assert conn.execute("select count(*) from etl.runs").fetchone()[0] == 1
    _consistent(warehouse)


def test_history_lists_every_run(warehouse, steps_dir, monkeypatch, capsys):
    _run(warehouse, steps_dir)
    with pytest.raises(runner.StepFailed):
        _run(warehouse, steps_dir, steps=[Step("42_broken", MART)])
    monkeypatch.setenv("ETL_WORKDIR", str(warehouse.workdir))
    assert cli.main(["--history", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in runs] == ["succeeded", "failed"]
    assert all(r["run_date"] == "2026-11-30" and r["seconds"] is not None for r in runs)
    assert cli.main(["--history"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 3 and "succeeded" in table[1] and "failed" in table[2]


def test_the_report_opens_with_the_runs_header_and_is_titled(warehouse, steps_dir):
    manifest = _run(warehouse, steps_dir, overrides={"tag": "two"})
    folder = runner.run_dir(warehouse, RUN_DATE, manifest["run_id"])
    executed = nbformat.read(folder / "40_mart_a.ipynb", as_version=4)
    header = executed.cells[0].source
    for shown in ("2026-11-30", "demo (EUR)", "tag = two", manifest["run_id"], "exports/fact_fidelite_mart/2026-11-30"):
        assert shown in header
    html = (folder / "40_mart_a.html").read_text()
    assert "<title>40_mart_a — 2026-11-30</title>" in html and "tag = two" in html
    assert not list(folder.glob(".*"))  # no partial notebook left


def test_stale_writer_sessions_are_ended_when_a_run_starts(warehouse, steps_dir):
    url = db.database_url(warehouse)
    orphan = psycopg.connect(url, application_name=WRITER_APP_NAME)
    orphan.execute("select 1")  # a transaction left open, as by a killed kernel
    _run(warehouse, steps_dir, steps=[Step("00_first", "pipeline")])
    with pytest.raises(psycopg.OperationalError):
        orphan.execute("select 1")
    orphan.close()


RUNNER_SCRIPT = """
import sys
from datetime import date
from pathlib import Path
from etl_helpers import runner
from etl_helpers.settings import Settings
settings = Settings(database_url=sys.argv[1], workdir=Path(sys.argv[2]))
steps = [runner.Step("00_first", "pipeline"), runner.Step("40_mart_a", "%s"), runner.Step("41_mart_b", "%s")]
request = runner.RunRequest(run_dates=[date(2026, 11, 30)], steps=steps, jobs=2, overrides={"tag": "two", "hang": True})
runner.run_one_date(date(2026, 11, 30), request, settings, notebooks_dir=Path(sys.argv[3]))
""" % (MART, MART)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[1].startswith("Z")


def _wait_for(condition, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_cases_32_33_a_runner_killed_during_the_marts_leaves_no_writer_and_a_consistent_folder(
        warehouse, steps_dir):
    _run(warehouse, steps_dir)  # a published run ("one")
    runner_process = subprocess.Popen(
        [sys.executable, "-c", RUNNER_SCRIPT, warehouse.database_url, str(warehouse.workdir), str(steps_dir)])
    try:
        markers = [warehouse.exports_dir / "pipeline" / "2026-11-30" / "runs" / f"{n}.pids" for n in "ab"]
        runs = warehouse.export_dir("pipeline", "2026-11-30") / "runs"
        _wait_for(lambda: any(p.exists() for p in runs.glob("*/staging/*.pids")) or
                  any(p.exists() for p in runs.glob("*/*.pids")), "a mart notebook to start hanging")
        pids = [int(x) for p in runs.glob("**/*.pids") for x in p.read_text().split()]
        os.kill(runner_process.pid, signal.SIGKILL)
        runner_process.wait()
        assert markers  # (the markers sit in the run's staging folder)
        _wait_for(lambda: all(_gone(pid) for pid in pids), "the kernels to die with the runner")
    finally:
        if runner_process.poll() is None:
            runner_process.kill()
    _consistent(warehouse)  # still the first run's files, or nothing published: never a mismatch
    assert (warehouse.export_dir(MART, "2026-11-30") / "a.csv").read_text() == "value\none\n"
    with runner.run_lock(warehouse, wait_seconds=60):  # the lock went with the runner (once the server
        pass                                           # has seen its session close)

    _run(warehouse, steps_dir)  # the next run closes the killed one
    assert not list(warehouse.exports_dir.glob("pipeline/*/runs/*/staging"))
    statuses = sorted(r["status"] for r in runner.history(warehouse))
    assert statuses == ["abandoned", "succeeded", "succeeded"]
    with db.connection(warehouse) as conn:
        assert sorted(s for (s,) in conn.execute("select status from etl.runs")) == statuses
    _consistent(warehouse)


def _fake_kernel(root: Path, name: str, code: str) -> None:
    spec = root / "kernels" / name
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(json.dumps(
        {"argv": [sys.executable, "-c", code, "{connection_file}"], "display_name": name, "language": "python"}))


@pytest.mark.parametrize("behaviour, code", [("dies", "import sys; sys.exit(3)"),
                                             ("hangs", "import time; time.sleep(600)")])
def test_case_34_a_kernel_that_dies_or_hangs_at_start_up_fails_the_run_naming_the_notebook(
        warehouse, steps_dir, tmp_path, monkeypatch, behaviour, code):
    _fake_kernel(tmp_path / "jupyter", "broken-kernel", code)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setattr(kernels, "KERNEL_NAME", "broken-kernel")
    monkeypatch.setattr(kernels, "KERNEL_START_TIMEOUT", 3)
    with pytest.raises(runner.StepFailed, match="notebook 00_first.ipynb failed: RuntimeError"):
        _run(warehouse, steps_dir, steps=[Step("00_first", "pipeline")])
    (run,) = runner.history(warehouse)
    assert run["status"] == "failed"
    with db.connection(warehouse) as conn:
        assert conn.execute("select status from etl.runs").fetchall() == [("failed",)]


HANGING_STEP_SCRIPT = """
import sys
from datetime import date
from pathlib import Path
from etl_helpers import runner
from etl_helpers.settings import Settings
settings = Settings(database_url=sys.argv[1], workdir=Path(sys.argv[2]))
request = runner.RunRequest(run_dates=[date(2026, 11, 30)], steps=[runner.Step("20_hangs", "pipeline")],
                            overrides={"marker": sys.argv[4]})
runner.run_one_date(date(2026, 11, 30), request, settings, notebooks_dir=Path(sys.argv[3]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_case_32_a_runner_killed_during_a_pipeline_step_leaves_no_kernel(warehouse, steps_dir, tmp_path):
    marker = tmp_path / "kernel.pid"
    runner_process = subprocess.Popen([sys.executable, "-c", HANGING_STEP_SCRIPT, warehouse.database_url,
                                       str(warehouse.workdir), str(steps_dir), str(marker)])
    try:
        _wait_for(lambda: marker.exists() and marker.read_text(), "the step's notebook to start")
        kernel_pid = int(marker.read_text())
        os.kill(runner_process.pid, signal.SIGKILL)
        runner_process.wait()
        _wait_for(lambda: _gone(kernel_pid), "the kernel to die with the runner")
    finally:
        if runner_process.poll() is None:
            runner_process.kill()
    with runner.run_lock(warehouse, wait_seconds=60):
        pass
    assert [r["status"] for r in runner.history(warehouse)] == ["running"]  # until the next run closes it


def test_a_run_with_another_source_is_refused_and_writes_nothing(warehouse, steps_dir, monkeypatch, capsys):
    """Sources never mix: a warehouse built from the demo refuses a Superstore run (exit 2),
    naming the ways out, and no record of the refused run is written."""
    _run(warehouse, steps_dir)
    before = _snapshot(warehouse.workdir)
    with pytest.raises(schema.SourceMismatch, match="ETL_WORKDIR.*--reset-database"):
        _run(warehouse, steps_dir, source="superstore")
    assert _snapshot(warehouse.workdir) == before

    monkeypatch.setenv("DATABASE_URL", warehouse.database_url)
    monkeypatch.setenv("ETL_WORKDIR", str(warehouse.workdir))
    assert cli.main(["--date", "2026-11-30", "--source", "superstore", "--only", "30_views"]) == 2
    assert "built from the source 'demo'" in capsys.readouterr().err
    assert _snapshot(warehouse.workdir) == before


def test_rendering_a_report_with_a_chart_logs_no_warning(tmp_path, caplog):
    """A chart in a report made nbconvert warn 'Alternative text is missing' on the console of
    every run; the report's images still carry an alt attribute."""
    import base64

    from etl_helpers.run.execute import render_html

    png = base64.b64encode(
        bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                      "1f15c4890000000d49444154789c6360000000000200015f3f1f0e0000000049454e44ae426082")).decode()
    cell = nbformat.v4.new_code_cell("chart")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png})]
    executed = tmp_path / "40_chart.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), executed)
    with caplog.at_level(logging.INFO):
        html = render_html(executed, "40_chart — 2026-11-30").read_text()
    assert "<img" in html and "alt=" in html
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
