"""The notebooks' kernels, managed by the runner rather than by papermill: each is started a
step ahead, so that it boots (Python and ipykernel, about half a second) while the step before
it runs, and is killed as soon as its notebook is saved."""

from __future__ import annotations

import signal
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

KERNEL_NAME = "python3"


def new_kernel(cwd: Path) -> StartedKernel:
    """A notebook kernel, started in ``cwd`` (the notebooks' folder)."""
    return StartedKernel(kernel_name=KERNEL_NAME).start(cwd)


class StartedKernel(AsyncKernelManager):
    """A kernel started before papermill gets it; it remembers the clients papermill opens on
    it, so that :meth:`stop` closes them with the kernel."""

    def start(self, cwd: Path) -> StartedKernel:
        self.opened_clients: list = []
        # errors only on the kernel's own stderr: its start-up warnings (a kernel on local TCP
        # is not encrypted) would repeat in every run's output; the notebook's output is apart
        run_sync(self.start_kernel)(cwd=str(cwd), extra_arguments=["--IPKernelApp.log_level=ERROR"])
        return self

    def client(self, **kwargs):
        opened = super().client(**kwargs)
        self.opened_clients.append(opened)
        return opened

    def stop(self) -> None:
        """Kill the kernel: its notebook is done (its cells wrote what they wrote, papermill
        saved the notebook) or failed (a cell may still be running). Unlike ``shutdown_kernel``,
        no interrupt first, which the kernel would report as an error."""
        for opened in self.opened_clients:
            opened.stop_channels()
        run_sync(self.signal_kernel)(getattr(signal, "SIGKILL", signal.SIGTERM))
        run_sync(self.finish_shutdown)(waittime=1.0, pollinterval=0.01)
        run_sync(self.cleanup_resources)()


class WarmKernels:
    """Notebook kernels started a step ahead: the next step's kernel boots (Python and
    ipykernel, about half a second) while the current step runs."""

    def __init__(self, cwd: Path):
        self.cwd = cwd
        self._spare: StartedKernel | None = None

    def prepare(self) -> None:
        if self._spare is None:
            self._spare = new_kernel(self.cwd)

    def take(self) -> StartedKernel:
        self.prepare()
        kernel, self._spare = self._spare, None
        return kernel  # type: ignore[return-value]

    def close(self) -> None:
        if self._spare is not None:
            self._spare.stop()
            self._spare = None
