"""Case 24 and usage errors: bad input exits 2 with one line, before anything runs or is written."""

import pytest

from etl_helpers import cli, runner


@pytest.mark.parametrize("bad_date", ["2026-02-30", "2026-13-45", "2026-01-01; rm -rf /", "20261130", "", "tomorrow"])
def test_bad_dates_exit_2_and_write_nothing(bad_date, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ETL_WORKDIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/never")  # must not even be tried
    assert cli.main(["--date", bad_date]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "invalid date" in err
    assert list(tmp_path.iterdir()) == []


def test_unknown_step_exits_2_naming_valid_steps(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ETL_WORKDIR", str(tmp_path))
    assert cli.main(["--date", "2026-11-30", "--only", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown step 'nope'" in err and "20_facts" in err
    assert list(tmp_path.iterdir()) == []


def test_backfill_range_checks_its_order(capsys):
    assert cli.main(["--start", "2026-11-30", "--end", "2026-11-01"]) == 2
    assert "before --start" in capsys.readouterr().err


def test_dry_run_lists_steps_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ETL_WORKDIR", str(tmp_path))
    assert cli.main(["--start", "2026-11-29", "--end", "2026-11-30", "--from", "views", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * 5 and lines[0].startswith("2026-11-29 [1/5] 30_views")
    assert list(tmp_path.iterdir()) == []


def test_step_selection_by_name_and_short_name():
    assert [s.notebook for s in runner.select_steps(["facts", "00_schema"])] == ["00_schema", "20_facts"]
    assert runner.select_steps(None, "51_vente_geo_time")[0].notebook == "51_vente_geo_time"
    with pytest.raises(runner.UsageError):
        runner.select_steps(["facts"], "views")


def test_parameter_values_are_typed():
    assert cli.parameter_value("3") == 3 and cli.parameter_value("0.5") == 0.5
    assert cli.parameter_value("true") is True and cli.parameter_value("abc") == "abc"
