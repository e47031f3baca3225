"""The notebooks' kernels, managed by the runner rather than by papermill: each is started a
step ahead, so that it boots while the step before it runs, and is killed as soon as its
notebook is saved. A run's kernels are forked by its kernel server (etl_helpers.kernel_server),
which imported their modules once; without one, each is a new Python importing them.

A kernel never outlives the process that started it (it gets SIGKILL when its parent dies,
even by SIGKILL), its database sessions carry the application name :data:`WRITER_APP_NAME`
(so a later run can end any that survive on the server), and its environment keeps library
warnings out of the reports.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import threading
import uuid
from functools import partial
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from etl_helpers.kernel_server import ForkedProvisioner, KernelServer, die_with_parent

log = logging.getLogger(__name__)

KERNEL_NAME = "etl-helpers"  # the project kernel, registered by `make install`
WRITER_APP_NAME = "etl-pipeline-writer"  # application_name of the runner's kernels' sessions
KERNEL_START_TIMEOUT = 60.0  # seconds a kernel may take to answer its first request
FORWARD_LOGS = "from etl_helpers.run.logs import forward_to_runner as _forward; _forward(); del _forward"


def start_lines(preload: tuple[str, ...] = ()) -> str:
    """What a kernel runs as it starts, before it answers: forward its log records to the runner,
    and import the ``preload`` modules (nothing bound in the notebook's namespace), so that a
    kernel started ahead imports them while the step before it runs."""
    imports = "".join(f"; _import_module({name!r})" for name in preload)
    if imports:
        imports = "; from importlib import import_module as _import_module" + imports + "; del _import_module"
    return FORWARD_LOGS + imports


def quiet_jupyter_paths() -> None:
    """Jupyter's standard paths and a private runtime folder when the system gives none (as
    under cron or as root in a container): no platformdirs warning in the runner's output."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = Path(tempfile.gettempdir()) / f"etl-helpers-runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")


def kernel_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The runner's environment, plus: the writer's application name for libpq, and no
    library warnings in a report (Jupyter's paths, tqdm's widget warning: its progress bars
    are off in a kernel, the console shows the steps' progress); then ``extra``."""
    quiet_jupyter_paths()
    warnings = ",".join(
        filter(None, [os.environ.get("PYTHONWARNINGS"), "ignore::DeprecationWarning", "ignore:IProgress not found"])
    )
    return {
        **os.environ,
        "PGAPPNAME": WRITER_APP_NAME,
        "TQDM_DISABLE": "1",
        "PYTHONWARNINGS": warnings,
        **(extra or {}),
    }


def new_kernel(
    cwd: Path, env: dict[str, str] | None = None, preload: tuple[str, ...] = (), server: KernelServer | None = None
) -> StartedKernel:
    """A notebook kernel, started in ``cwd`` (the notebooks' folder), ``env`` added to its
    environment, the ``preload`` modules imported (:func:`start_lines`), forked by ``server``
    if one is given (etl_helpers.kernel_server), else a new Python. It talks over Unix
    sockets of its own (``ipc``), not TCP ports: a port picked free can be taken by another
    process before the kernel binds it (``ZMQError: Address already in use``), a socket path
    cannot."""
    quiet_jupyter_paths()
    sockets = Path(tempfile.mkdtemp(prefix="k-", dir=os.environ["XDG_RUNTIME_DIR"]))
    kernel = StartedKernel(kernel_name=KERNEL_NAME, transport="ipc", ip=str(sockets / "kernel"))
    return kernel.start(cwd, env, preload, server)


class StartedKernel(AsyncKernelManager):
    """A kernel started before papermill gets it; it remembers the clients papermill opens on
    it, so that :meth:`stop` closes them with the kernel."""

    def start(
        self,
        cwd: Path,
        env: dict[str, str] | None = None,
        preload: tuple[str, ...] = (),
        server: KernelServer | None = None,
    ) -> StartedKernel:
        self.opened_clients: list = []
        if server is not None:
            self.kernel_id = str(uuid.uuid4())
            self.provisioner = ForkedProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
            self.provisioner.server = server
        # errors only on the kernel's own stderr: its start-up warnings (a kernel on local TCP
        # is not encrypted) would repeat in every run's output; the notebook's output is apart
        # its log records go to the runner's console and run.log, not to the report (run.logs)
        run_sync(self.start_kernel)(
            cwd=str(cwd),
            env=kernel_environment(env),
            preexec_fn=partial(die_with_parent, os.getpid()),
            extra_arguments=["--IPKernelApp.log_level=ERROR", f"--IPKernelApp.exec_lines={start_lines(preload)}"],
        )
        return self

    def client(self, **kwargs):
        opened = super().client(**kwargs)
        self.opened_clients.append(opened)
        return opened

    def stop(self) -> None:
        """Kill the kernel: its notebook is done (its cells wrote what they wrote, papermill
        saved the notebook) or failed (a cell may still be running, or the kernel died or
        never answered). Unlike ``shutdown_kernel``, no interrupt first, which the kernel
        would report as an error."""
        for opened in self.opened_clients:
            opened.stop_channels()
        try:
            if self.has_kernel:
                run_sync(self.signal_kernel)(getattr(signal, "SIGKILL", signal.SIGTERM))
            run_sync(self.finish_shutdown)(waittime=1.0, pollinterval=0.01)
        except Exception as error:  # already dead: nothing left to stop
            log.debug("kernel already gone: %s", error)
        run_sync(self.cleanup_resources)()
        shutil.rmtree(Path(self.ip).parent, ignore_errors=True)  # the kernel's socket folder


class WarmKernels:
    """Notebook kernels started ahead: the next step's kernel boots (Python and ipykernel, about
    half a second) while the current step runs. Threads may share them: a kernel started on one
    thread serves a notebook on another, as long as the thread that started it lives (a kernel
    dies with the thread that forked it). A kernel that cannot be started ahead is started (and
    its error reported) by the step that needs it."""

    def __init__(
        self,
        cwd: Path,
        env: dict[str, str] | None = None,
        preload: tuple[str, ...] = (),
        server: KernelServer | None = None,
    ):
        self.cwd, self.env, self.preload, self.server = cwd, env, preload, server
        self._spares: list[StartedKernel] = []
        self._starting = 0  # kernels being started ahead, not yet spare
        self._changed = threading.Condition()

    def prepare(self) -> None:
        """Start a spare kernel."""
        with self._changed:
            self._starting += 1
        self._start_spare()

    def _start_spare(self) -> None:
        try:
            kernel = new_kernel(self.cwd, self.env, self.preload, self.server)
        except Exception as error:
            kernel = None
            log.debug("could not start a kernel ahead: %s", error)
        with self._changed:
            self._starting -= 1
            if kernel is not None:
                self._spares.append(kernel)
            self._changed.notify_all()

    def take(self, wanted: int = 0) -> StartedKernel:
        """A spare kernel (one being started ahead is waited for), else a new one (whose start
        may raise). ``wanted``: how many more kernels will be needed after this one; the next is
        started ahead if fewer than that are spare or starting."""
        with self._changed:
            self._changed.wait_for(lambda: self._spares or not self._starting)
            kernel = self._spares.pop(0) if self._spares else None
            ahead = wanted > len(self._spares) + self._starting
            self._starting += ahead
        kernel = kernel or new_kernel(self.cwd, self.env, self.preload, self.server)
        if ahead:
            self._start_spare()
        return kernel

    def close(self) -> None:
        with self._changed:
            spares, self._spares = self._spares, []
        for kernel in spares:
            kernel.stop()
