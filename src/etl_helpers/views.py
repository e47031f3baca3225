"""Parse ``sql/olap_queries.sql`` into named view blocks and create them, then the marts'
shared SQL functions (``sql/marts/shared/<function>.sql``, one per file).

Each block starts with a ``-- name: <view>`` header line. The parser is strict: text before
the first header, a header without a valid name, a repeated name, or a block with no SQL
statement is an error, never a silently empty view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from etl_helpers import citus, db
from etl_helpers.settings import PROJECT_ROOT

OLAP_QUERIES = PROJECT_ROOT / "sql" / "olap_queries.sql"
SHARED_FUNCTIONS = PROJECT_ROOT / "sql" / "marts" / "shared"
HEADER = re.compile(r"^--\s*name:\s*(?P<name>.*?)\s*$")
VALID_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class ViewFileError(ValueError):
    """The named-views file is malformed; the message names the line."""


@dataclass(frozen=True)
class ViewBlock:
    name: str
    sql: str
    line: int  # where the header stands


def _is_blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("--")


def parse_views(text: str, source: str = "olap_queries.sql") -> list[ViewBlock]:
    blocks: list[ViewBlock] = []
    current_name: str | None = None
    current_line = 0
    body: list[str] = []

    def close() -> None:
        if current_name is None:
            return
        statement = "\n".join(body).strip()
        if all(_is_blank_or_comment(line) for line in body):
            raise ViewFileError(f"{source}:{current_line}: view block {current_name!r} has no SQL")
        if not re.search(rf"\bview\s+(\w+\.)?{re.escape(current_name)}\b", statement, re.IGNORECASE):
            raise ViewFileError(f"{source}:{current_line}: block {current_name!r} does not create a view of that name")
        blocks.append(ViewBlock(current_name, statement, current_line))

    for number, line in enumerate(text.splitlines(), start=1):
        header = HEADER.match(line)
        if header:
            close()
            name = header["name"]
            if not VALID_NAME.match(name):
                raise ViewFileError(f"{source}:{number}: invalid or missing view name {name!r}")
            if any(b.name == name for b in blocks):
                raise ViewFileError(f"{source}:{number}: view {name!r} is defined twice")
            current_name, current_line, body = name, number, []
        elif current_name is None:
            if not _is_blank_or_comment(line):
                raise ViewFileError(f"{source}:{number}: SQL before the first '-- name:' header")
        else:
            body.append(line)
    close()
    if not blocks:
        raise ViewFileError(f"{source}: no '-- name:' blocks found")
    return blocks


def load_views(path: Path = OLAP_QUERIES) -> list[ViewBlock]:
    return parse_views(path.read_text(encoding="utf-8"), source=path.name)


def create_views(conn: psycopg.Connection, path: Path = OLAP_QUERIES) -> list[str]:
    """Create or replace every named view, in file order, then the shared functions; returns the
    views' names."""
    blocks = load_views(path)
    for block in blocks:
        db.replace_view(conn, "marts", block.name, block.sql)  # unchanged: left alone; else a bounded lock wait
    create_functions(conn)
    return [b.name for b in blocks]


def create_functions(conn: psycopg.Connection, folder: Path = SHARED_FUNCTIONS) -> list[str]:
    """Create or replace the marts' shared SQL functions (plain ``language sql`` functions the
    planner inlines). Their bodies may read aggregates not built yet, so they are checked when
    called, not when created."""
    names = []
    with conn.transaction():
        previous = db.scalar(conn, "select current_setting('check_function_bodies')")
        conn.execute("select set_config('check_function_bodies', 'off', true)")
        for path in sorted(folder.glob("*.sql")):
            conn.execute(citus.shared_function(conn, path.read_text(encoding="utf-8")))
            names.append(path.stem)
        conn.execute("select set_config('check_function_bodies', %s, true)", (previous,))
    return names
