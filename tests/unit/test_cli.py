"""Case 24 and usage errors: bad input exits 2 with one line, before anything runs or is written."""

import io
import logging
import sys

import pytest

from etl_helpers import cli, runner
from etl_helpers.parameters import parse_value


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


def test_parameter_values_take_the_type_of_their_default():
    assert parse_value("max_len", "3", 3) == 3 and parse_value("min_support", "0.5", 0.01) == 0.5
    assert parse_value("flag", "true", False) is True and parse_value("name", "abc", "x") == "abc"
    assert isinstance(parse_value("min_support", "1", 0.01), float)


@pytest.fixture
def untouched(tmp_path, monkeypatch):
    """A work folder that must stay empty and a database that must not even be tried."""
    monkeypatch.setenv("ETL_WORKDIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/never")
    yield tmp_path
    assert list(tmp_path.iterdir()) == []


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_a_misspelled_parameter_exits_2_naming_the_closest_valid_one(untouched, capsys):
    assert cli.main(["--date", "2026-11-30", "-p", "min_suport", "0.005"]) == 2
    err = _one_error_line(capsys)
    assert "min_suport" in err and "did you mean 'min_support'" in err and "window_days" in err


def test_a_parameter_no_selected_notebook_declares_exits_2(untouched, capsys):
    assert cli.main(["--date", "2026-11-30", "--only", "schema", "-p", "min_support", "0.02"]) == 2
    assert "no selected notebook declares it" in _one_error_line(capsys)


@pytest.mark.parametrize("name, value, expected", [
    ("window_days", "abc", "expected int"), ("window_days", "-1", "must lie in [1, 3660]"),
    ("min_support", "0", "must lie in (0, 1]"), ("min_support", "nan", "expected float"),
    ("min_confidence", "1.5", "must lie in (0, 1]"), ("max_len", "10", "must lie in [2, 5]"),
])
def test_bad_parameter_values_exit_2_before_anything_starts(untouched, capsys, name, value, expected):
    assert cli.main(["--date", "2026-11-30", "-p", name, value]) == 2
    assert expected in _one_error_line(capsys)


@pytest.mark.parametrize("name", ["run_date", "run_id", "export_dir", "raw_path", "source"])
def test_parameters_the_runner_sets_cannot_be_overridden(untouched, capsys, name):
    assert cli.main(["--date", "2026-11-30", "-p", name, "../../x"]) == 2
    assert "set by the runner" in _one_error_line(capsys)


@pytest.mark.parametrize("option, value", [
    ("--cell-timeout", "0"), ("--cell-timeout", "nan"), ("--cell-timeout", "inf"), ("--cell-timeout", "-5"),
    ("--wait", "nan"), ("--wait", "inf"), ("--wait", "-1"), ("--jobs", "0"),
])
def test_timeouts_and_waits_must_be_finite_and_positive(untouched, capsys, option, value):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--date", "2026-11-30", option, value])
    assert exit_.value.code == 2
    assert "finite number" in capsys.readouterr().err


@pytest.mark.parametrize("bad_date", ["9999-12-31", "1999-12-31", "2101-01-01"])
def test_run_dates_outside_the_documented_range_exit_2(untouched, capsys, bad_date):
    assert cli.main(["--date", bad_date]) == 2
    assert "run dates go from 2000-01-01 to 2100-12-31" in _one_error_line(capsys)


def test_a_long_backfill_needs_yes(untouched, capsys):
    assert cli.main(["--start", "2021-01-01", "--end", "2026-01-01"]) == 2
    assert "pass --yes" in _one_error_line(capsys)
    assert cli.main(["--start", "2026-01-01", "--end", "2026-02-28", "--only", "schema", "--dry-run", "--yes"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 59


def test_case_53_a_raw_folder_without_contract_files_exits_2(untouched, capsys, tmp_path_factory):
    assert cli.main(["--date", "2026-11-30", "--source", "canonical", "--raw", "/etc"]) == 2
    assert "no raw file of the contract" in _one_error_line(capsys)
    later_only = tmp_path_factory.mktemp("raw")
    (later_only / "sales").mkdir()
    (later_only / "sales" / "sales_2026-12-01.csv").write_text("x\n")
    assert cli.main(["--date", "2026-11-30", "--source", "canonical", "--raw", str(later_only)]) == 2
    assert "dated on or before 2026-11-30" in _one_error_line(capsys)


def test_a_relative_raw_folder_reaches_the_notebooks_as_an_absolute_path(untouched, capsys, tmp_path_factory,
                                                                         monkeypatch):
    here = tmp_path_factory.mktemp("caller")
    (here / "extracts" / "sales").mkdir(parents=True)
    (here / "extracts" / "sales" / "sales_2026-11-30.csv").write_text("x\n")
    monkeypatch.chdir(here)  # the kernels run in notebooks/: a path relative to the caller must not reach them
    assert cli.main(["--date", "2026-11-30", "--source", "canonical", "--raw", "extracts", "--dry-run"]) == 0
    facts = next(line for line in capsys.readouterr().out.splitlines() if "20_facts" in line)
    assert f"raw_path='{here / 'extracts'}'" in facts


def test_dry_run_shows_each_notebooks_resolved_parameters(untouched, capsys):
    assert cli.main(["--date", "2026-11-30", "--dry-run", "-p", "min_support", "0.02", "-p", "max_len", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    affinity = next(line for line in lines if "41_fidelite_affinity" in line)
    assert "min_support=0.02" in affinity and "max_len=4" in affinity and "run_date='2026-11-30'" in affinity
    segmentation = next(line for line in lines if "40_fidelite_segmentation" in line)
    assert "min_support" not in segmentation


@pytest.mark.parametrize("extra", [["--date", "2026-11-30"], ["--only", "facts"], ["-p", "max_len", "3"],
                                   ["--source", "superstore"]])
def test_reset_database_goes_alone(untouched, capsys, extra):
    assert cli.main(["--reset-database", "--yes", *extra]) == 2
    assert "--reset-database goes alone" in _one_error_line(capsys)


def test_reset_database_off_a_terminal_needs_yes(untouched, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert cli.main(["--reset-database"]) == 2
    assert "pass --yes" in _one_error_line(capsys)


def test_json_goes_with_history(untouched, capsys):
    assert cli.main(["--date", "2026-11-30", "--json"]) == 2


def test_the_demo_profile_reaches_the_loading_notebooks(untouched, capsys):
    assert cli.main(["--date", "2026-11-30", "--dry-run", "--profile", "wholesale"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for notebook in ("10_dimensions", "20_facts"):
        assert "profile='wholesale'" in next(line for line in lines if notebook in line)


def test_an_unknown_profile_exits_2(untouched, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--date", "2026-11-30", "--profile", "giant"])
    assert stop.value.code == 2


@pytest.fixture
def root_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_console_log_goes_to_the_stderr_of_the_moment(root_logging, monkeypatch):
    """A command run in-process (a test, a scheduler's task) leaves no handler bound to a stream
    that is gone: the next records go to whatever stderr is then, and none fails to print."""
    cli.configure_logging("INFO")
    before, after = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", before)
    logging.getLogger("etl_helpers.test").info("first")
    before.close()
    monkeypatch.setattr(sys, "stderr", after)
    logging.getLogger("etl_helpers.test").info("second")
    assert "second" in after.getvalue() and "Logging error" not in after.getvalue()
