-- The source a warehouse was built from (one row, written by the first run): a run with another
-- source is refused instead of mixing two sources in the same marts (etl_helpers.schema.claim_source).
create table if not exists etl.warehouse_source (
    one_row     boolean primary key default true check (one_row),
    source      text not null,
    claimed_at  timestamptz not null default now()
);

-- The views of sql/olap_queries.sql as last created: the statement and the definition it gave.
-- A view whose statement and definition are unchanged is not replaced (no lock taken), so an
-- analyst's open transaction on it never blocks a run (etl_helpers.db.replace_view).
create table if not exists etl.view_definitions (
    view_name   text primary key,
    statement   text not null,
    definition  text not null,
    created_at  timestamptz not null default now()
);
