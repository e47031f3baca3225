from pathlib import Path

from etl_helpers import db
from etl_helpers.settings import load_settings


def test_redact_hides_passwords_in_urls_and_keywords():
    fake_password = "s3cr%40t"  # made up: what redact must hide
    text = "postgresql://loader:" + fake_password + "@db:5432/x and password=hunter2 user=bob"
    out = db.redact(text)
    assert "s3cr" not in out and "hunter2" not in out
    assert "loader:***@db" in out and "user=bob" in out


def test_settings_read_env_file(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://u@h/d\n")
    settings = load_settings(tmp_path)
    assert settings.database_url == "postgresql://u@h/d"
    assert settings.raw_dir == tmp_path / "data" / "raw"


def test_environment_wins_over_env_file(tmp_path: Path, monkeypatch):
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://u@h/file\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/env")
    assert load_settings(tmp_path).database_url == "postgresql://u@h/env"
