"""The console of a run (issue 11, point 8): the log records of its notebook kernels (the
pipeline steps' and the marts') reach the runner's console and run.log, never a report's stderr."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import nbformat
import pytest
from notebook_files import write_notebook

from etl_helpers import runner
from etl_helpers.run import logs
from etl_helpers.runner import RunRequest, Step

RUN_DATE = date(2026, 11, 30)
MART = "fact_vente_mart"
LOGS = ("import logging\nlog = logging.getLogger('etl_helpers.{name}')\n"
        "log.info('{name}: progress 1 of 2')\nlog.info('{name}: progress 2 of 2')\n"
        "log.warning('{name}: header only, no rows')\nlogging.getLogger('chatty').info('not forwarded')")


@pytest.fixture
def steps_dir(tmp_path) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "30_step.ipynb", 'run_date: str = "2026-11-30"', LOGS.format(name="step"))
    for name in ("50_mart_a", "51_mart_b"):
        write_notebook(folder / f"{name}.ipynb", 'run_date: str = "2026-11-30"\nexport_dir: str = ""',
                  LOGS.format(name=name))
    return folder


def _outputs(notebook: Path) -> list[dict]:
    return [o for c in nbformat.read(notebook, as_version=4).cells for o in c.get("outputs", [])]


def test_kernel_and_worker_log_records_reach_the_console_and_run_log_not_the_report(warehouse, steps_dir, caplog):
    steps = [Step("30_step", "pipeline"), Step("50_mart_a", MART), Step("51_mart_b", MART)]
    with caplog.at_level(logging.INFO):
        manifest = runner.run_one_date(RUN_DATE, RunRequest(run_dates=[RUN_DATE], steps=steps, jobs=2), warehouse,
                                       notebooks_dir=steps_dir)
    assert manifest["status"] == "succeeded"
    folder = runner.run_dir(warehouse, RUN_DATE, manifest["run_id"])
    run_log = (folder / "run.log").read_text()
    shown = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]  # what the console's handler got
    for name in ("step", "50_mart_a", "51_mart_b"):
        for line in (f"{name}: progress 1 of 2", f"{name}: progress 2 of 2"):
            assert (f"etl_helpers.{name}", logging.INFO, line) in shown
            assert f"INFO etl_helpers.{name}: {line}" in run_log
        assert f"WARNING etl_helpers.{name}: {name}: header only, no rows" in run_log
        assert run_log.index(f"{name}: progress 1 of 2") < run_log.index(f"{name}: progress 2 of 2")
    assert "not forwarded" not in run_log
    assert "3 warning(s)" in run_log                                     # the summary counts them
    for notebook in ("30_step", "50_mart_a", "51_mart_b"):
        assert not [o for o in _outputs(folder / f"{notebook}.ipynb") if o.get("name") == "stderr"], notebook
        assert "header only" not in (folder / f"{notebook}.html").read_text()


def test_a_process_outside_a_run_forwards_nothing(monkeypatch):
    monkeypatch.delenv(logs.SOCKET_VARIABLE, raising=False)
    assert logs.forward_to_runner() is False
