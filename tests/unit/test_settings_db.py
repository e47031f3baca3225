from pathlib import Path

import pytest

from etl_helpers import db
from etl_helpers.settings import SettingsError, load_settings


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


def test_time_limits_come_from_the_environment(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ETL_STATEMENT_TIMEOUT", "120")
    (tmp_path / ".env").write_text("ETL_LOCK_TIMEOUT=2.5\n")
    settings = load_settings(tmp_path)
    assert (settings.statement_timeout, settings.lock_timeout) == (120.0, 2.5)
    assert settings.idle_in_transaction_timeout == 1800.0 and settings.connect_timeout == 5.0  # the defaults


@pytest.mark.parametrize("value", ["0", "-5", "abc", "nan", "inf"])
def test_a_time_limit_that_is_not_a_positive_number_is_refused_by_name(tmp_path: Path, monkeypatch, value):
    monkeypatch.setenv("ETL_LOCK_TIMEOUT", value)
    with pytest.raises(SettingsError, match="ETL_LOCK_TIMEOUT must be a positive number of seconds"):
        load_settings(tmp_path)


def test_a_runners_child_reaches_the_embedded_server_the_runner_holds(tmp_path: Path, monkeypatch):
    """The runner gives its kernels and workers its embedded server's address: they connect to it
    without pgserver's machine-wide lock. Only for the same data folder; DATABASE_URL wins."""
    from etl_helpers.settings import Settings

    settings = Settings(workdir=tmp_path, pgdata=tmp_path / ".pgdata")
    monkeypatch.setenv(db.EMBEDDED_URI_ENV, "postgresql://postgres@/postgres?host=/sockets")
    monkeypatch.setenv(db.EMBEDDED_PGDATA_ENV, str(settings.pgdata))
    assert db.database_url(settings) == "postgresql://postgres@/postgres?host=/sockets"
    assert db.children_environment(settings) == {db.EMBEDDED_URI_ENV: "postgresql://postgres@/postgres?host=/sockets",
                                                 db.EMBEDDED_PGDATA_ENV: str(settings.pgdata)}
    server = Settings(workdir=tmp_path, database_url="postgresql://analyst@db.example/warehouse")
    assert db.database_url(server) == "postgresql://analyst@db.example/warehouse"
    assert db.children_environment(server) == {}
