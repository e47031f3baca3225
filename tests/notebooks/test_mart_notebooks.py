"""A mart notebook run by hand (plain papermill, no export_dir) writes only under the scratch
folder and says so in its first output; given an export_dir, it writes exactly there."""

from __future__ import annotations

import json

import papermill
import pytest

from etl_helpers.settings import PROJECT_ROOT

pytestmark = pytest.mark.notebooks

NOTEBOOK = PROJECT_ROOT / "notebooks" / "50_vente_products.ipynb"


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _run(demo_warehouse, monkeypatch, workdir, output, **parameters):
    monkeypatch.setenv("DATABASE_URL", demo_warehouse.database_url)
    monkeypatch.setenv("ETL_WORKDIR", str(workdir))
    papermill.execute_notebook(str(NOTEBOOK), str(output), parameters=parameters, cwd=str(NOTEBOOK.parent),
                               progress_bar=False, kernel_name="python3")
    return json.loads(output.read_text(encoding="utf-8"))


def _first_output(notebook) -> str:
    for cell in notebook["cells"]:
        for out in cell.get("outputs", []):
            if out.get("name") == "stderr":  # library noise is not the notebook's output
                continue
            data = out.get("data", {})
            return "".join(data.get("text/markdown") or data.get("text/plain") or out.get("text", ""))
    return ""


def test_a_notebook_run_by_hand_writes_only_under_the_scratch_folder(demo_warehouse, monkeypatch, tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    executed = _run(demo_warehouse, monkeypatch, workdir, tmp_path / "out.ipynb")
    scratch = "exports/scratch/fact_vente_mart/2026-11-30/"
    written = _files(workdir)
    assert written and all(path.startswith(scratch) for path in written), written
    assert f"{scratch}top_products_by_quantity.csv" in written
    assert f"{scratch}charts/top_products.png" in written
    first = _first_output(executed)
    assert "scratch folder" in first and "2026-11-30" in first


def test_a_notebook_given_an_export_dir_writes_exactly_there(demo_warehouse, monkeypatch, tmp_path):
    workdir, staging = tmp_path / "work", tmp_path / "staging"
    workdir.mkdir()
    executed = _run(demo_warehouse, monkeypatch, workdir, tmp_path / "out.ipynb", export_dir=str(staging),
                    currency="USD", top_n=5)
    assert _files(workdir) == []
    assert "top_products_by_quantity.csv" in _files(staging)
    first = _first_output(executed)
    assert "scratch" not in first and str(staging) in first and "USD" in first and "top_n = 5" in first
