"""Reference snapshots: staged, checked and merged in SQL.

A snapshot is COPYed into ``staging.<entity>``, checked against the other dimensions with
``sql/staging/<entity>.sql``; its valid rows are kept in ``etl.snapshot_<entity>`` and the
dimension is derived from every current snapshot with ``sql/warehouse/<table>.sql``.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from etl_helpers.contract import Entity, RawFile, RawFormat
from etl_helpers.loading.batches import typed_batches
from etl_helpers.loading.shared import TARGET_TABLE, FileResult, copy_into, csv_bytes, sql_file
from etl_helpers.loading.values import staging_columns


def load_reference(
    conn: psycopg.Connection,
    entity: Entity,
    todo: list[tuple[RawFile, FileResult]],
    fmt: RawFormat,
    reject_spool,
    progress: bool | None,
) -> None:
    columns = [name for name, _ in staging_columns(entity)]
    for _, typed in typed_batches(todo, fmt, reject_spool, progress):
        copy_into(conn, sql.Identifier("staging", entity.name), columns, csv_bytes(typed))
    for table in (entity.name, "load_files"):
        conn.execute(sql.SQL("analyze {}").format(sql.Identifier("staging", table)))
    conn.execute(sql_file("staging", f"{entity.name}.sql"))
    _keep_snapshot(conn, entity)
    conn.execute(sql_file("warehouse", f"{TARGET_TABLE[entity.name]}.sql"))
    _quarantine_checked(conn, entity, fmt)
    counts = _counts_by_file(conn, entity.name)
    for _, result in todo:
        loaded, rejected = counts.get(result.file_id, (0, 0))
        result.rows_loaded, result.rows_rejected = loaded, result.rows_rejected + rejected


def _keep_snapshot(conn: psycopg.Connection, entity: Entity) -> None:
    """Keep the snapshot's valid rows, with its date, in ``etl.snapshot_<entity>``: the
    dimension is derived from every current snapshot (``sql/warehouse/<table>.sql``)."""
    table = f"snapshot_{entity.name}"
    columns = [
        name
        for (name,) in conn.execute(
            "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped "
            "and attname not in ('file_id', 'business_date') order by attnum",
            (f"etl.{table}",),
        ).fetchall()
    ]
    conn.execute(
        sql.SQL(
            "insert into {snapshot} (file_id, business_date, {columns}) "
            "select c.file_id, f.business_date, {c_columns} "
            "from {checked} as c join staging.load_files as f using (file_id) "
            "where c.reason is null"
        ).format(
            snapshot=sql.Identifier("etl", table),
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
            c_columns=sql.SQL(", ").join(sql.Identifier("c", name) for name in columns),
            checked=sql.Identifier("staging", f"{entity.name}_checked"),
        )
    )


def _quarantine_checked(conn: psycopg.Connection, entity: Entity, fmt: RawFormat) -> None:
    """Move the rows the checks refused into etl.rejected_rows, with their raw text."""
    conn.execute(
        sql.SQL(
            "insert into etl.rejected_rows (file_id, line_number, reason, raw_text) "
            "select c.file_id, c.line_no, c.reason, s.raw_text "
            "from {checked} c join {staged} s using (file_id, line_no) where c.reason is not null"
        ).format(
            checked=sql.Identifier("staging", f"{entity.name}_checked"), staged=sql.Identifier("staging", entity.name)
        )
    )


def _counts_by_file(conn: psycopg.Connection, entity: str) -> dict[int, tuple[int, int]]:
    """file_id -> (rows loaded, rows rejected by the checks after reading)."""
    rows = conn.execute(
        sql.SQL(
            "select file_id, count(*) filter (where reason is null), count(*) filter (where reason is not null) "
            "from {} group by file_id"
        ).format(sql.Identifier("staging", f"{entity}_checked"))
    ).fetchall()
    return {file_id: (loaded, rejected) for file_id, loaded, rejected in rows}
