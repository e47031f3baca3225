"""Load a raw folder into the warehouse: new and changed files only, atomically.

For each contract file dated <= the run date: skip it if the ledger has it unchanged;
otherwise stream it (``reader``) and type and check its values (``values``), then:

- a reference snapshot is staged, checked and merged in SQL (``reference``);
- daily ticket lines and loyalty events are checked in pyarrow and COPYed straight into the
  fact table (``facts``), batch by batch (``batches``); ``shared`` holds what they share.

What fails is quarantined; the counts are recorded, checking read = loaded + rejected.
A changed file first removes the rows its previous version loaded. Reference snapshots
load one per transaction, the new daily files of an entity together in one: any error
rolls that transaction back, so the warehouse is always as it was before it.
"""

from __future__ import annotations

import csv
import logging
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import psycopg
import pyarrow as pa
from psycopg import sql

from etl_helpers import citus, db
from etl_helpers.contract import ENTITIES, LOAD_ORDER, Entity, RawFile, RawFormat, list_raw_files
from etl_helpers.loading import ledger
from etl_helpers.loading.events import AFTER_CLOSING, BEFORE_OPENING
from etl_helpers.loading.facts import EventFiles, load_events
from etl_helpers.loading.reader import FileRejected
from etl_helpers.loading.reference import load_reference
from etl_helpers.loading.shared import TARGET_TABLE, FileResult, copy_rejects
from etl_helpers.settings import Settings
from etl_helpers.writing import atomic_path, neutralise_formula

log = logging.getLogger(__name__)

LOAD_LOCK_KEY = db.LOAD_LOCK_KEY  # transaction-level advisory lock: one load at a time (declared in db)


REJECT_RATE_MIN_LINES = 100  # a file's reject rate counts from this many rejected lines


def _refuse_mostly_rejected(
    conn: psycopg.Connection, todo: list[tuple[RawFile, FileResult]], fmt: RawFormat, reject_spool
) -> None:
    """A file that rejects more than ``REJECT_RATE_MIN_LINES`` lines and more than
    ``fmt.max_reject_rate`` of them is not the contract's file (a wrong export, one line repeated):
    it is refused whole, with one reason (its first rejected line's), not quarantined line by line."""
    for raw, result in todo:
        if result.rows_rejected > max(REJECT_RATE_MIN_LINES, fmt.max_reject_rate * result.rows_read):
            line, reason = _first_reject(conn, reject_spool, result.file_id)
            raise FileRejected(
                raw.path,
                f"{result.rows_rejected} of its {result.rows_read} lines rejected, more than "
                f"max_reject_rate = {fmt.max_reject_rate:g} (format.json); the first, "
                f"line {line}: {reason}",
            )


def _first_reject(conn: psycopg.Connection, reject_spool, file_id: int) -> tuple[int, str]:
    """The first rejected line of a file and its reason: in the spool, or refused in SQL."""
    reject_spool.seek(0)
    spooled = (
        (int(float(line)), reason)
        for spooled_file, line, reason, _ in csv.reader(reject_spool)
        if int(float(spooled_file)) == file_id
    )
    found = [first] if (first := next(spooled, None)) else []
    reject_spool.seek(0, 2)
    found += conn.execute(
        "select line_number, reason from etl.rejected_rows where file_id = %s order by line_number limit 1", (file_id,)
    ).fetchall()
    return min(found)


HASH_THREADS = 2  # hashlib and file reads release the GIL: two files at a time


def _sha256s(paths: list[Path]) -> dict[Path, str]:
    with ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
        return dict(zip(paths, pool.map(ledger.file_sha256, paths)))


# Reasons that depend on other entities' snapshots: a file refused rows for one of them is
# checked again once a snapshot it depends on has come since (a store, a region, a product...).
DIMENSION_REASONS = (
    "unknown region_code",
    "unknown store_code",
    "unknown product_code",
    "unknown customer_code",
    BEFORE_OPENING,
    AFTER_CLOSING,
)


def _to_recheck(conn: psycopg.Connection, entity: Entity, file_ids: list[int]) -> set[int]:
    """The ledger's current files (of ``file_ids``) to read again although their bytes did not
    change, so the warehouse is what a fresh load of the folder gives:

    - a file that refused rows for a reason of ``DIMENSION_REASONS`` and was loaded before a
      snapshot of an entity it depends on (one loaded before it in ``LOAD_ORDER``): a sale's
      store may exist now;
    - a reference snapshot whose rows are not kept in ``etl.snapshot_<entity>`` (loaded by a
      version of the loader that did not keep them).
    """
    depends_on = [name for name in LOAD_ORDER[: LOAD_ORDER.index(entity.name)] if ENTITIES[name].kind == "reference"]
    rows = conn.execute(
        sql.SQL(
            """
        select l.file_id
        from etl.loaded_files as l
        where l.file_id = any(%(ids)s)
          and ((exists (select from etl.rejected_rows as r where r.file_id = l.file_id and r.reason = any(%(reasons)s))
                and exists (select from etl.loaded_files as d
                            where d.is_current and d.entity = any(%(depends_on)s) and d.file_id > l.file_id))
               or (%(reference)s and l.rows_loaded > 0
                   and not exists (select from {snapshot} as s where s.file_id = l.file_id)))
        """
        ).format(
            snapshot=sql.Identifier("etl", f"snapshot_{entity.name}")
            if entity.kind == "reference"
            else sql.SQL("(select null::bigint as file_id)")
        ),
        {
            "ids": file_ids,
            "reasons": list(DIMENSION_REASONS),
            "depends_on": depends_on,
            "reference": entity.kind == "reference",
        },
    ).fetchall()
    return {file_id for (file_id,) in rows}


def load_batch(
    conn: psycopg.Connection,
    files: list[RawFile],
    fmt: RawFormat,
    run_date: date,
    run_id: int | None,
    progress: bool | None = None,
) -> list[FileResult]:
    """Load files of one entity in the caller's open transaction (the caller commits).

    Unchanged files are skipped; the others are read in one stream and checked and written
    set by set, so a batch of daily files costs little more than one.
    """
    if not files:
        return []
    entity = files[0].entity
    db.advisory_xact_lock(conn, LOAD_LOCK_KEY)  # bounded by the session's lock_timeout, named if it runs out
    results: list[FileResult] = []
    todo: list[tuple[RawFile, FileResult]] = []
    keys = {raw.path: ledger.ledger_key(raw.path) for raw in files}  # resolving a path: a few system calls
    current = ledger.current_entries(conn, list(keys.values()))
    previous_of = {raw.path: current.get(keys[raw.path]) for raw in files}
    recheck = _to_recheck(conn, entity, [entry.file_id for entry in current.values()])
    # a file new to the ledger is hashed as it is read (typed_batches); one it has is hashed
    # now, if its size or time moved, to tell whether its bytes changed
    hashes = _sha256s([raw.path for raw in files if (entry := previous_of[raw.path]) and not entry.same_file(raw.path)])
    rehashed: list[tuple[int, Path]] = []
    for raw in files:
        result = FileResult(str(raw.path), entity.name, raw.business_date.isoformat(), "loaded")
        previous = previous_of[raw.path]
        if previous:
            result.sha256 = hashes.get(raw.path, previous.sha256)
        if previous and previous.sha256 == result.sha256 and previous.file_id not in recheck:
            result.status, result.file_id = "unchanged", previous.file_id
            if raw.path in hashes:
                rehashed.append((previous.file_id, raw.path))
        else:
            result.previous = previous
            todo.append((raw, result))
        results.append(result)
    ledger.record_stat(conn, rehashed)
    if not todo:
        return results

    staged = ["load_files", f"{entity.name}_checked"] + ([entity.name] if entity.kind == "reference" else [])
    conn.execute(sql.SQL("truncate {}").format(sql.SQL(", ").join(sql.Identifier("staging", t) for t in staged)))
    replaced = [result.previous for _, result in todo if result.previous]
    if replaced:
        ledger.retire(conn, replaced)
        table = (
            sql.Identifier("warehouse", TARGET_TABLE[entity.name])
            if entity.kind == "event"
            else sql.Identifier("etl", f"snapshot_{entity.name}")
        )
        conn.execute(sql.SQL("delete from {} where file_id = any(%s)").format(table), ([p.file_id for p in replaced],))
    file_ids = ledger.register(
        conn, [(raw, result.sha256) for raw, result in todo], run_id, [keys[raw.path] for raw, _ in todo]
    )
    for (_raw, result), file_id in zip(todo, file_ids):
        result.file_id = file_id
        result.status = "replaced" if result.previous else "loaded"
    with conn.cursor().copy("copy staging.load_files (file_id, business_date) from stdin") as copy:
        for raw, result in todo:
            copy.write_row((result.file_id, raw.business_date))

    with tempfile.TemporaryFile("w+", newline="", encoding="utf-8") as reject_spool:
        if entity.kind == "event":
            load_events(conn, EventFiles(entity, todo, fmt, run_date, reject_spool, progress))
        else:
            load_reference(conn, entity, todo, fmt, reject_spool, progress)
        _refuse_mostly_rejected(conn, todo, fmt, reject_spool)
        copy_rejects(conn, reject_spool)
    ledger.finish(
        conn,
        [
            ledger.FileCounts(
                r.file_id, r.rows_read, r.rows_loaded, r.rows_rejected, r.sha256, r.first_date, r.last_date
            )
            for _, r in todo
        ],
    )
    return results


def write_rejects_file(
    conn: psycopg.Connection, result: FileResult, rejects_dir: Path, on_commit: ExitStack
) -> Path | None:
    """``data/processed/<date>/rejects/<file>``: source file, line, reason, raw text, written
    while the load's transaction is open, under a temporary name that ``on_commit`` (closed once
    the load is committed) renames into place: a write that fails (a full disk) fails the load,
    which a rerun then does again, rejects file included; no truncated file is ever left under
    the final name. A file loaded without rejects has none: one left by its previous version goes.
    Its text is neutralised for spreadsheets like every CSV file written for people (case 45);
    ``etl.rejected_rows`` keeps it verbatim.
    """
    target = rejects_dir / Path(result.path).name
    if not result.rows_rejected or not result.file_id:
        on_commit.callback(target.unlink, missing_ok=True)
        return None
    query = sql.SQL(
        "copy (select {src} as source_file, line_number, reason, raw_text from etl.rejected_rows "
        "where file_id = {fid} order by line_number) to stdout"
    ).format(src=sql.Literal(result.path), fid=sql.Literal(result.file_id))
    tmp = on_commit.enter_context(atomic_path(target))
    _copy_out(conn, query, tmp)
    return target


REJECTS_COLUMNS = ("source_file", "line_number", "reason", "raw_text")


def _copy_out(conn: psycopg.Connection, query: sql.Composed, path: Path) -> None:
    """The rows of ``query`` (a ``copy (...) to stdout`` of :data:`REJECTS_COLUMNS`) as a CSV
    file with a header, its text neutralised for spreadsheets."""
    with path.open("w", encoding="utf-8", newline="") as out, conn.cursor().copy(query) as copy:
        copy.set_types(["text", "int8", "text", "text"])
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(REJECTS_COLUMNS)
        writer.writerows([neutralise_formula(value) for value in row] for row in copy.rows())


ARROW_DECAY_MS = 100  # a batch's pages go back to the system soon after; at 0 each batch faults them in again


def _arrow_memory_given_back() -> None:
    """Arrow's jemalloc pool, giving freed pages back to the system within ``ARROW_DECAY_MS``:
    the default pool (mimalloc) kept what earlier batches had used (about 50 MB more at
    every scale). Kept as is where pyarrow was built without jemalloc."""
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        return
    pa.jemalloc_set_decay_ms(ARROW_DECAY_MS)
    pa.set_memory_pool(pool)


def load_raw_folder(
    settings: Settings,
    raw_dir: Path,
    run_date: date,
    *,
    run_id: int | None = None,
    entities: Iterable[str] = LOAD_ORDER,
    progress: bool | None = None,
) -> list[FileResult]:
    """Load every new or changed contract file dated <= ``run_date`` from ``raw_dir``.

    ``progress``: a progress bar; None shows it only on a terminal.
    """
    _arrow_memory_given_back()
    fmt = RawFormat.read(raw_dir)
    wanted = set(entities)
    files = [f for f in list_raw_files(raw_dir, run_date) if f.entity.name in wanted]
    results: list[FileResult] = []
    conn = db.connect(settings)
    try:
        prepare_session(conn)
        for batch in _batches(files):
            label = f"{batch[0].entity.name} ({len(batch)} file{'s' if len(batch) > 1 else ''})"
            log.info("loading %s", label)
            with ExitStack() as on_commit, conn.transaction():  # the transaction ends first
                batch_results = load_batch(conn, batch, fmt, run_date, run_id, progress)
                for result in batch_results:
                    if result.status != "unchanged":
                        write_rejects_file(conn, result, settings.rejects_dir(run_date.isoformat()), on_commit)
            results.extend(batch_results)
        conn.commit()
    finally:
        conn.close()
    return results


def prepare_session(conn: psycopg.Connection) -> None:
    """The loader's session settings, committed."""
    conn.execute("set timezone to 'UTC'")
    conn.execute("set work_mem to '256MB'")  # duplicate checks hash a whole batch's keys in memory
    conn.execute("set synchronous_commit to off")  # a crash may lose the last load, ledger with it: rerun
    conn.execute("set jit = off")  # compiling the checks costs more than it saves, even on 1 M rows
    citus.prepare_load_session(conn)
    conn.commit()


def _batches(files: list[RawFile]) -> list[list[RawFile]]:
    """Reference snapshots one file at a time (their order matters for store history);
    the daily files of an event entity all together, in one transaction."""
    batches: list[list[RawFile]] = []
    for raw in files:
        if raw.entity.kind == "event" and batches and batches[-1][0].entity is raw.entity:
            batches[-1].append(raw)
        else:
            batches.append([raw])
    return batches


def summarize(results: list[FileResult]):
    """Per-entity totals as a DataFrame, for notebooks."""
    import pandas as pd

    columns = ["path", "entity", "business_date", "status", "rows_read", "rows_loaded", "rows_rejected"]
    frame = pd.DataFrame([{k: getattr(r, k) for k in columns} for r in results], columns=columns)
    return (
        frame.groupby(["entity", "status"], sort=False)[["rows_read", "rows_loaded", "rows_rejected"]]
        .sum()
        .assign(files=frame.groupby(["entity", "status"], sort=False).size())
        .reset_index()
    )
