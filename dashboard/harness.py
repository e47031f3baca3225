"""The app served and a browser opened, as the browser test and the dashboard benchmark both
need them: ``make dashboard`` on a free port over an exports folder, and Debian's chromium
(headless, through Selenium and the system chromedriver). Both are stopped by their pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
BROWSER_ARGUMENTS = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,2200", "--lang=en-GB")


class DashboardDidNotStart(RuntimeError):
    """``make dashboard`` ended, or did not answer in time; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


@contextmanager
def serve(exports: Path, log: Path, timeout: float) -> Iterator[tuple[str, int]]:
    """``make dashboard`` over ``exports`` on a free port, its output in ``log``: yields (its URL,
    the pid of make) once it answers; raises :class:`DashboardDidNotStart` if make ends or
    ``timeout`` seconds pass first. Make and the streamlit it started are stopped at the end."""
    port = free_port()
    with log.open("w") as out:
        server = subprocess.Popen(
            ["make", "--no-print-directory", "dashboard", f"DASHBOARD_PORT={port}",
             f"DASHBOARD_EXPORTS_DIR={exports}"],
            cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not healthy(url):
            if server.poll() is not None:
                raise DashboardDidNotStart(f"make dashboard ended:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise DashboardDidNotStart(f"the dashboard did not answer:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, server.pid
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # make and the streamlit it started (one process group)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@contextmanager
def chromium() -> Iterator[Any]:
    """A Selenium driver of headless chromium; quit at the end (it ends chromium and the
    chromedriver it started)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in BROWSER_ARGUMENTS:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
