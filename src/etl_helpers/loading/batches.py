"""Read, screen and type raw files as batches of rows, in a thread ahead of the database.

Several small daily files share a batch (pyarrow calls cost per call, not per row); a big file
is cut into several, so memory follows the batch, not the file.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import BinaryIO, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from tqdm.auto import tqdm

from etl_helpers.contract import RawFile, RawFormat
from etl_helpers.loading.reader import CHUNK_BYTES, Block, Header, Reject, iter_blocks, parse_blocks, read_header
from etl_helpers.loading.shared import FileResult, reject_writer
from etl_helpers.loading.values import type_chunk

log = logging.getLogger(__name__)

T = TypeVar("T")
TYPING_BATCH_ROWS = 50_000  # large enough per call
FIRST_BATCH_ROWS = 10_000  # small, so that the database starts its first COPY early
PARSE_BYTES = 4 * 1024 * 1024  # small files are parsed together, up to this much
# a file is read and screened in blocks of whole lines of about this size: a few of them make a typing
# batch, so that a big file's batches stay near TYPING_BATCH_ROWS (one 8 MB block is about 90,000 lines)
READ_BYTES = CHUNK_BYTES // 8


class _HashedStream:
    """A binary file hashed as it is read (to its end, by the reader): a file new to the
    ledger is then read once, not once to hash it and again to load it."""

    def __init__(self, file: BinaryIO):
        self.file, self.digest = file, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(size)
        self.digest.update(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        line = self.file.readline(size)
        self.digest.update(line)
        return line


def typed_batches(
    todo: list[tuple[RawFile, FileResult]], fmt: RawFormat, reject_spool, progress: bool | None
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Read, screen and type the files: (rows as read, typed rows) of about ``TYPING_BATCH_ROWS``
    rows (the first of ``FIRST_BATCH_ROWS``), several small daily files each (pyarrow calls cost
    per call, not per row), a big file cut into several (at a block of ``READ_BYTES``), never two
    reference snapshots in one (its business date bounds the customers' birth years). Counts each
    file's lines read and spools the lines refused before typing."""
    entity = todo[0][0].entity
    results = {result.file_id: result for _, result in todo}
    writer = reject_writer(reject_spool)
    blocks: list[Block] = []  # screened, waiting to be parsed together
    block_header: Header | None = None
    pending_bytes = pending_rows = 0
    parsed: list[pa.Table] = []  # parsed, waiting to be typed together
    rows = 0
    batch_rows = FIRST_BATCH_ROWS

    def refuse(file_id: int, rejects: list[Reject]) -> None:
        results[file_id].rows_rejected += len(rejects)
        writer.writerows((file_id, r.line_number, r.reason, r.raw_text) for r in rejects)

    def parse() -> None:
        nonlocal blocks, rows, pending_bytes, pending_rows
        pending_bytes = pending_rows = 0
        if blocks:
            assert block_header is not None  # blocks come after a header
            table, rejects = parse_blocks(blocks, block_header, fmt)
            for file_id, reject in rejects:
                refuse(file_id, [reject])
            parsed.append(table)
            rows += table.num_rows
            blocks = []

    def typed() -> tuple[pa.Table, pa.Table]:
        nonlocal parsed, rows
        combined = pa.concat_tables(parsed, promote_options="default")
        paths = {file_id: Path(results[file_id].path) for file_id in pc.unique(combined["file_id"]).to_pylist()}
        first_file = results[combined["file_id"][0].as_py()]
        parsed, rows = [], 0
        return combined, type_chunk(combined, entity, fmt, date.fromisoformat(first_file.business_date), paths)

    for raw, result in tqdm(
        todo, desc=f"loading {entity.name}", unit="file", disable=None if progress is None else not progress
    ):
        with raw.path.open("rb") as file:
            stream = _HashedStream(file)
            header = read_header(stream, raw.path, entity, fmt)
            if block_header is not None and header.columns != block_header.columns:
                parse()
            block_header = header
            for block in iter_blocks(stream, raw.path, header, fmt, result.file_id, chunk_bytes=READ_BYTES):
                result.rows_read += block.lines_read
                refuse(result.file_id, block.rejects)
                if len(block.numbers):
                    blocks.append(block)
                    pending_bytes += len(block.kept)
                    pending_rows += len(block.numbers)
                    if pending_bytes >= PARSE_BYTES:
                        parse()
                if rows + pending_rows >= batch_rows:  # a big file is cut into batches: memory stays bounded
                    parse()
                    if rows:
                        yield typed()
                        batch_rows = TYPING_BATCH_ROWS
        result.sha256 = stream.digest.hexdigest()  # of the bytes loaded
        if result.rows_read == 0:
            log.warning("%s: header only, no rows", raw.path.name)
        # one reference snapshot per typing batch: its business date bounds birth years
        if entity.kind == "reference" or rows + pending_rows >= batch_rows:
            parse()
            if rows:
                yield typed()
                batch_rows = TYPING_BATCH_ROWS
    parse()
    if rows:
        yield typed()


def in_background(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Produce ``items`` in a thread, ``depth`` ahead of the consumer: reading and checking
    the next batch (pyarrow, numpy: off the GIL) overlaps the database's COPY of this one."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                ready.put(item)
        except BaseException as error:  # handed to the consumer, raised there
            ready.put(error)
        ready.put(done)

    thread = threading.Thread(target=produce, name="load-reader", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                ready.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()
