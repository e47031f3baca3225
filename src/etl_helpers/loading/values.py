"""Type and check raw text values with pyarrow, vectorised, one chunk at a time.

Every contract column is trimmed (empty = missing) and parsed according to its type; each
entity's bounds and accepted values are checked. A row keeps the first problem found (in
column order, then rule order) in ``problem``, with its raw text. Reference rows then go to
staging with COPY, where SQL checks what needs the other dimensions (keys once, regions);
ticket lines and loyalty events go on to ``events`` (calendar, codes, store dates).

Timestamps follow the contract's policy: ISO 8601 with a UTC offset is exact (column
``<name>``), an offset beyond ±14:00 is the line's problem; without an offset, or parsed with
the source's declared ``date_format``, it is Europe/Paris local time (column ``<name>_local``)
that ``events.place_in_time`` places in pyarrow, refusing local times that do not exist or
exist twice. A date such as ``03/04/2026`` is never guessed: without a declared format the
whole file is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from etl_helpers.contract import MAX_POINTS, MAX_QUANTITY, MAX_TEXT_LENGTH, MAX_UNIT_PRICE, Column, Entity, RawFormat
from etl_helpers.loading.reader import FileRejected

INT = r"^[+-]?\d{1,9}$"
DECIMAL = r"^[+-]?(\d{1,12}(\.\d{0,6})?|\.\d{1,6})$"
INT_LIMIT = 999_999_999  # what INT accepts: nine digits
DECIMAL_LIMIT = 10**12  # what DECIMAL accepts: twelve digits before the point
DECIMAL_TYPE = pa.decimal128(18, 6)  # holds every value DECIMAL accepts, exactly
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
ISO_TIMESTAMP = (
    r"^\d{4}-\d{2}-\d{2}[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-](0\d|1[0-4])(:?[0-5]\d)?)?$"
)
UTC_OFFSET = r"(Z|[+-]\d\d(:?\d\d)?)$"
# an offset beyond ±14:00, the widest any time zone uses (after a time, so a date's day is no offset)
OFFSET_BEYOND = r"\d\d:\d\d(:\d\d(\.\d+)?)?[+-]((1[5-9]|[2-9]\d)(:?\d\d)?|14:?(0[1-9]|[1-9]\d))$"
OFFSET_BEYOND_REASON = "UTC offset beyond ±14:00"
ISO_DATE_START = r"^\d{4}-\d{2}-\d{2}"
LOOKS_LIKE_DATE = r"^\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}"
TRUE_WORDS = ["true", "t", "1", "yes", "y"]
BOOL_WORDS = TRUE_WORDS + ["false", "f", "0", "no", "n"]
DEFAULTS = {("sales", "discount"): "0", ("loyalty", "points_earned"): "0", ("loyalty", "points_redeemed"): "0"}


def staging_columns(entity: Entity) -> list[tuple[str, str]]:
    """(name, PostgreSQL type) of ``staging.<entity>``, in COPY order."""
    sql_type = {
        "text": "text",
        "int": "integer",
        "numeric": "numeric",
        "date": "date",
        "bool": "boolean",
        "timestamptz": "timestamptz",
    }
    columns = [("file_id", "bigint"), ("line_no", "bigint"), ("problem", "text"), ("raw_text", "text")]
    for column in entity.columns:
        columns.append((column.name, sql_type[column.type]))
        if column.type == "timestamptz":
            columns.append((f"{column.name}_local", "timestamp"))
    return columns


# The declared date_format uses PostgreSQL's to_timestamp() patterns (what a SQL user knows).
PATTERN_CODES = (("YYYY", "%Y"), ("HH24", "%H"), ("MM", "%m"), ("DD", "%d"), ("MI", "%M"), ("SS", "%S"))


def strptime_format(pattern: str) -> str:
    """``DD/MM/YYYY HH24:MI`` -> ``%d/%m/%Y %H:%M``; a pattern with other letters is refused."""
    converted = pattern
    for token, code in PATTERN_CODES:
        converted = converted.replace(token, code)
    leftover = "".join(
        ch
        for ch in converted.replace("%Y", "")
        .replace("%H", "")
        .replace("%m", "")
        .replace("%d", "")
        .replace("%M", "")
        .replace("%S", "")
        if ch.isalpha()
    )
    if leftover:
        raise ValueError(f"date_format {pattern!r}: only YYYY, MM, DD, HH24, MI and SS are supported")
    return converted


class Problems:
    """The first problem of each row, kept as rules are applied in order (``first``: the
    problems already found, e.g. while typing)."""

    def __init__(self, rows: int, first: pa.Array | None = None):
        self.reason = pa.nulls(rows, pa.string()) if first is None else first

    def flag(self, mask: pa.Array, reason: str) -> None:
        mask = pc.fill_null(mask, False)
        if pc.any(mask).as_py():  # most rules flag no row: nothing to rewrite then
            self.reason = pc.if_else(pc.and_(pc.is_null(self.reason), mask), reason, self.reason)


def _text_bytes(values: pa.Array) -> bytes:
    """The bytes of ``values``' strings end to end (a slice's parent's: a test of them may
    find what the slice does not hold, never miss what it does)."""
    data = values.buffers()[2]
    return b"" if data is None else data.to_pybytes()


ASCII_WHITESPACE = b" \t\n\r\x0b\x0c"


def _clean(raw: pa.Array) -> pa.Array:
    """Trimmed, an empty value missing. A column of ASCII text with no whitespace (codes,
    numbers, timestamps: the usual one) needs no trimming: one scan of its bytes tells."""
    text = _text_bytes(raw)
    if text.isascii() and not any(byte in text for byte in ASCII_WHITESPACE):
        shortest = pc.min(pc.binary_length(raw)).as_py()
        if shortest is None or shortest > 0:
            return raw
        trimmed = raw
    else:  # non-ASCII text may hold Unicode whitespace
        trimmed = pc.utf8_trim_whitespace(raw)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _matches(values: pa.Array, pattern: str) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(values, pattern), False)


def _strict_cast(values: pa.Array, target: pa.DataType) -> pa.Array | None:
    """``values`` as ``target`` if every present value converts, else None (then each value
    is checked on its own, to name the bad ones)."""
    try:
        return pc.cast(values, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _has_exponent(values: pa.Array) -> bool:
    """Whether a value is written with an exponent (``1e3``), which the cast accepts and the
    contract does not. Two plain searches (a case-insensitive one is a regular expression),
    when the values' bytes hold the letter at all."""
    text = _text_bytes(values)
    if b"e" not in text and b"E" not in text:
        return False
    return any(pc.any(pc.match_substring(values, letter)).as_py() for letter in "eE")


def _only(values: pa.Array, mask: pa.Array) -> pa.Array:
    return pc.if_else(mask, values, pa.scalar(None, values.type))


@dataclass
class _Typed:
    """One column's output arrays (several for timestamps) and a numeric view for rules."""

    arrays: dict[str, pa.Array]
    number: pa.Array | None = None


def _type_column(column: Column, values: pa.Array, fmt: RawFormat, problems: Problems, where: _Where) -> _Typed:
    present = pc.is_valid(values)
    name = column.name
    if column.type == "text":
        if (pc.max(pc.binary_length(values)).as_py() or 0) > MAX_TEXT_LENGTH:  # no more characters than bytes
            problems.flag(pc.greater(pc.utf8_length(values), MAX_TEXT_LENGTH), f"{name}: text too long")
        return _Typed({name: values})
    if column.type == "int":
        typed = _strict_cast(values, pa.int64())
        if typed is not None and (pc.max(pc.abs(typed)).as_py() or 0) <= INT_LIMIT:
            return _Typed({name: typed}, typed)
        valid = _matches(values, INT)
        problems.flag(pc.and_(present, pc.invert(valid)), f"invalid {name}")
        typed = pc.cast(_only(values, valid), pa.int64())
        return _Typed({name: typed}, typed)
    if column.type == "numeric":
        normal = values
        if fmt.decimal == ",":  # "1.234" there is a thousands separator or a mistake: never 1.234
            normal = pc.if_else(
                _matches(values, r"\."), pa.scalar("not a number"), pc.replace_substring(values, ",", ".")
            )
        number = _strict_cast(normal, DECIMAL_TYPE)
        if number is not None and (pc.max(pc.abs(number)).as_py() or 0) < DECIMAL_LIMIT and not _has_exponent(normal):
            return _Typed({name: number}, pc.cast(number, pa.float64()))
        valid = _matches(normal, DECIMAL)
        problems.flag(pc.and_(present, pc.invert(valid)), f"invalid {name}")
        number = pc.cast(_only(normal, valid), DECIMAL_TYPE)
        return _Typed({name: number}, pc.cast(number, pa.float64()))
    if column.type == "bool":
        lowered = pc.utf8_lower(values)
        valid = pc.is_in(lowered, pa.array(BOOL_WORDS))
        problems.flag(pc.and_(present, pc.invert(valid)), f"{name} is not true/false")
        return _Typed({name: _only(pc.is_in(lowered, pa.array(TRUE_WORDS)), valid)})
    if column.type == "date":
        parsed = pc.strptime(_only(values, _matches(values, ISO_DATE)), "%Y-%m-%d", "s", error_is_null=True)
        problems.flag(pc.and_(present, pc.is_null(parsed)), f"invalid {name} (expected YYYY-MM-DD)")
        return _Typed({name: pc.cast(parsed, pa.date32())})
    if column.type == "timestamptz":
        return _type_timestamp(name, values, present, fmt, problems, where)
    raise ValueError(f"unknown contract type {column.type!r}")


def _type_timestamp(
    name: str, values: pa.Array, present: pa.Array, fmt: RawFormat, problems: Problems, where: _Where
) -> _Typed:
    if fmt.date_format:
        local = pc.strptime(values, strptime_format(fmt.date_format), "us", error_is_null=True)
        problems.flag(pc.and_(present, pc.is_null(local)), f"{name}: timestamp does not match the declared date_format")
        return _Typed({name: pa.nulls(len(values), pa.string()), f"{name}_local": local})
    beyond = _matches(values, OFFSET_BEYOND)
    problems.flag(beyond, f"{name}: {OFFSET_BEYOND_REASON}")
    exact = _strict_cast(values, pa.timestamp("us", tz="UTC"))
    if exact is not None:  # every value ISO 8601 with its UTC offset: the usual case, typed at once
        return _Typed(
            {name: _only(exact, pc.invert(beyond)), f"{name}_local": pa.nulls(len(values), pa.timestamp("us"))}
        )
    iso = _matches(values, ISO_TIMESTAMP)
    # a day/month order to guess refuses the file; an ISO date with a bad time or offset is that line's problem
    ambiguous_format = pc.and_(
        pc.and_(present, pc.invert(iso)),
        pc.and_(_matches(values, LOOKS_LIKE_DATE), pc.invert(_matches(values, ISO_DATE_START))),
    )
    if pc.any(ambiguous_format).as_py():
        first = pc.index(ambiguous_format, True).as_py()
        path, line = where(first)
        raise FileRejected(
            path,
            f"date {values[first].as_py()!r} is not ISO 8601 and its day/month order "
            "cannot be guessed: declare date_format in format.json",
            line,
        )
    day_ok = pc.is_valid(
        pc.strptime(pc.utf8_slice_codeunits(_only(values, iso), 0, 10), "%Y-%m-%d", "s", error_is_null=True)
    )
    valid = pc.and_(iso, day_ok)
    problems.flag(pc.and_(present, pc.invert(valid)), f"invalid {name} (expected ISO 8601)")
    with_offset = pc.and_(valid, _matches(values, UTC_OFFSET))
    local = pc.and_(valid, pc.invert(with_offset))
    return _Typed({name: _only(values, with_offset), f"{name}_local": _only(values, local)})


Rule = Callable[[dict[str, _Typed], date], list[tuple[pa.Array, str]]]


def _bounds(
    typed: dict[str, _Typed],
    column: str,
    low: float,
    high: float,
    reason: str,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> tuple[pa.Array, str]:
    value = typed[column].number
    below = pc.less(value, low) if low_inclusive else pc.less_equal(value, low)
    above = pc.greater(value, high) if high_inclusive else pc.greater_equal(value, high)
    return pc.or_(below, above), reason


def _sales_rules(typed: dict[str, _Typed], _: date) -> list[tuple[pa.Array, str]]:
    quantity, amount = typed["quantity"].number, typed["amount"].number
    return [
        (pc.less(typed["line_number"].number, 1), "invalid line_number"),
        (
            pc.or_(pc.equal(quantity, 0), pc.greater(pc.abs(quantity), MAX_QUANTITY)),
            f"quantity out of bounds (non-zero, |q| <= {MAX_QUANTITY})",
        ),
        _bounds(
            typed,
            "unit_price",
            0,
            MAX_UNIT_PRICE,
            f"unit_price out of bounds (0, {MAX_UNIT_PRICE}]",
            low_inclusive=False,
        ),
        _bounds(typed, "discount", 0, 1, "discount is not a rate in [0, 1)", high_inclusive=False),
        (pc.greater(pc.abs(amount), MAX_QUANTITY * MAX_UNIT_PRICE), "amount out of bounds"),
        (
            pc.less(pc.multiply(pc.sign(amount), pc.sign(quantity)), 0),
            "amount sign disagrees with quantity (a return has a negative amount)",
        ),
    ]


def _loyalty_rules(typed: dict[str, _Typed], _: date) -> list[tuple[pa.Array, str]]:
    reason = f"points out of bounds [0, {MAX_POINTS}]"
    return [
        _bounds(typed, "points_earned", 0, MAX_POINTS, reason),
        _bounds(typed, "points_redeemed", 0, MAX_POINTS, reason),
    ]


def _products_rules(typed: dict[str, _Typed], _: date) -> list[tuple[pa.Array, str]]:
    return [
        _bounds(
            typed,
            "list_price",
            0,
            MAX_UNIT_PRICE,
            f"list_price out of bounds (0, {MAX_UNIT_PRICE}]",
            low_inclusive=False,
        )
    ]


def _customers_rules(typed: dict[str, _Typed], business_date: date) -> list[tuple[pa.Array, str]]:
    gender = typed["gender"].arrays["gender"]
    return [
        _bounds(typed, "birth_year", 1900, business_date.year, "birth_year out of bounds [1900, file year]"),
        (
            pc.and_(pc.is_valid(gender), pc.invert(pc.is_in(gender, pa.array(["F", "M", "X"])))),
            "gender not one of F, M, X",
        ),
    ]


def _regions_rules(typed: dict[str, _Typed], _: date) -> list[tuple[pa.Array, str]]:
    return [(pc.less(typed["population"].number, 0), "negative population")]


RULES: dict[str, Rule] = {
    "sales": _sales_rules,
    "loyalty": _loyalty_rules,
    "products": _products_rules,
    "customers": _customers_rules,
    "regions": _regions_rules,
}
UPPER_CASE = {("customers", "gender")}


_Where = Callable[[int], tuple[Path, int]]


def raw_text(chunk: pa.Table, entity: Entity, fmt: RawFormat, rows: pa.Array | None = None) -> pa.Array:
    """Each row's contract fields as read, joined by the delimiter (null outside ``rows``,
    a boolean mask; all rows when None): the text a quarantined row keeps."""
    if rows is not None and not pc.any(rows).as_py():
        return pa.nulls(chunk.num_rows, pa.string())
    fields = [
        pc.fill_null(chunk[c.name].combine_chunks(), "")
        if c.name in chunk.column_names
        else pa.array([""] * chunk.num_rows, pa.string())
        for c in entity.columns
    ]
    joined = pc.binary_join_element_wise(*fields, fmt.delimiter)
    return joined if rows is None else _only(joined, rows)


def type_chunk(
    chunk: pa.Table, entity: Entity, fmt: RawFormat, business_date: date, paths: dict[int, Path]
) -> pa.Table:
    """Typed rows of parsed chunks (``file_id``, ``line_no`` and the text columns), in
    ``staging_columns(entity)`` order. ``paths`` names each file id's file for errors."""
    rows = chunk.num_rows
    line_numbers = chunk["line_no"].combine_chunks()
    file_ids = chunk["file_id"].combine_chunks()

    def where(row: int) -> tuple[Path, int]:
        return paths[file_ids[row].as_py()], line_numbers[row].as_py()

    problems = Problems(rows)
    typed: dict[str, _Typed] = {}
    for column in entity.columns:
        raw = chunk[column.name].combine_chunks() if column.name in chunk.column_names else pa.nulls(rows, pa.string())
        values = _clean(raw)
        if (entity.name, column.name) in DEFAULTS:
            values = pc.fill_null(values, DEFAULTS[(entity.name, column.name)])
        if (entity.name, column.name) in UPPER_CASE:
            values = pc.utf8_upper(values)
        if column.required:
            problems.flag(pc.is_null(values), f"missing {column.name}")
        typed[column.name] = _type_column(column, values, fmt, problems, where)
    for mask, reason in RULES.get(entity.name, lambda *_: [])(typed, business_date):
        problems.flag(mask, reason)

    # a reference row may still be refused in SQL (a repeated code, an unknown region): each keeps its text
    kept_text = None if entity.kind == "reference" else pc.is_valid(problems.reason)
    arrays = {
        "file_id": file_ids,
        "line_no": line_numbers,
        "problem": problems.reason,
        "raw_text": raw_text(chunk, entity, fmt, kept_text),
    }
    for t in typed.values():
        arrays.update(t.arrays)
    return pa.table(
        [arrays[name] for name, _ in staging_columns(entity)], names=[name for name, _ in staging_columns(entity)]
    )
