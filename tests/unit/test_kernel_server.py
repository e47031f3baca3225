"""Kernels forked from the run's kernel server (etl_helpers.kernel_server): a forked kernel runs
a notebook as a new one would (its environment, its folder, the modules it imports ahead) and
dies with the server (killed at once when busy: tests/unit/test_kernels.py); the server starts with the first kernel
asked of it, never before."""

from __future__ import annotations

import os

import nbformat
import papermill
import psutil
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from processes import wait_until_gone

from etl_helpers.kernel_server import KernelServer
from etl_helpers.kernels import KERNEL_NAME, WarmKernels, kernel_environment


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


def _printed(kernels: WarmKernels, source: str) -> str:
    """What the notebook ``source`` printed in the next kernel of ``kernels`` (stopped after)."""
    kernel = kernels.take()
    try:
        done = papermill.execute_notebook(source, source.replace("in.ipynb", "out.ipynb"), kernel_name=KERNEL_NAME,
                                          progress_bar=False, km=kernel)
    finally:
        kernel.stop()
    return done.cells[0].outputs[0]["text"]


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
    assert wait_until_gone(pid)
    spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME).argv  # the kernel's Python, not the runner's
    assert server._process.args[: spec.index("-m")] == spec[: spec.index("-m")]


def test_the_forked_kernels_die_with_their_server(tmp_path, server):
    kernels = WarmKernels(tmp_path, server=server)
    kernels.prepare()
    (spare,) = kernels._spares
    pid = spare.provisioner.pid
    assert psutil.Process(pid).ppid() == server._process.pid
    server.close()
    assert wait_until_gone(pid)
    kernels.close()


def test_a_kernel_starts_on_its_own_when_the_server_is_gone(tmp_path, server, caplog):
    kernels = WarmKernels(tmp_path, server=server)
    kernels.take().stop()  # the server started, forked a kernel
    server._process.kill()
    server._process.wait()
    kernel = kernels.take()
    pid = kernel.provisioner.pid
    try:
        assert psutil.Process(pid).ppid() == os.getpid()  # a Python of its own, as without a server
    finally:
        kernel.stop()
    assert wait_until_gone(pid)
    assert "kernel server unavailable" in caplog.text


def test_a_module_the_server_cannot_import_is_the_notebooks_error_not_the_servers(tmp_path):
    server = KernelServer(kernel_environment(), ("etl_helpers.no_such_module", "etl_helpers.calendar"))
    source = _notebook(tmp_path, "import sys\nprint('etl_helpers.calendar' in sys.modules)")
    try:
        kernels = WarmKernels(tmp_path, server=server)
        kernels.take().stop()  # served before the imports: the next one comes after them
        assert _printed(kernels, source) == "True\n"  # forked by the server, which went on
        assert server._process.poll() is None
    finally:
        server.close()


def test_a_kernel_asked_for_while_the_server_imports_does_not_wait_for_every_module(tmp_path):
    """The first kernel is forked as soon as ipykernel is imported (it imports what its own step
    needs); the server imports the rest meanwhile, and the kernels forked after it have it."""
    cell = "import sys\nprint('etl_helpers.marts' in sys.modules)"
    source = _notebook(tmp_path, cell)
    server = KernelServer(kernel_environment(), ("etl_helpers.marts",))
    kernels = WarmKernels(tmp_path, server=server)  # no module imported by the kernel itself
    try:
        printed = [_printed(kernels, source) for _ in range(2)]
    finally:
        server.close()
    assert printed == ["False\n", "True\n"]
