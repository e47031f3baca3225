"""ETL_PGDATA and ETL_WORKDIR name the same folders from every working directory: the runner
starts in the checkout, its notebook kernels in notebooks/ (a relative ETL_PGDATA once gave the
kernels a second, empty database under notebooks/)."""

from __future__ import annotations

from pathlib import Path

from etl_helpers.settings import load_settings


def test_relative_folders_are_relative_to_the_project_root_from_any_working_directory(tmp_path, monkeypatch):
    root = tmp_path / "checkout"
    (root / "notebooks").mkdir(parents=True)
    monkeypatch.setenv("ETL_PGDATA", ".pgdata-superstore")
    monkeypatch.setenv("ETL_WORKDIR", "work-superstore")
    seen = set()
    for cwd in (root, root / "notebooks", tmp_path):
        monkeypatch.chdir(cwd)
        settings = load_settings(root)
        seen.add((settings.pgdata, settings.workdir, settings.exports_dir))
    assert seen == {(root / ".pgdata-superstore", root / "work-superstore", root / "work-superstore" / "exports")}


def test_absolute_folders_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("ETL_PGDATA", str(tmp_path / "pg"))
    monkeypatch.setenv("ETL_WORKDIR", str(tmp_path / "work"))
    monkeypatch.chdir(tmp_path)
    settings = load_settings(Path(tmp_path / "checkout"))
    assert (settings.pgdata, settings.workdir) == (tmp_path / "pg", tmp_path / "work")
