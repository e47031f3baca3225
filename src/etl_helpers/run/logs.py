"""The log records of the processes a run starts (its notebook kernels),
forwarded to the runner: they reach its console and ``run.log``, never a report's stderr.

The runner opens :func:`receiving` around its steps: a Unix datagram socket in a private
folder, named in the environment (:data:`SOCKET_VARIABLE`) that kernels inherit.
Each of them calls :func:`forward_to_runner` as it starts (a kernel through its start-up
lines): its records (the package's from INFO, any other from WARNING) go to the socket as
JSON, and a thread of the runner hands each to the runner's own handlers. Outside a run (a
notebook in JupyterLab) :func:`forward_to_runner` does nothing.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SOCKET_VARIABLE = "ETL_RUN_LOG_SOCKET"
PACKAGE = "etl_helpers"
FIELDS = ("name", "levelno", "levelname", "msg", "created", "process", "exc_text")
MAX_TEXT = 8_000  # characters of a message or traceback: a datagram stays well under the system's limit
MAX_RECORD_BYTES = 1 << 16


class _JsonDatagramHandler(logging.handlers.DatagramHandler):
    """A record as JSON (message formatted, traceback as text), to a Unix datagram socket."""

    def makePickle(self, record: logging.LogRecord) -> bytes:
        text = logging.Formatter().formatException(record.exc_info) if record.exc_info else None
        fields = {
            "name": record.name,
            "levelno": record.levelno,
            "levelname": record.levelname,
            "msg": record.getMessage()[:MAX_TEXT],
            "created": record.created,
            "process": record.process,
            "exc_text": text[-MAX_TEXT:] if text else None,
        }
        return json.dumps(fields).encode("utf-8")


def _worth_forwarding(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or record.name == PACKAGE or record.name.startswith(PACKAGE + ".")


def forward_to_runner() -> bool:
    """In a process a run started: send its log records to the runner (and nowhere else: no
    stderr). Returns whether it does (False outside a run)."""
    path = os.environ.get(SOCKET_VARIABLE)
    if not path:
        return False
    handler = _JsonDatagramHandler(path, None)
    handler.setLevel(logging.INFO)
    handler.addFilter(_worth_forwarding)
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h, _JsonDatagramHandler)] + [handler]
    root.setLevel(logging.INFO)
    return True


def _handle(data: bytes) -> None:
    """A forwarded record, handed to the runner's root handlers (console, run.log)."""
    try:
        fields = json.loads(data)
    except ValueError:
        return
    record = logging.makeLogRecord({k: fields.get(k) for k in FIELDS})
    for handler in logging.getLogger().handlers:
        if record.levelno >= handler.level:
            handler.handle(record)


@contextmanager
def receiving() -> Iterator[Path]:
    """The runner's end: a socket the run's processes send their records to, named in the
    environment while the block runs; every record sent before it ends is handled."""
    folder = Path(tempfile.mkdtemp(prefix="etl-log-"))  # private (0700): only this user may send
    path = folder / "log.sock"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(path))
    receiver.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        while True:
            try:
                _handle(receiver.recv(MAX_RECORD_BYTES))
            except TimeoutError:
                if done.is_set():
                    return  # nothing left to read
            except OSError:
                return

    thread = threading.Thread(target=serve, name="run-log-receiver", daemon=True)
    thread.start()
    previous = os.environ.get(SOCKET_VARIABLE)
    os.environ[SOCKET_VARIABLE] = str(path)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(SOCKET_VARIABLE, None)
        else:
            os.environ[SOCKET_VARIABLE] = previous
        done.set()
        thread.join()
        receiver.close()
        shutil.rmtree(folder, ignore_errors=True)
