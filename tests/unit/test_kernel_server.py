"""Kernels forked from the run's kernel server (etl_helpers.kernel_server): a forked kernel runs
a notebook as a new one would (its environment, its folder, the modules it imports ahead) and
dies with the server (killed at once when busy: tests/unit/test_kernels.py); the server starts with the first kernel
asked of it, never before."""

from __future__ import annotations

import os
import time

import nbformat
import papermill
import psutil
import pytest
from jupyter_client.kernelspec import KernelSpecManager

from etl_helpers.kernel_server import KernelServer
from etl_helpers.kernels import KERNEL_NAME, WarmKernels, kernel_environment


def _is_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_until_gone(pid: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not _is_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _is_gone(pid)


@pytest.fixture
def server():
    started = KernelServer(kernel_environment(), ("etl_helpers.calendar",))
    yield started
    started.close()


def _notebook(folder, source: str) -> str:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / "in.ipynb")
    return str(folder / "in.ipynb")


def test_a_forked_kernel_runs_a_notebook_as_a_new_one_would(tmp_path, server):
    cell = ("import os, sys, psutil\n"
            "print(os.environ.get('ETL_EMBEDDED_URI'), os.getcwd(), 'etl_helpers.calendar' in sys.modules,\n"
            "      'etl_helpers' in dir(), psutil.Process().parent().pid)")
    source = _notebook(tmp_path, cell)
    kernels = WarmKernels(tmp_path, {"ETL_EMBEDDED_URI": "postgresql:///x"}, ("etl_helpers.calendar",), server=server)
    assert server._process is None  # nothing asked yet: no server process
    kernel = kernels.take()
    pid = kernel.provisioner.pid
    try:
        done = papermill.execute_notebook(source, str(tmp_path / "out.ipynb"), kernel_name=KERNEL_NAME,
                                          progress_bar=False, km=kernel)
    finally:
        kernel.stop()
    assert done.cells[0].outputs[0]["text"] == f"postgresql:///x {tmp_path} True False {server._process.pid}\n"
    assert _wait_until_gone(pid)
    spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME).argv  # the kernel's Python, not the runner's
    assert server._process.args[: spec.index("-m")] == spec[: spec.index("-m")]


def test_the_forked_kernels_die_with_their_server(tmp_path, server):
    kernels = WarmKernels(tmp_path, server=server)
    kernels.prepare()
    pid = kernels._spare.provisioner.pid
    assert psutil.Process(pid).ppid() == server._process.pid
    server.close()
    assert _wait_until_gone(pid)
    kernels.close()


def test_a_kernel_starts_on_its_own_when_the_server_cannot(tmp_path, caplog):
    broken = KernelServer(kernel_environment(), ("etl_helpers.no_such_module",))  # the server dies importing it
    try:
        kernel = WarmKernels(tmp_path, server=broken).take()
        pid = kernel.provisioner.pid
        assert psutil.Process(pid).ppid() == os.getpid()  # a Python of its own, as without a server
        kernel.stop()
        assert _wait_until_gone(pid)
    finally:
        broken.close()
    assert "kernel server unavailable" in caplog.text
