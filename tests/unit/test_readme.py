"""The README tells the truth about the tree: every `make` target it shows exists, every path of
its layout section exists, every run_pipeline.py option it shows is one the command line takes."""

from __future__ import annotations

import re

from etl_helpers.cli import build_parser
from etl_helpers.settings import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")


def _code(text: str = README) -> list[str]:
    """The code of ``text``: fenced blocks and inline `spans`."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.M | re.S)
    return fenced + re.findall(r"`([^`\n]+)`", prose)


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, flags=re.M | re.S)
    assert match, f"the README has no section {title!r}"
    return match[1]


def _layout_paths() -> list[str]:
    block = re.search(r"^```\n(.*?)^```", _section("Layout"), flags=re.M | re.S)
    assert block
    paths, parent = [], ""
    for line in block[1].splitlines():
        indent = len(line) - len(line.lstrip())
        names = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0].split()
        if indent == 0:
            parent = names[0] if names[0].endswith("/") else parent
            paths += names
        elif indent == 2:  # a module of the folder above
            paths += [parent + name for name in names]
        # deeper: the description of the line above, continued
    return paths


def test_every_make_target_the_readme_shows_exists():
    targets = set(re.findall(r"^([A-Za-z][\w-]*):", MAKEFILE, flags=re.M))
    shown = {target for code in _code() for target in re.findall(r"(?:^|[\s;(])make ([a-z][\w-]*)", code, flags=re.M)}
    layout_line = re.search(r"^Makefile\s{2,}make (.*)$", _section("Layout"), flags=re.M)
    assert layout_line
    shown |= {name.strip() for name in layout_line[1].split("|")}
    assert {"run", "test", "db-url", "stop-db", "lab"} <= shown
    assert shown - targets == set()


def test_every_path_of_the_layout_section_exists():
    paths = _layout_paths()
    assert "src/etl_helpers/run/" in paths and "src/etl_helpers/charts.py" in paths
    missing = []
    for path in paths:
        # a folder a run fills (exports/<mart>/<date>/): its top folder is in the repo
        concrete = path.split("/", 1)[0] + "/" if "<" in path else path
        if not (list(PROJECT_ROOT.glob(concrete)) if "*" in concrete else (PROJECT_ROOT / concrete).exists()):
            missing.append(path)
    assert missing == []


def test_every_file_the_readme_names_exists():
    named = {span for span in _code() if re.fullmatch(r"(src|tests|sql|docs|dashboard|notebooks|bench|etl_helpers)/[\w/.-]+", span)}
    assert "sql/olap_queries.sql" in named
    generated = set((PROJECT_ROOT / ".gitignore").read_text().split())  # bench/cache/, tests/artifacts/: made by a run
    missing = sorted(path for path in named - generated
                     if not (PROJECT_ROOT / ("src/" + path if path.startswith("etl_helpers/") else path)).exists())
    assert missing == []


def test_every_run_pipeline_option_the_readme_shows_exists():
    options = {option for action in build_parser()._actions for option in action.option_strings}
    lines = [line for code in _code() for line in code.splitlines()
             if "run_pipeline.py" in line or "loyalty-pipeline" in line]
    lines += _code(_section("Running it"))  # the options described there, in `code` spans
    shown = {option for line in lines for option in re.findall(r"(?<![\w-])(--[a-z][\w-]*|-p)\b", line.split("#", 1)[0])}
    assert {"--date", "--source", "--history", "-p", "--profile", "--reset-database"} <= shown
    assert shown - options == set()


def test_the_quick_start_is_two_commands():
    block = re.search(r"^```bash\n(.*?)^```", _section("Quick start"), flags=re.M | re.S)
    assert block
    commands = [line.split("#", 1)[0].strip() for line in block[1].splitlines() if line.strip()]
    assert commands == ["make run", "make test"]
