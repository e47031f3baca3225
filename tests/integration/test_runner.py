"""The runner on small throwaway notebooks: failures (case 29), timeouts, the run lock
(case 26 for whole runs), an unreachable database (case 27)."""

import json
from contextlib import closing
from datetime import date
from pathlib import Path

import nbformat
import pytest

from etl_helpers import cli, db, kernels, runner
from etl_helpers.kernel_server import KernelServer
from etl_helpers.kernels import KERNEL_NAME, kernel_environment, new_kernel
from etl_helpers.run.pipeline import _MartPool
from etl_helpers.runner import RunRequest, Step

PG = "postgresql"  # the scheme apart: a made-up test password is not read as a committed credential

RUN_DATE = date(2026, 11, 30)


def _notebook(path: Path, *cells: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python (etl-helpers)", "language": "python"}
    params = nbformat.v4.new_code_cell('run_date: str = "2026-11-30"  # ISO date', metadata={"tags": ["parameters"]})
    notebook.cells = [params] + [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(notebook, path)


@pytest.fixture
def steps_dir(tmp_path) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder / "00_first.ipynb", "print('first ran for', run_date)")
    _notebook(folder / "10_broken.ipynb", "x = 1", "raise ValueError('deliberate failure')", "print('never')")
    _notebook(folder / "20_later.ipynb", "print('later ran')")
    _notebook(folder / "30_slow.ipynb", "import time\ntime.sleep(30)")
    return folder


def _only_run_folder(settings) -> Path:
    (folder,) = (settings.export_dir("pipeline", "2026-11-30") / "runs").iterdir()
    return folder


def _request(*names: str, **kwargs) -> RunRequest:
    return RunRequest(run_dates=[RUN_DATE], steps=[Step(n, "pipeline") for n in names], **kwargs)


def test_failed_cell_stops_the_run_names_notebook_and_cell_and_keeps_the_notebook(warehouse, steps_dir):
    request = _request("00_first", "10_broken", "20_later")
    with pytest.raises(runner.StepFailed) as failure:
        runner.run_one_date(RUN_DATE, request, warehouse, notebooks_dir=steps_dir)
    message = str(failure.value)
    assert "10_broken.ipynb" in message and "cell" in message and "deliberate failure" in message

    out = _only_run_folder(warehouse)
    kept = nbformat.read(out / "10_broken.ipynb", as_version=4)
    assert any(o.get("ename") == "ValueError" for c in kept.cells for o in c.get("outputs", []))
    assert (out / "10_broken.html").exists()
    assert not (out / "20_later.ipynb").exists()

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert [s["status"] for s in manifest["steps"]] == ["succeeded", "failed", "skipped"]
    assert not runner.published_manifest_path(warehouse, RUN_DATE).exists()  # a failed run publishes nothing
    with db.connection(warehouse) as conn:
        assert conn.execute("select status from etl.runs").fetchall() == [("failed",)]


def test_cell_timeout_is_a_named_failure(warehouse, steps_dir):
    request = _request("30_slow", cell_timeout=2)
    with pytest.raises(runner.StepFailed, match="30_slow.ipynb failed.*[Tt]ime"):
        runner.run_one_date(RUN_DATE, request, warehouse, notebooks_dir=steps_dir)


def test_parameters_reach_the_notebook_as_an_iso_string(warehouse, steps_dir):
    runner.run_one_date(RUN_DATE, _request("00_first"), warehouse, notebooks_dir=steps_dir)
    executed = nbformat.read(_only_run_folder(warehouse) / "00_first.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "first ran for 2026-11-30" in printed


def test_a_second_run_refuses_while_one_holds_the_lock(warehouse):
    with runner.run_lock(warehouse, wait_seconds=0):
        with pytest.raises(runner.RunLocked, match="another pipeline run"):
            with runner.run_lock(warehouse, wait_seconds=0.6):
                pass
    with runner.run_lock(warehouse, wait_seconds=0):  # released afterwards
        pass


def test_unreachable_database_fails_after_a_bounded_retry(tmp_path, monkeypatch):
    monkeypatch.setenv("ETL_WORKDIR", str(tmp_path))
    fake_password = "Sup3rSecret"  # a made-up secret the logs must not show
    monkeypatch.setenv("DATABASE_URL", f"{PG}://loader:" + fake_password + "@127.0.0.1:1/warehouse")
    monkeypatch.setattr(db, "CONNECT_BACKOFF_SECONDS", 0.05)
    assert cli.main(["--date", "2026-11-30", "--only", "schema"]) == 1
    pipeline_dir = tmp_path / "exports" / "pipeline" / "2026-11-30"
    assert not (pipeline_dir / "manifest.json").exists()
    (run_folder,) = (pipeline_dir / "runs").iterdir()
    assert json.loads((run_folder / "manifest.json").read_text())["status"] == "failed"
    log_text = (run_folder / "run.log").read_text()
    assert "cannot connect" in log_text and "Sup3rSecret" not in log_text


def test_mart_notebooks_run_in_parallel_into_their_mart_folders(warehouse, steps_dir):
    request = RunRequest(run_dates=[RUN_DATE], jobs=2, steps=[
        Step("00_first", "pipeline"), Step("00_first", "fact_vente_mart"), Step("20_later", "fact_fidelite_mart")])
    manifest = runner.run_one_date(RUN_DATE, request, warehouse, notebooks_dir=steps_dir)
    assert [s["status"] for s in manifest["steps"]] == ["succeeded"] * 3
    assert (warehouse.export_dir("fact_vente_mart", "2026-11-30") / "00_first.html").exists()
    assert (warehouse.export_dir("fact_fidelite_mart", "2026-11-30") / "20_later.ipynb").exists()
    assert (_only_run_folder(warehouse) / "20_later.ipynb").exists()  # the run keeps its own copy


SIBLING_KERNELS = """import psutil
me = psutil.Process()  # the kernels' parent starts nothing else (the runner's kernel server)
print(sorted(p.pid for p in me.parent().children() if p.pid != me.pid))"""


def test_the_next_pipeline_steps_kernel_boots_while_the_step_before_it_runs(warehouse, steps_dir):
    """Beside the first pipeline step, the second one's kernel boots, and nothing else: the marts'
    kernels boot with the last pipeline step (before, they would slow the steps down)."""
    _notebook(steps_dir / "05_siblings.ipynb", SIBLING_KERNELS)
    _notebook(steps_dir / "06_pid.ipynb", "import os\nprint(os.getpid())")
    _notebook(steps_dir / "40_mart.ipynb", "print('mart')")
    request = RunRequest(run_dates=[RUN_DATE], jobs=2, steps=[
        Step("05_siblings", "pipeline"), Step("06_pid", "pipeline"), Step("40_mart", "fact_vente_mart")])
    manifest = runner.run_one_date(RUN_DATE, request, warehouse, notebooks_dir=steps_dir)
    assert [s["status"] for s in manifest["steps"]] == ["succeeded"] * 3
    printed = {name: nbformat.read(_only_run_folder(warehouse) / f"{name}.ipynb", as_version=4).cells[-1].outputs[0]["text"]
               for name in ("05_siblings", "06_pid")}
    assert json.loads(printed["05_siblings"]) == [int(printed["06_pid"])]  # started ahead, then used


def test_the_mart_threads_start_no_kernel_that_no_notebook_uses(warehouse, steps_dir, monkeypatch):
    """Four mart notebooks on two threads: four kernels in all (a kernel is started ahead only
    while the jobs not yet begun outnumber the kernels spare or starting)."""
    started = []

    def counted(*args, **kwargs):
        started.append(args)
        return new_kernel(*args, **kwargs)

    monkeypatch.setattr(kernels, "new_kernel", counted)
    marts = []
    for number, mart in enumerate(("fact_vente_mart", "fact_fidelite_mart") * 2):
        _notebook(steps_dir / f"4{number}_mart.ipynb", "print('mart')")
        marts.append(Step(f"4{number}_mart", mart))
    manifest = runner.run_one_date(RUN_DATE, RunRequest(run_dates=[RUN_DATE], jobs=2, steps=marts), warehouse,
                                   notebooks_dir=steps_dir)
    assert [s["status"] for s in manifest["steps"]] == ["succeeded"] * 4
    assert len(started) == 4


def test_a_mart_thread_that_gets_every_job_uses_the_kernels_started_on_the_others(tmp_path, monkeypatch):
    """On a loaded machine one thread may get every job while the other waits to be scheduled:
    the kernel the idle thread started serves the busy one, and still no kernel is started for
    nothing (four jobs, four kernels)."""
    started = []

    def counted(*args, **kwargs):
        started.append(new_kernel(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(kernels, "new_kernel", counted)
    with closing(KernelServer(kernel_environment(), ())) as server, _MartPool(2, tmp_path, {}, server) as pool:
        pool.start()
        pool.expect(4)
        taken = [pool._take_kernel() for _ in range(4)]  # this thread takes all four jobs
        for kernel in taken:
            kernel.stop()
    assert len(started) == 4 and sorted(map(id, taken)) == sorted(map(id, started))


@pytest.mark.parametrize("url", [f"{PG}://loader:S3cretPw@[bad/db", "host=127.0.0.1 port=1 password=S3cretPw dbname"])
def test_case_46_a_malformed_database_url_is_one_redacted_line(tmp_path, monkeypatch, capsys, url):
    monkeypatch.setenv("ETL_WORKDIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", url)
    # refused when the settings load, before anything starts: a usage error (exit 2), nothing written
    assert cli.main(["--date", "2026-11-30", "--only", "schema"]) == 2
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if "error" in line.lower()]
    assert errors and "Traceback" not in captured.err and "S3cretPw" not in captured.err + captured.out
    assert "DATABASE_URL" in captured.err
    assert list(tmp_path.iterdir()) == []


def test_case_35_unwritable_exports_is_a_one_line_error(warehouse, monkeypatch, capsys):
    monkeypatch.setenv("ETL_WORKDIR", str(warehouse.workdir))
    monkeypatch.setenv("DATABASE_URL", warehouse.database_url)
    (warehouse.workdir / "exports").write_text("not a folder")  # unwritable even for root
    assert cli.main(["--date", "2026-11-30", "--only", "schema"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write the run's record in" in err and "Traceback" not in err


def test_case_35_a_notebook_that_cannot_be_saved_fails_its_step_and_leaves_no_file(warehouse, steps_dir, monkeypatch):
    import errno

    from etl_helpers.run import execute

    def disk_full(target, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(execute, "write_text_atomic", disk_full)
    with pytest.raises(runner.StepFailed, match="00_first.ipynb could not be saved: No space left on device"):
        runner.run_one_date(RUN_DATE, _request("00_first"), warehouse, notebooks_dir=steps_dir)
    folder = _only_run_folder(warehouse)
    assert not list(folder.glob("*.ipynb")) and not list(folder.glob(".*"))
    assert json.loads((folder / "manifest.json").read_text())["status"] == "failed"


def _tables(settings) -> int:
    with db.connection(settings) as conn:
        return conn.execute("select count(*) from pg_tables where schemaname in ('etl', 'warehouse')").fetchone()[0]


def test_reset_database_dry_run_only_shows_what_it_would_drop(warehouse, monkeypatch, capsys):
    monkeypatch.setenv("ETL_WORKDIR", str(warehouse.workdir))
    monkeypatch.setenv("DATABASE_URL", warehouse.database_url)
    before = _tables(warehouse)
    assert cli.main(["--reset-database", "--dry-run"]) == 0
    assert "would drop the schemas staging, warehouse, marts, etl" in capsys.readouterr().out
    assert _tables(warehouse) == before > 0


def test_reset_database_waits_for_the_run_lock_and_asks_on_a_terminal(warehouse, monkeypatch, capsys):
    monkeypatch.setenv("ETL_WORKDIR", str(warehouse.workdir))
    monkeypatch.setenv("DATABASE_URL", warehouse.database_url)
    with runner.run_lock(warehouse, wait_seconds=0):  # a run is writing: nothing is dropped
        assert cli.main(["--reset-database", "--yes"]) == 1
    assert "another pipeline run" in capsys.readouterr().err and _tables(warehouse) > 0
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert cli.main(["--reset-database"]) == 1 and _tables(warehouse) > 0
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert cli.main(["--reset-database"]) == 0 and _tables(warehouse) == 0


def test_the_mart_jobs_go_to_the_workers_longest_first(tmp_path):
    """The mart notebooks run on two workers: the one that took longest last time starts first,
    the short ones fill in beside it; one never timed goes first."""
    from etl_helpers.run import manifest as records
    from etl_helpers.run.params import StepJob
    from etl_helpers.run.pipeline import _last_seconds, _longest_first
    from etl_helpers.settings import Settings

    settings = Settings(workdir=tmp_path)
    day_before = records.published_manifest_path(settings, date(2026, 11, 29))
    day_before.parent.mkdir(parents=True)
    steps = [("40_a", 3.4), ("41_b", 5.3), ("50_c", 2.6), ("51_d", 3.5)]
    records.write_manifest(day_before, {"steps": [{"notebook": n, "status": "succeeded", "seconds": s}
                                                  for n, s in steps]})
    seconds = _last_seconds(settings, date(2026, 11, 30))
    assert seconds == dict(steps)

    def job(name: str) -> StepJob:
        return StepJob(Step(name, "m"), Path(name), Path(name), {}, "", "", 1.0, False)

    jobs = [(n, job(name)) for n, name in enumerate(["40_a", "41_b", "50_c", "51_d", "52_new"], start=5)]
    assert [j.step.notebook for _, j in _longest_first(jobs, seconds)] == ["52_new", "41_b", "51_d", "40_a", "50_c"]
