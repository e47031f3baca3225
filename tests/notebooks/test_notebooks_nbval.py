"""The committed notebooks, as they stand (default parameters, no papermill), under nbval
in lax mode against a fresh database: they must run top to bottom on demo ``small``."""

import os
import subprocess
import sys

import pytest

from etl_helpers.settings import PROJECT_ROOT

pytestmark = pytest.mark.notebooks


def test_notebooks_run_under_nbval(make_database, tmp_path):
    notebooks = sorted(str(p) for p in (PROJECT_ROOT / "notebooks").glob("*.ipynb"))
    env = {**os.environ, "DATABASE_URL": make_database(), "ETL_WORKDIR": str(tmp_path)}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
         "--nbval-cell-timeout", "900", "-o", "addopts=", *notebooks],
        cwd=PROJECT_ROOT / "notebooks", env=env, capture_output=True, text=True, timeout=1800,
    )
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-2000:]
    assert " passed" in completed.stdout
