"""Stream raw CSV files as batches of text columns, quarantining malformed lines.

A file is read in fixed-size blocks of whole lines, so memory stays bounded whatever
the file's size. Each block is screened with numpy before parsing: a line with an odd
number of quote characters (values hold no line breaks, so its quote is unbalanced), a
control character, or more than ``MAX_LINE_BYTES`` bytes is quarantined on its own and
cannot swallow its neighbours. pyarrow then parses the rest, several blocks at once when
files are small (a parser call costs more than a thousand lines); a line with too many or
too few fields is quarantined too. Every kept row carries its file and line number.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from etl_helpers.contract import MAX_LINE_BYTES, Entity, RawFormat


class ByteStream(Protocol):
    """What the reader needs of a file: bytes by size and by line (a file, or a hashing wrapper)."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readline(self, size: int = -1, /) -> bytes: ...


log = logging.getLogger(__name__)

CHUNK_BYTES = 8 * 1024 * 1024
RAW_TEXT_LIMIT = 1000
UTF8_BOM = codecs.BOM_UTF8
MOJIBAKE = re.compile("[ÃÂ][\u0080-\u00bf]")


class FileRejected(ValueError):
    """The whole file is unusable (empty, bad encoding, missing column): nothing is loaded."""

    def __init__(self, path: Path, reason: str, line: int | None = None):
        where = f"{path}" + (f", line {line}" if line else "")
        super().__init__(f"{where}: {reason}")
        self.path, self.reason, self.line = path, reason, line


@dataclass
class Reject:
    line_number: int
    reason: str
    raw_text: str


@dataclass
class Header:
    columns: list[str]  # as in the file, lower-cased
    loaded: list[str]  # contract columns present, in the file's order
    ignored: list[str] = field(default_factory=list)


@dataclass
class Chunk:
    table: pa.Table  # ``line_no`` then the loaded columns, as strings
    rejects: list[Reject]
    lines_read: int


@dataclass
class Block:
    """Screened lines of one file, to parse: the kept lines' bytes and line numbers."""

    file_id: int
    kept: bytes
    numbers: np.ndarray
    rejects: list[Reject]  # lines refused by the screen
    lines_read: int


def _raw_text(line: bytes, encoding: str) -> str:
    text = line.decode(encoding, errors="replace").rstrip("\r")
    text = text.replace("\x00", "\\x00")
    return text if len(text) <= RAW_TEXT_LIMIT else text[:RAW_TEXT_LIMIT] + "…"


def read_header(stream: ByteStream, path: Path, entity: Entity, fmt: RawFormat) -> Header:
    """Read and check the header line; leaves ``stream`` at the first data line."""
    first = stream.readline(MAX_LINE_BYTES + 1)
    if not first:
        raise FileRejected(path, "empty file (0 bytes): expected at least a header line")
    if first.startswith(UTF8_BOM):
        first = first[len(UTF8_BOM) :]
    try:
        text = first.decode(fmt.encoding)
    except UnicodeDecodeError:
        raise FileRejected(path, f"header is not valid {fmt.encoding}; declare the file's encoding", 1) from None
    names = [n.strip().lower() for n in next(csv.reader([text.rstrip("\r\n")], delimiter=fmt.delimiter), [])]
    if not any(names):
        raise FileRejected(path, "the first line is blank: expected a header line", 1)
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise FileRejected(path, f"duplicate column(s) in header: {', '.join(duplicated)}", 1)
    missing = [c for c in entity.required_names if c not in names]
    if missing:
        raise FileRejected(
            path, f"required column(s) missing: {', '.join(missing)} (header has: {', '.join(names)})", 1
        )
    known = set(entity.column_names)
    ignored = [n for n in names if n not in known]
    if ignored:
        log.warning("%s: ignoring unknown column(s) %s", path.name, ", ".join(ignored))
    return Header(columns=names, loaded=[n for n in names if n in known], ignored=ignored)


def _decode_to_utf8(block: bytes, path: Path, fmt: RawFormat, first_line: int) -> bytes:
    """Check the block's encoding; return it as UTF-8 bytes (same line structure)."""
    try:
        text = block.decode(fmt.encoding)
    except UnicodeDecodeError as error:
        line = first_line + block.count(b"\n", 0, error.start)
        raise FileRejected(
            path,
            f"not valid {fmt.encoding} (byte 0x{block[error.start]:02x}); declare the file's encoding in format.json",
            line,
        ) from None
    if fmt.encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        return block
    found = MOJIBAKE.search(text)
    if found:
        line = first_line + text.count("\n", 0, found.start())
        raise FileRejected(
            path, f"looks like UTF-8 read as {fmt.encoding} ({found.group()!r}); declare encoding utf-8", line
        )
    return text.encode("utf-8")


# bytes that need no screening: neither a control character (tab and line feed aside), a CR, DEL nor a quote
PLAIN_BYTES = bytes(b for b in range(256) if (32 <= b < 127 or b >= 128 or b in (9, 10)) and b != 34)


def _screen(block: bytes, first_line: int, encoding: str) -> tuple[np.ndarray, list[Reject], bytes, int]:
    """Find malformed lines in a block of whole lines.

    Returns the line numbers of the kept lines, the rejects, the bytes of the kept lines
    only, and the number of lines in the block (blank ones too). A block of plain bytes only
    (the usual one: one C pass over it tells) has no quote, control character nor CR to look for.
    """
    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == 10)
    if len(ends) == 0 or ends[-1] != len(data) - 1:
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1))
    numbers = first_line + np.arange(len(ends))
    lengths = ends - starts
    too_long = lengths > MAX_LINE_BYTES
    if not block.translate(None, PLAIN_BYTES):
        blank = lengths == 0
        odd_quotes = has_control = np.zeros(len(ends), dtype=bool)
        first_control: dict[int, int] = {}
    else:
        content_lengths = lengths - (data[np.maximum(ends - 1, 0)] == 13) * (lengths > 0)
        blank = content_lengths == 0
        quotes = np.flatnonzero(data == 34)
        odd_quotes = ((np.searchsorted(quotes, ends) - np.searchsorted(quotes, starts)) % 2) == 1
        carriage = np.flatnonzero(data == 13)
        # a CR that does not end its line would split it in two for the parser: a control character too
        bare_cr = carriage[(carriage + 1 < len(data)) & (data[np.minimum(carriage + 1, len(data) - 1)] != 10)]
        control = np.union1d(
            np.flatnonzero(((data < 32) & (data != 9) & (data != 10) & (data != 13)) | (data == 127)), bare_cr
        )
        control_lines, first_in_line = np.unique(np.searchsorted(ends, control), return_index=True)
        has_control = np.zeros(len(ends), dtype=bool)
        has_control[control_lines] = True
        first_control = dict(zip(control_lines.tolist(), data[control[first_in_line]].tolist()))

    bad = (odd_quotes | has_control | too_long) & ~blank
    rejects = []
    for i in np.flatnonzero(bad):
        line = block[starts[i] : ends[i]]
        if too_long[i]:
            reason = f"line longer than {MAX_LINE_BYTES} bytes"
        elif has_control[i]:
            reason = f"control character 0x{first_control[int(i)]:02x} in a field"
        else:
            reason = "unbalanced quote"
        rejects.append(Reject(int(numbers[i]), reason, _raw_text(line, encoding)))

    keep = ~(bad | blank)
    if keep.all():
        return numbers, rejects, block, len(ends)
    kept = b"".join(block[s:e] + b"\n" for s, e in zip(starts[keep], ends[keep]))
    return numbers[keep], rejects, kept, len(ends)


def parse_blocks(blocks: list[Block], header: Header, fmt: RawFormat) -> tuple[pa.Table, list[tuple[int, Reject]]]:
    """One pyarrow parse of blocks sharing ``header``: a table of ``line_no``, ``file_id`` and
    the loaded columns as strings, and the (file id, reject) of each line with too many or
    too few fields."""
    rejects: list[tuple[int, Reject]] = []
    refused_rows: list[int] = []
    expected = len(header.columns)
    numbers = np.concatenate([b.numbers for b in blocks])
    file_ids = np.repeat([b.file_id for b in blocks], [len(b.numbers) for b in blocks])
    kept = b"".join(b.kept for b in blocks)

    def on_invalid_row(row) -> str:
        index = row.number - 1  # the row's line in ``kept``
        refused_rows.append(index)
        rejects.append(
            (
                int(file_ids[index]),
                Reject(
                    int(numbers[index]),
                    f"expected {expected} fields, found {row.actual_columns}",
                    row.text[:RAW_TEXT_LIMIT],
                ),
            )
        )
        return "skip"

    table = pacsv.read_csv(
        io.BytesIO(kept),
        read_options=pacsv.ReadOptions(
            column_names=header.columns, use_threads=False, block_size=max(len(kept), 1) + 1
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=fmt.delimiter,
            newlines_in_values=False,
            ignore_empty_lines=False,
            invalid_row_handler=on_invalid_row,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in header.columns},
            include_columns=header.loaded,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            check_utf8=False,  # the block is valid UTF-8 (_decode_to_utf8), so is every field of it
        ),
    )
    if refused_rows:
        kept_rows = np.ones(len(numbers), dtype=bool)
        kept_rows[refused_rows] = False
        numbers, file_ids = numbers[kept_rows], file_ids[kept_rows]
    table = table.add_column(0, "line_no", pa.array(numbers, type=pa.int64()))
    return table.add_column(1, "file_id", pa.array(file_ids, type=pa.int64())), rejects


def iter_blocks(
    stream: ByteStream, path: Path, header: Header, fmt: RawFormat, file_id: int = 0, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[Block]:
    """Yield screened blocks of the data lines that follow the header (line 2 onwards)."""
    next_line = 2
    carry = b""
    skipping_from: int | None = None  # an over-long line is being skipped
    skipped_start = ""  # its beginning, kept as the reject's raw text
    no_lines = np.array([], dtype=np.int64)
    while True:
        data = stream.read(chunk_bytes)
        eof = not data
        buffer = carry + data
        if skipping_from is not None:
            newline = buffer.find(b"\n")
            if newline < 0 and not eof:
                carry = b""
                continue
            rejects = [Reject(skipping_from, f"line longer than {MAX_LINE_BYTES} bytes", skipped_start)]
            buffer = buffer[newline + 1 :] if newline >= 0 else b""
            skipping_from = None
            next_line += 1
            yield Block(file_id, b"", no_lines, rejects, 1)
        if eof:
            block, carry = buffer, b""
        else:
            cut = buffer.rfind(b"\n")
            if cut < 0:
                if len(buffer) > MAX_LINE_BYTES:
                    skipping_from, carry = next_line, b""
                    skipped_start = _raw_text(buffer[: 4 * RAW_TEXT_LIMIT], fmt.encoding)
                else:
                    carry = buffer
                continue
            block, carry = buffer[: cut + 1], buffer[cut + 1 :]
        if block:
            utf8 = _decode_to_utf8(block, path, fmt, next_line)
            numbers, rejects, kept, lines = _screen(utf8, next_line, "utf-8")
            next_line += lines
            yield Block(file_id, kept if len(numbers) else b"", numbers, rejects, len(numbers) + len(rejects))
        if eof:
            return


def iter_chunks(
    stream: ByteStream, path: Path, header: Header, fmt: RawFormat, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[Chunk]:
    """Yield parsed chunks of one file, block by block."""
    for block in iter_blocks(stream, path, header, fmt, chunk_bytes=chunk_bytes):
        if len(block.numbers):
            table, parse_rejects = parse_blocks([block], header, fmt)
            table = table.drop_columns(["file_id"])
        else:
            table, parse_rejects = pa.table({"line_no": pa.array([], pa.int64())}), []
        yield Chunk(table, block.rejects + [r for _, r in parse_rejects], block.lines_read)
