"""Whether a process the tests started has ended (a zombie has: its status waits for its parent)."""

from __future__ import annotations

import time

import psutil


def is_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until_gone(pid: int, seconds: float = 30) -> bool:
    """Whether ``pid`` is gone within ``seconds`` (a forked kernel is reaped by its server a moment after)."""
    deadline = time.monotonic() + seconds
    while not is_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return is_gone(pid)
