"""`make lab` starts JupyterLab headless (as root too) on the notebooks and prints its URL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

from etl_helpers.settings import PROJECT_ROOT


def test_make_lab_starts_headless_and_prints_the_url(tmp_path):
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    lab = subprocess.Popen(["make", "-s", "lab", "LAB_ARGS=--no-browser --ip 127.0.0.1 --port 0 "
                            + ("--allow-root" if os.getuid() == 0 else "")],
                           cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, start_new_session=True)
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = lab.stdout.readline()
            if not line:
                break
            found = re.search(r"http://127\.0\.0\.1:\d+/lab\?token=\w+", line)
            url = found.group(0) if found else None
        assert url, "JupyterLab printed no URL"
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=60)


def test_make_lab_passes_allow_root_as_root():
    dry = subprocess.run(["make", "-n", "lab"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    assert "--no-browser --ip 127.0.0.1" in dry
    assert ("--allow-root" in dry) == (os.getuid() == 0)
