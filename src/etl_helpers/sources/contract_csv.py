"""Render rows as a contract file: the one CSV renderer every source uses for row records.

UTF-8 without a BOM, comma delimiter, ``\\n`` line ends, a header row with exactly the
contract's column names in the contract's order, and a field quoted only when it needs it
(``Eau minérale Evian 1,5 L``). Every row must carry every required column of its entity: a
missing key is a bug in the source, not an empty value. An optional column a row does not carry
(e.g. the stores' ``closed_on``) is written empty.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping

from etl_helpers.contract import ENTITIES


def render_csv(entity: str, rows: Iterable[Mapping[str, object]]) -> bytes:
    columns = ENTITIES[entity].columns
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.name for c in columns])
    writer.writerows([row[c.name] if c.required else row.get(c.name, "") for c in columns] for row in rows)
    return buffer.getvalue().encode("utf-8")
