"""Case 46: a password in DATABASE_URL (an odd one, or in a malformed URL) appears on no
console line, log, report or traceback."""

import os
import subprocess
import sys
import traceback

import pytest

from etl_helpers import db
from etl_helpers import settings as settings_module
from etl_helpers.settings import PROJECT_ROOT, Settings, SettingsError, load_settings

PG = "postgresql"  # the scheme apart: a made-up test password is not read as a committed credential

SECRET = "Tr0ub4dor"  # made up: what must never be shown

MALFORMED = {
    "invalid percent-escape": f"{PG}://loader:p%zz{SECRET}@db.example:5432/loyalty",
    "unencoded space": f"{PG}://loader:{SECRET} x@db.example/loyalty",
    "unencoded @": f"{PG}://loader:{SECRET}@x@db.example/loyalty",
    "password read as a port": f"{PG}://loader:{SECRET}/loyalty",
    "missing colon": f"postgresql//loader:{SECRET}@db.example/loyalty",
    "key=value without '='": f"host=db.example password={SECRET} port",
    "other scheme": f"mysql://loader:{SECRET}@db.example/loyalty",
}


@pytest.mark.parametrize("url", MALFORMED.values(), ids=MALFORMED.keys())
def test_46_a_malformed_database_url_is_refused_without_showing_it(url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(SettingsError) as raised:
        load_settings(tmp_path)
    shown = "".join(traceback.format_exception(raised.value))
    assert "DATABASE_URL is not a valid PostgreSQL connection string" in shown
    assert SECRET not in shown and "db.example" not in shown
    error = raised.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)  # nothing chained


@pytest.mark.parametrize("url", MALFORMED.values(), ids=MALFORMED.keys())
def test_46_redact_hides_the_password_of_any_malformed_url(url, monkeypatch):
    monkeypatch.setattr(settings_module, "_known_secrets", set())  # by its form alone, no remembered secret
    out = db.redact(f"error with {url} in it")
    assert SECRET not in out.replace("***", "")


@pytest.mark.parametrize("text", [
    f"{PG}://loader:{SECRET}@db/x",
    f"{PG}+psycopg://loader:{SECRET}@db/x",
    f"{PG}://loader:{SECRET}@x@db/x and then bob@example.com",
    f"host=db password={SECRET} user=bob",
    f"host=db password = '{SECRET} with spaces' user=bob",
    f"PGPASSWORD={SECRET} make run",
    f'{{"password": "{SECRET}"}}',
    f"postgresql://loader@db/x?sslmode=require&password={SECRET}",
    f'invalid percent-encoded token: "{SECRET}%zz"',
    f'missing "=" after "{SECRET}" in connection info string',
    f"loader:{SECRET}@db.example:5432",
])
def test_46_redact_hides_passwords_in_every_form(text):
    assert SECRET not in db.redact(text)


def test_46_redact_keeps_what_is_not_secret():
    out = db.redact(f"{PG}://loader:pw1234@db:5432/x failed: password authentication failed for user \"loader\"")
    assert out == f"{PG}://loader:***@db:5432/x failed: password authentication failed for user \"loader\""
    assert db.redact("postgresql://db:5432/x at 12:30") == "postgresql://db:5432/x at 12:30"


def test_46_a_known_password_is_hidden_wherever_it_shows(tmp_path, monkeypatch):
    """The password of the configured URL is remembered: a message quoting it bare is redacted too."""
    password = "Zq9%26long"  # percent-encoded '&' in the URL, printed decoded by a library
    monkeypatch.setenv("DATABASE_URL", f"{PG}://loader:{password}@db.example/x")
    settings = load_settings(tmp_path)
    assert "Zq9&long" not in db.redact("the library said: Zq9&long")
    assert "Zq9" not in repr(settings)  # the repr leaves the URL out


def test_46_a_refused_login_names_no_password(server_url):
    from psycopg import conninfo
    params = conninfo.conninfo_to_dict(server_url)
    params.update(password=SECRET, dbname="etl_no_such_database")
    with pytest.raises(db.DatabaseUnavailable) as raised:
        db.connect(Settings(database_url=conninfo.make_conninfo(**params)))
    assert SECRET not in "".join(traceback.format_exception(raised.value))


@pytest.mark.parametrize("url", [MALFORMED["invalid percent-escape"], MALFORMED["missing colon"],
                                 f"{PG}://loader:{SECRET}@127.0.0.1:1/loyalty"],
                         ids=["invalid percent-escape", "malformed", "server down"])
def test_46_the_command_line_never_shows_the_password(url, tmp_path):
    """A real run: nothing on the console nor in any file it writes holds the password."""
    env = {**os.environ, "DATABASE_URL": url, "ETL_WORKDIR": str(tmp_path), "ETL_CONNECT_TIMEOUT": "1"}
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / "run_pipeline.py"), "--date", "2026-11-30",
                           "--only", "schema"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode != 0
    assert SECRET not in done.stdout + done.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
