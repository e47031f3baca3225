"""The notebooks' kernels as the runner manages them: started ahead, handed to papermill, and
killed once done, busy or not, leaving no process behind."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import papermill
import pytest
from jupyter_client import BlockingKernelClient
from processes import is_gone, wait_until_gone

from etl_helpers.kernel_server import KernelServer
from etl_helpers.kernels import KERNEL_NAME, WarmKernels, kernel_environment, new_kernel
from etl_helpers.run import execute


def test_a_kernel_started_ahead_runs_a_notebook_and_is_gone_after(tmp_path, capfd):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "in.ipynb")
    kernels = WarmKernels(tmp_path)
    kernels.prepare()
    kernel = kernels.take()
    pid = kernel.provisioner.pid
    try:
        done = papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"),
                                          kernel_name=KERNEL_NAME, progress_bar=False, km=kernel)
    finally:
        kernel.stop()
    assert done.cells[0].outputs[0]["text"] == "42\n"
    assert "WARNING" not in capfd.readouterr().err  # a kernel's start-up warnings stay out of a run's output
    assert kernel.opened_clients and not any(c.channels_running for c in kernel.opened_clients)
    assert is_gone(pid)
    kernels.close()  # nothing spare: a no-op


def test_an_unused_spare_is_stopped_on_close(tmp_path):
    kernels = WarmKernels(tmp_path)
    kernels.prepare()
    (spare,) = kernels._spares
    pid = spare.provisioner.pid
    kernels.close()
    assert is_gone(pid)


@pytest.mark.parametrize("forked", [False, True], ids=["own-python", "forked-by-a-server"])
def test_a_busy_kernel_is_killed_at_once(tmp_path, forked):
    """A failed notebook (a cell timeout, say) leaves its cell running: stop does not wait for it,
    whether the kernel is a Python of its own or forked by a run's kernel server."""
    server = KernelServer(kernel_environment(), ()) if forked else None
    kernel = new_kernel(tmp_path, server=server)
    client = BlockingKernelClient(connection_file=kernel.connection_file, parent=kernel)  # alive = its process, not a heartbeat late on a busy machine
    client.load_connection_file()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        request = client.execute("import time; time.sleep(600)")
        busy = None
        while busy is None:
            message = client.get_iopub_msg(timeout=10)
            if message["parent_header"].get("msg_id") == request and message["msg_type"] == "status":
                busy = message["content"]["execution_state"] == "busy"
        assert busy
        pid = kernel.provisioner.pid
        started = time.perf_counter()
        kernel.stop()
        # not a speed bound: a stop that waited for the cell (or interrupted it and waited for
        # the kernel to wind down) would take the cell's ten minutes, not a tenth of them
        assert time.perf_counter() - started < 60
        assert wait_until_gone(pid)
    finally:
        client.stop_channels()
        if server is not None:
            server.close()


def test_a_kernel_gets_the_runners_environment_and_imports_its_modules_ahead(tmp_path):
    """A runner's kernel reaches its embedded server by the address the runner gives it, and
    imports the package's modules as it starts, binding no name in the notebook's namespace."""
    cell = ("import os, sys\n"
            "print(os.environ.get('ETL_EMBEDDED_URI'), 'etl_helpers.calendar' in sys.modules,\n"
            "      'etl_helpers' in dir(), '_import_module' in dir())")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "in.ipynb")
    kernels = WarmKernels(tmp_path, {"ETL_EMBEDDED_URI": "postgresql:///x"}, preload=("etl_helpers.calendar",))
    kernels.prepare()
    kernel = kernels.take()
    try:
        done = papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"),
                                          kernel_name=KERNEL_NAME, progress_bar=False, km=kernel)
    finally:
        kernel.stop()
    assert done.cells[0].outputs[0]["text"] == "postgresql:///x True False False\n"


def test_kernels_kept_ahead_start_the_next_one_as_one_is_taken(tmp_path):
    """The next notebook's kernel boots while the current one runs."""
    kernels = WarmKernels(tmp_path)
    kernel = kernels.take(wanted=1)
    (spare,) = kernels._spares
    assert spare is not kernel
    pids = (kernel.provisioner.pid, spare.provisioner.pid)
    kernel.stop()
    kernels.close()
    assert all(is_gone(pid) for pid in pids)


def _five_cells(folder: Path, last: str) -> Path:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"print({n})") for n in range(4)])
    notebook.cells.append(nbformat.v4.new_code_cell(last))
    notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / "in.ipynb")
    return folder / "in.ipynb"


def _execute(source: Path, cell_timeout: float = 60):
    return execute.execute_notebook(source, source.with_name("out.ipynb"), parameters={}, header="# run",
                                    title="t", take_kernel=WarmKernels(source.parent).take, cell_timeout=cell_timeout)


def test_a_notebook_is_saved_once_when_it_ends_not_after_every_cell(tmp_path, monkeypatch):
    saves = []
    monkeypatch.setattr(papermill.engines, "write_ipynb", lambda nb, path: saves.append(path))
    record = _execute(_five_cells(tmp_path, "print(4)"))
    assert record.status == "succeeded" and len(saves) == 1
    done = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert [c.outputs[0]["text"] for c in done.cells if c.cell_type == "code"] == [f"{n}\n" for n in range(5)]
    assert (tmp_path / "out.html").exists() and not list(tmp_path.glob(".*partial*"))


def test_a_notebook_cut_short_by_a_timeout_keeps_what_its_cells_printed(tmp_path):
    record = _execute(_five_cells(tmp_path, "import time; time.sleep(30)"), cell_timeout=2)
    assert record.status == "failed" and "out.ipynb" not in (record.error or "")
    done = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    code = [c for c in done.cells if c.cell_type == "code"]
    assert [c.outputs[0]["text"] for c in code[:4]] == [f"{n}\n" for n in range(4)] and code[4].outputs == []
    assert "in.ipynb failed" in record.error and (tmp_path / "out.html").exists()
