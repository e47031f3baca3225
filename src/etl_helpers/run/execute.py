"""Execute one notebook with papermill in a kernel the runner started, and render it.

The executed notebook opens with a header cell (run date, source, overrides, run id, code
version, export folder); it is written under a temporary name and renamed into place once
complete, and so is its HTML report: no truncated file ever sits under a final name.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import nbformat
import papermill
from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

from etl_helpers import db, kernels
from etl_helpers.kernels import StartedKernel
from etl_helpers.writing import write_text_atomic

log = logging.getLogger(__name__)


@dataclass
class StepRecord:
    notebook: str
    mart: str
    status: str = "pending"  # pending | succeeded | failed | skipped | reused
    seconds: float | None = None
    executed_notebook: str | None = None  # paths relative to exports/
    html_report: str | None = None
    error: str | None = None
    fingerprint: str | None = None  # the digest of its inputs (run/reuse.py), when it can be reused
    made_in_run: str | None = None  # the run that executed it (another one when reused)


def header_markdown(notebook: str, facts: dict[str, object]) -> str:
    """The header cell shown at the top of an executed notebook and its report."""
    lines = [f"# {notebook}", "", "| run | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in facts.items()]
    return "\n".join(lines)


def with_header(source: Path, header: str) -> nbformat.NotebookNode:
    notebook = nbformat.read(source, as_version=4)
    cell = nbformat.v4.new_markdown_cell(header, metadata={"tags": ["run-header"]})
    if notebook.nbformat_minor < 5:  # cell ids came with nbformat 4.5
        del cell["id"]
    notebook.cells.insert(0, cell)
    notebook.metadata.setdefault("kernelspec", {})["name"] = kernels.KERNEL_NAME
    return notebook


class _SavedWhenDone(NotebookExecutionManager):
    """papermill's record of a notebook's execution, saved once it ends (a cell failed, timed
    out or the kernel died included) rather than as each cell starts and ends: every save
    validates and rewrites the whole notebook, charts and all, some forty times a notebook
    and about a CPU-second of a daily run on the cores its notebooks share."""

    done = False

    def save(self, **kwargs) -> None:
        if self.done:
            super().save(**kwargs)

    def notebook_complete(self, **kwargs) -> None:
        self.done = True
        super().notebook_complete(**kwargs)


class SavedWhenDoneEngine(NBClientEngine):
    """papermill's own engine (nbclient) with :class:`_SavedWhenDone` as its manager: the
    wrapping of papermill's ``Engine.execute_notebook``, with only the manager replaced."""

    @classmethod
    def execute_notebook(
        cls, nb, kernel_name, output_path=None, progress_bar=True, log_output=False, autosave_cell_every=30, **kwargs
    ):
        manager = _SavedWhenDone(
            nb,
            output_path=output_path,
            progress_bar=progress_bar,
            log_output=log_output,
            autosave_cell_every=autosave_cell_every,
        )
        manager.notebook_start()
        try:
            cls.execute_managed_notebook(manager, kernel_name, log_output=log_output, **kwargs)
        finally:
            manager.cleanup_pbar()
            manager.notebook_complete()
        return manager.nb


ENGINE = "etl-helpers"
papermill_engines.register(ENGINE, SavedWhenDoneEngine)


def _not_alt_text_notice(record: logging.LogRecord) -> bool:
    """nbconvert's lab template cannot carry an image's alternative text, so it gives every chart
    a generic one and says so once per report: a notice about the template, not about the run."""
    return not record.getMessage().startswith("Alternative text is missing")


@cache
def warm_up_renderer() -> None:
    """Render an empty notebook, once per process: nbconvert loads its templates and filters (about
    a second), which the first report would otherwise wait for. A runner calls it aside while its
    first step runs."""
    from nbconvert import HTMLExporter

    HTMLExporter(exclude_input=True).from_notebook_node(nbformat.v4.new_notebook())


def render_html(executed: Path, title: str, notebook: nbformat.NotebookNode | None = None) -> Path:
    """HTML report beside the executed notebook (``notebook``, read from it if not given): inputs
    hidden, outputs (charts) shown, titled ``title``."""
    from nbconvert import HTMLExporter  # imported when a report is made: a run whose steps are all reused makes none

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.log.addFilter(_not_alt_text_notice)
    body, _ = exporter.from_notebook_node(
        notebook or nbformat.read(executed, as_version=4), resources={"metadata": {"name": title}}
    )
    target = executed.with_suffix(".html")
    write_text_atomic(target, body)
    return target


def failure_message(notebook: str, error: BaseException) -> str:
    if isinstance(error, papermill.PapermillExecutionError):
        return (
            f"notebook {notebook}.ipynb failed in cell {error.cell_index} "
            f"(execution count {error.exec_count}): {error.ename}: {db.redact(str(error.evalue))}"
        )
    if isinstance(error, OSError) and error.filename:
        return f"notebook {notebook}.ipynb could not be saved: {error.strerror}: {error.filename}"
    return f"notebook {notebook}.ipynb failed: {type(error).__name__}: {db.redact(str(error))}"


def execute_notebook(
    source: Path,
    executed: Path,
    *,
    parameters: dict,
    header: str,
    title: str,
    take_kernel: Callable[[], StartedKernel],
    cell_timeout: float,
    progress: bool = False,
) -> StepRecord:
    """Run ``source`` into ``executed`` (and its HTML beside it). Never raises: a failure is
    the record's ``error``, naming the notebook (and the cell)."""
    notebook = source.stem
    record = StepRecord(notebook, "")
    partial = executed.with_name(f".{executed.stem}.partial.ipynb")
    started = time.perf_counter()
    kernel: StartedKernel | None = None
    try:
        executed.parent.mkdir(parents=True, exist_ok=True)
        kernel = take_kernel()
        papermill.execute_notebook(
            with_header(source, header),
            str(partial),
            parameters=parameters,
            kernel_name=kernels.KERNEL_NAME,
            cwd=str(source.parent),
            progress_bar=progress,
            execution_timeout=cell_timeout,
            start_timeout=kernels.KERNEL_START_TIMEOUT,
            log_output=False,
            km=kernel,
            engine_name=ENGINE,
        )
        record.status = "succeeded"
    except Exception as error:  # papermill errors, cell timeouts, kernels dead or never started
        record.status, record.error = "failed", failure_message(notebook, error)
    finally:
        if kernel is not None:
            kernel.stop()
    record.seconds = round(time.perf_counter() - started, 3)
    try:
        if partial.exists():
            done = nbformat.read(partial, as_version=4)
            write_text_atomic(executed, nbformat.writes(done))
            render_html(executed, title, done)
    except Exception as error:  # a full or read-only disk, a notebook cut short
        record.status = "failed"
        record.error = record.error or failure_message(notebook, error)
    finally:
        partial.unlink(missing_ok=True)
    return record
