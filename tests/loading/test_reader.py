"""The streaming CSV reader, without a database: header checks, line numbers across chunks,
and the screen that quarantines a malformed line without letting it swallow its neighbours.

Every read here also checks the reader's own invariant: lines read = rows kept + rejects.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from etl_helpers.contract import ENTITIES, MAX_LINE_BYTES, RawFormat
from etl_helpers.loading.reader import CHUNK_BYTES, RAW_TEXT_LIMIT, FileRejected, Reject, iter_chunks, read_header

SALES = ENTITIES["sales"]
REGIONS = ENTITIES["regions"]
HEADER = b"region_code,region_name,population"
# chunk sizes: tiny (many chunks, lines cut everywhere), small, and the default
CHUNKS = [pytest.param(16, id="chunk16"), pytest.param(100, id="chunk100"), pytest.param(CHUNK_BYTES, id="default")]


def read(tmp_path: Path, data: bytes, fmt: RawFormat = RawFormat(), chunk_bytes: int = CHUNK_BYTES,
         entity=REGIONS) -> tuple[list[dict], list[Reject]]:
    """Rows (with line_no) and rejects of ``data`` read as a file of ``entity``."""
    path = tmp_path / f"{entity.name}_2026-01-01.csv"
    path.write_bytes(data)
    with path.open("rb") as stream:
        header = read_header(stream, path, entity, fmt)
        chunks = list(iter_chunks(stream, path, header, fmt, chunk_bytes))
    rows = [row for chunk in chunks for row in chunk.table.to_pylist()]
    rejects = [reject for chunk in chunks for reject in chunk.rejects]
    assert sum(chunk.lines_read for chunk in chunks) == len(rows) + len(rejects)
    return rows, rejects


def rejected_file(tmp_path: Path, data: bytes, fmt: RawFormat = RawFormat(), chunk_bytes: int = CHUNK_BYTES,
                  entity=REGIONS) -> FileRejected:
    with pytest.raises(FileRejected) as error:
        read(tmp_path, data, fmt, chunk_bytes, entity)
    return error.value


# --- the header ---------------------------------------------------------------------------

def test_header_is_matched_by_name_case_and_spaces_ignored_in_the_files_order(tmp_path):
    rows, _ = read(tmp_path, b'\xef\xbb\xbf Population ,"REGION_CODE",region_name\r\n12,IDF,Ile\r\n')
    assert rows == [{"line_no": 2, "population": "12", "region_code": "IDF", "region_name": "Ile"}]


def test_unknown_columns_are_left_out_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="etl_helpers"):
        rows, _ = read(tmp_path, HEADER + b",Comment,extra\nIDF,Ile,12,hello,x\n")
    assert rows == [{"line_no": 2, "region_code": "IDF", "region_name": "Ile", "population": "12"}]
    assert "ignoring unknown column(s) comment, extra" in caplog.text


@pytest.mark.parametrize("data, reason, line", [
    (b"", "empty file (0 bytes): expected at least a header line", None),
    (b"\nIDF,Ile,12\n", "the first line is blank: expected a header line", 1),
    (b"region_code,region_name\nIDF,Ile\n", "required column(s) missing: population", 1),
    (b"region_code,region_name,population,Region_Code\n", "duplicate column(s) in header: region_code", 1),
    (b"r\xe9gion,region_code,region_name,population\n", "header is not valid utf-8", 1),
])
def test_a_bad_header_rejects_the_file_naming_it(tmp_path, data, reason, line):
    error = rejected_file(tmp_path, data)
    assert reason in str(error) and error.line == line
    assert error.path.name == "regions_2026-01-01.csv" and str(error.path) in str(error)


def test_empty_file_and_blank_header_have_different_messages(tmp_path):
    assert str(rejected_file(tmp_path, b"")) != str(rejected_file(tmp_path, b"\n"))


@pytest.mark.parametrize("ending", [b"", b"\n", b"\r\n", b"\n\n\r\n"])
def test_header_only_file_has_no_rows(tmp_path, ending):
    assert read(tmp_path, HEADER + ending) == ([], [])


# --- line numbers and blank lines -----------------------------------------------------------

@pytest.mark.parametrize("chunk_bytes", CHUNKS)
def test_rows_keep_their_physical_line_numbers_across_chunks(tmp_path, chunk_bytes):
    lines = [f"R{i:02d},Région n°{i},{i}" for i in range(40)]
    body = "\n".join(lines[:10]) + "\n\n\r\n" + "\r\n".join(lines[10:25]) + "\r\n   \n" + "\n".join(lines[25:])
    rows, rejects = read(tmp_path, HEADER + b"\n" + body.encode(), chunk_bytes=chunk_bytes)   # no final newline

    numbered = {row["line_no"]: row for row in rows}
    assert len(rows) == 40
    assert numbered[2]["region_code"] == "R00" and numbered[11]["region_code"] == "R09"
    assert numbered[14]["region_code"] == "R10"                                 # two blank lines skipped
    assert numbered[28]["region_name"] == "Région n°24" and numbered[28]["population"] == "24"
    assert numbered[30]["region_code"] == "R25"                                 # "   " on line 29 is a row...
    assert [(r.line_number, r.reason) for r in rejects] == [(29, "expected 3 fields, found 1")]   # ...of one field
    assert numbered[44]["region_code"] == "R39"


def test_empty_values_are_empty_strings_and_quoted_delimiters_are_values(tmp_path):
    rows, rejects = read(tmp_path, HEADER + b'\nIDF,,\n"ARA","Auvergne, ""Rh\xc3\xb4ne""-Alpes",8\n')
    assert rejects == []
    assert rows == [{"line_no": 2, "region_code": "IDF", "region_name": "", "population": ""},
                    {"line_no": 3, "region_code": "ARA", "region_name": 'Auvergne, "Rhône"-Alpes', "population": "8"}]


# --- malformed lines are quarantined alone --------------------------------------------------

@pytest.mark.parametrize("chunk_bytes", CHUNKS)
def test_malformed_lines_are_rejected_with_line_reason_and_text(tmp_path, chunk_bytes):
    data = b"\n".join([
        HEADER,
        b"IDF,Ile,1",                       # 2
        b'ARA,"Auvergne,2',                 # 3 unbalanced quote: must not swallow line 4
        b"BRE,Bretagne,3",                  # 4
        b"NOR,Normandie,4,extra",           # 5 too many fields
        b"OCC,Occitanie",                   # 6 too few fields
        b"",                                # 7 blank: not a row
        b"PAC,Provence,7",                  # 8
    ]) + b"\n"
    rows, rejects = read(tmp_path, data, chunk_bytes=chunk_bytes)

    assert [(r["line_no"], r["region_code"]) for r in rows] == [(2, "IDF"), (4, "BRE"), (8, "PAC")]
    assert sorted((r.line_number, r.reason, r.raw_text) for r in rejects) == [
        (3, "unbalanced quote", 'ARA,"Auvergne,2'),
        (5, "expected 3 fields, found 4", "NOR,Normandie,4,extra"),
        (6, "expected 3 fields, found 2", "OCC,Occitanie"),
    ]


@pytest.mark.parametrize("chunk_bytes", CHUNKS)
def test_control_characters_reject_their_line_only(tmp_path, chunk_bytes):
    data = (HEADER + b"\nA00,Nul\x00byte,1\nA01,Tab\there,2\nA02,Bell\x07,3\nA03,Bare\rCR,4\r\n"
            b"A04,Del\x7f,5\nA05,Ok,6\r\n")
    rows, rejects = read(tmp_path, data, chunk_bytes=chunk_bytes)

    assert [(r["line_no"], r["region_name"]) for r in rows] == [(3, "Tab\there"), (7, "Ok")]
    assert sorted((r.line_number, r.reason) for r in rejects) == [
        (2, "control character 0x00 in a field"), (4, "control character 0x07 in a field"),
        (5, "control character 0x0d in a field"), (6, "control character 0x7f in a field")]
    assert next(r.raw_text for r in rejects if r.line_number == 2) == "A00,Nul\\x00byte,1"


@pytest.mark.parametrize("chunk_bytes", [pytest.param(4096, id="chunk4096"), pytest.param(CHUNK_BYTES, id="default")])
def test_lines_longer_than_the_bound_are_rejected_and_the_bound_itself_is_accepted(tmp_path, chunk_bytes):
    def line(code: str, length: int) -> bytes:
        prefix = f"{code},".encode()
        return prefix + b"n" * (length - len(prefix) - 2) + b",1"

    data = b"\n".join([HEADER, line("AT", MAX_LINE_BYTES), line("OVER", MAX_LINE_BYTES + 1), b"OK1,x,1",
                       line("HUGE", 5 * MAX_LINE_BYTES), b"OK2,y,2", line("LAST", 3 * MAX_LINE_BYTES)])
    rows, rejects = read(tmp_path, data, chunk_bytes=chunk_bytes)

    assert [(r["line_no"], r["region_code"]) for r in rows] == [(2, "AT"), (4, "OK1"), (6, "OK2")]
    assert len(rows[0]["region_name"]) == MAX_LINE_BYTES - 5
    assert sorted((r.line_number, r.reason) for r in rejects) == [
        (n, f"line longer than {MAX_LINE_BYTES} bytes") for n in (3, 5, 7)]
    for reject, code in zip(sorted(rejects, key=lambda r: r.line_number), ("OVER", "HUGE", "LAST")):
        assert reject.raw_text.startswith(f"{code},nnn") and len(reject.raw_text) == RAW_TEXT_LIMIT + 1


# --- encodings and formats -----------------------------------------------------------------

@pytest.mark.parametrize("chunk_bytes", CHUNKS)
def test_invalid_utf8_rejects_the_file_naming_the_line(tmp_path, chunk_bytes):
    data = HEADER + b"\n" + b"".join(b"R%02d,ok,1\n" % i for i in range(20)) + "Pâtisserie d'Évry".encode("latin-1")
    error = rejected_file(tmp_path, data + b",1\n", chunk_bytes=chunk_bytes)
    assert error.line == 22 and "not valid utf-8 (byte 0xe2)" in str(error) and "line 22" in str(error)


@pytest.mark.parametrize("chunk_bytes", CHUNKS)
def test_declared_latin1_decodes_exactly(tmp_path, chunk_bytes):
    names = ["Pâtisserie d'Évry", "Île-de-France", "Cœur"]    # Œ is not latin-1: declared cp1252 below
    data = (HEADER + b"\n" + "\n".join(f"R{i},{n},{i}" for i, n in enumerate(names)).encode("cp1252") + b"\n")
    rows, _ = read(tmp_path, data, RawFormat(encoding="cp1252"), chunk_bytes)
    assert [r["region_name"] for r in rows] == names
    rows, _ = read(tmp_path, data.replace("Œ".encode("cp1252"), b"o"), RawFormat(encoding="latin-1"), chunk_bytes)
    assert rows[0]["region_name"] == "Pâtisserie d'Évry"


def test_utf8_declared_latin1_is_refused_as_mojibake(tmp_path):
    data = HEADER + b"\nIDF,Paris,1\n" + "ESS,Pâtisserie d'Évry,2\n".encode("utf-8")
    error = rejected_file(tmp_path, data, RawFormat(encoding="latin-1"))
    assert error.line == 3 and "looks like UTF-8 read as latin-1 ('Ã¢')" in str(error)


def test_semicolon_delimiter_as_declared(tmp_path):
    rows, rejects = read(tmp_path, b"region_code;region_name;population\nIDF;Ile, de France;12\nARA;x\n",
                         RawFormat(delimiter=";"))
    assert rows == [{"line_no": 2, "region_code": "IDF", "region_name": "Ile, de France", "population": "12"}]
    assert [(r.line_number, r.reason) for r in rejects] == [(3, "expected 3 fields, found 2")]


def test_sales_file_reads_every_contract_column_as_text(tmp_path):
    header = ",".join(SALES.column_names).encode()
    rows, _ = read(tmp_path, header + b"\nT1,1,2026-03-02T10:15:00+01:00,S001,,P001,-2,1.20,0,-2.40\n", entity=SALES)
    assert rows == [{"line_no": 2, "ticket_id": "T1", "line_number": "1", "sold_at": "2026-03-02T10:15:00+01:00",
                     "store_code": "S001", "customer_code": "", "product_code": "P001", "quantity": "-2",
                     "unit_price": "1.20", "discount": "0", "amount": "-2.40"}]


def test_a_file_holding_only_a_byte_order_mark_has_a_blank_header(tmp_path):
    error = rejected_file(tmp_path, b"\xef\xbb\xbf")
    assert "the first line is blank" in str(error) and error.line == 1


@pytest.mark.parametrize("chunk_bytes", CHUNKS)
def test_plain_blocks_and_blocks_to_screen_give_the_same_lines(tmp_path, chunk_bytes):
    """A block of plain bytes (no quote, control character, CR nor DEL) skips the screen's
    searches: its blank lines are still skipped and its over-long lines refused, and the byte
    that sends a block to the full screen is found wherever it is."""
    long_line = b"LNG," + b"n" * MAX_LINE_BYTES + b",1"
    data = (HEADER + "\nA01,Île-de-France,1\n\nA02,Tab\there,2\n".encode() + long_line
            + b"\nA03,ok,3\nA04,Del\x7f,4\nA05,\"Quoted, name\",5\n\nA06,last,6")
    rows, rejects = read(tmp_path, data, chunk_bytes=max(chunk_bytes, 4096))

    assert [(r["line_no"], r["region_name"]) for r in rows] == [
        (2, "Île-de-France"), (4, "Tab\there"), (6, "ok"), (8, "Quoted, name"), (10, "last")]
    assert sorted((r.line_number, r.reason) for r in rejects) == [
        (5, f"line longer than {MAX_LINE_BYTES} bytes"), (7, "control character 0x7f in a field")]


def test_a_big_file_is_typed_in_batches_near_the_typing_batch_size(tmp_path):
    """A big file is cut into typing batches of about ``TYPING_BATCH_ROWS`` rows (what one
    batch holds in memory at a time), not of one whole read block's worth whatever its size."""
    import tempfile
    from datetime import date

    from etl_helpers.contract import RawFile
    from etl_helpers.loading.batches import TYPING_BATCH_ROWS, typed_batches
    from etl_helpers.loading.shared import FileResult

    day = date(2026, 3, 4)
    path = tmp_path / f"sales_{day}.csv"
    line = "T{:07d},1,2026-03-04T10:00:00+01:00,S001,C000001,P00001,1,2.00,0.00,2.00\n"
    lines = 3 * TYPING_BATCH_ROWS
    path.write_text(
        "ticket_id,line_number,sold_at,store_code,customer_code,product_code,quantity,unit_price,discount,amount\n"
        + "".join(line.format(i) for i in range(lines))
    )
    result = FileResult(str(path), "sales", day.isoformat(), "loaded", file_id=1)
    with tempfile.TemporaryFile("w+", newline="") as spool:
        batches = typed_batches([(RawFile(path, SALES, day), result)], RawFormat(), spool, False)
        sizes = [typed.num_rows for _, typed in batches]

    assert sum(sizes) == result.rows_read == lines
    assert max(sizes) < 1.5 * TYPING_BATCH_ROWS, sizes
