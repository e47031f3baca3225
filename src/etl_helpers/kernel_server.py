"""Kernels forked from a process that has imported what they import: a new kernel costs a fork
and ipykernel's own start-up (a fifth of a second), not a new Python importing pandas,
matplotlib and seaborn again (more than a CPU-second each, on a machine where the run's
notebooks share two cores).

The runner starts one :class:`KernelServer` per run (``python -m etl_helpers.kernel_server``,
in the kernels' environment). It imports ipykernel and the ``preload`` modules, then reads
requests (a kernel's arguments, environment and folder) on its standard input and answers each
with the pid of a child it forked to run that kernel. The child becomes a session of its own,
dies with the server (which dies with the runner), and runs ipykernel as
``python -m ipykernel_launcher`` would. :class:`ForkedProvisioner` is the jupyter_client side:
it asks the server instead of starting a process, and signals and polls the kernel by its pid
(the server reaps it).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import pathlib
import select
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from functools import partial
from importlib import import_module
from typing import Any, BinaryIO

from jupyter_client.provisioning import LocalProvisioner

log = logging.getLogger(__name__)

LAUNCHER = "ipykernel_launcher"  # the module a kernelspec's argv runs: what a forked child runs instead

_PR_SET_PDEATHSIG = 1
# looked up once, in the parent: a child calls it between fork and exec
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
FORKS = _prctl is not None  # kernels are forked only where they can die with their server (Linux)


def die_with_parent(parent_pid: int) -> None:
    """Have the system send this process SIGKILL when its parent dies (Linux; elsewhere a
    no-op). Called in a child; if the parent (``parent_pid``) is already gone, exit at once."""
    if _prctl is None:
        return
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


class KernelServer:
    """The forking server of one run's kernels (started on the first kernel asked for)."""

    def __init__(self, env: dict[str, str], preload: tuple[str, ...]):
        self.env, self.preload = env, preload
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._replies: BinaryIO | None = None
        self._interpreter: list[str] = []

    def _start(self, interpreter: list[str]) -> subprocess.Popen:
        replies, reply_end = os.pipe()
        self._interpreter = interpreter
        self._process = subprocess.Popen(
            [*interpreter, "-m", "etl_helpers.kernel_server", str(reply_end), *self.preload],
            stdin=subprocess.PIPE,
            env=self.env,
            pass_fds=(reply_end,),
            preexec_fn=partial(die_with_parent, os.getpid()),
        )
        os.close(reply_end)
        self._replies = os.fdopen(replies, "rb")
        return self._process

    def fork(self, interpreter: list[str], argv: list[str], env: dict[str, str], cwd: str) -> int:
        """A new kernel running ipykernel with ``argv``: its pid. ``interpreter`` is the kernel's
        Python and its options (the kernelspec's, as the first kernel gave them to the server:
        the runner's own Python may be another, a scheduler's environment say)."""
        with self._lock:
            if self._process is not None and interpreter != self._interpreter:
                raise RuntimeError(f"the kernel server runs {' '.join(self._interpreter)}")
            process = self._process or self._start(interpreter)
            assert process.stdin is not None and self._replies is not None
            try:
                process.stdin.write(json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode() + b"\n")
                process.stdin.flush()
                reply = self._replies.readline()
            except BrokenPipeError:
                reply = b""
            if not reply.strip().isdigit():
                raise RuntimeError(f"the kernel server ended (exit code {process.poll()})")
            return int(reply)

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            if self._process.stdin is not None:
                with suppress(BrokenPipeError):  # a request it never read
                    self._process.stdin.close()
            if self._replies is not None:
                self._replies.close()
            self._process = None


class ForkedProcess:
    """What the provisioner asks of a kernel's process (``subprocess.Popen``'s poll, wait and
    signals), for a kernel the server forked: known by its pid, reaped by the server."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and _ended(self.pid):
            self.returncode = -signal.SIGKILL  # its status went to the server, which reaped it
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.01)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        with suppress(ProcessLookupError):
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def _ended(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie (its server gone before it, and its new parent slow to reap it) has ended too
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b") ", 1)[1][:1] == b"Z"
    except OSError:
        return False


class ForkedProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, with the kernel forked by ``server``; signals go to
    the kernel's pid (never to a process group: the child makes its own as it starts)."""

    server: KernelServer | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        # cmd: the kernel's Python and its options, -m, the launcher, the launcher's arguments
        launcher = cmd.index(LAUNCHER) if LAUNCHER in cmd else 0
        if self.server is None or not FORKS or launcher < 2 or cmd[launcher - 1] != "-m":
            return await super().launch_kernel(cmd, **kwargs)
        cwd = kwargs.get("cwd") or os.getcwd()
        try:
            pid = self.server.fork(
                cmd[: launcher - 1], cmd[launcher + 1 :], dict(kwargs.get("env") or os.environ), str(cwd)
            )
        except (OSError, RuntimeError) as error:  # the kernel gets a Python of its own, as without a server
            log.warning("kernel server unavailable (%s): starting the kernel on its own", error)
            return await super().launch_kernel(cmd, **kwargs)
        self.process = ForkedProcess(pid)  # type: ignore[assignment]  # what the provisioner uses of a Popen
        self.pid, self.pgid, self.cwd = pid, None, pathlib.Path(cwd)
        return self.connection_info


def _become_kernel(request: dict, server_pid: int, reply_end: int) -> None:
    """In the forked child: the kernel's own session, environment and folder, then ipykernel."""
    os.close(reply_end)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the server's requests are not the kernel's input
    os.close(devnull)
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    die_with_parent(server_pid)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # its parent is the server: ipykernel ends when it is gone (the option's default was read from
    # the environment when the server imported ipykernel)
    sys.argv = [LAUNCHER, *request["argv"], f"--IPKernelApp.parent_handle={server_pid}"]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def serve(reply_end: int, preload: list[str]) -> None:
    """The server: import, then fork one kernel per request line until standard input closes.
    A request that comes while the ``preload`` modules are being imported is served between two
    of them (the first pipeline step's kernel does not wait for the marts' modules)."""
    # what ipykernel sets before a kernel's first import of matplotlib, set before the server's
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    import ipykernel.kernelapp  # noqa: F401  (what every kernel runs)

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernels are reaped as they end
    requests = os.fdopen(0, "rb", buffering=0)  # unbuffered: select() sees every line not yet read
    server_pid = os.getpid()

    def serve_one() -> bool:
        line = requests.readline()
        if not line:
            return False
        pid = os.fork()
        if pid == 0:
            try:
                _become_kernel(json.loads(line), server_pid, reply_end)
            finally:
                os._exit(0)
        os.write(reply_end, f"{pid}\n".encode())
        return True

    for name in preload:
        while select.select([requests], [], [], 0)[0]:
            if not serve_one():
                return
        try:
            import_module(name)
        except Exception as error:  # a kernel importing it shows the error in its notebook, as without a server
            print(f"kernel server: {name} not imported ahead: {error!r}", file=sys.stderr)
    while serve_one():
        pass


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2:])
