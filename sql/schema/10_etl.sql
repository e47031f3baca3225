-- The run log, the ledger of loaded raw files, and the quarantine.

create table if not exists etl.runs (
    run_id       bigint generated always as identity primary key,
    run_date     date not null,
    source       text not null,
    started_at   timestamptz not null default now(),
    finished_at  timestamptz,
    status       text not null default 'running'
);
-- a run left running by a killed process is closed as abandoned by the next run
alter table etl.runs drop constraint if exists runs_status_check;
alter table etl.runs add constraint runs_status_check
    check (status in ('running', 'succeeded', 'failed', 'abandoned'));

create table if not exists etl.loaded_files (
    file_id        bigint generated always as identity primary key,
    run_id         bigint references etl.runs (run_id),
    path           text not null,
    entity         text not null,
    business_date  date not null,
    sha256         text not null,
    rows_read      bigint not null,
    rows_loaded    bigint not null,
    rows_rejected  bigint not null,
    loaded_at      timestamptz not null default now(),
    is_current     boolean not null default true,
    constraint counts_reconcile check (rows_read = rows_loaded + rows_rejected)
);
-- the event dates of the rows a daily file loaded (null for reference snapshots): what a
-- refresh of the aggregates built on the facts has to recompute when the file comes or goes
alter table etl.loaded_files add column if not exists first_date date;
alter table etl.loaded_files add column if not exists last_date date;
-- size and modification time when hashed: a file with both unchanged is not read again
alter table etl.loaded_files add column if not exists file_size bigint;
alter table etl.loaded_files add column if not exists file_mtime_ns bigint;
-- path: the file's place in the raw layout (sales/sales_2026-11-30.csv), its identity, so a
-- raw folder moved or mounted elsewhere is the same folder; read_from: where it was read last
alter table etl.loaded_files add column if not exists read_from text;
update etl.loaded_files as l
set is_current = false
where l.is_current and l.path like '/%'
  and exists (select from etl.loaded_files as o
              where o.is_current and o.file_id > l.file_id
                and regexp_replace(o.path, '^.*/([^/]+/[^/]+)$', '\1') = regexp_replace(l.path, '^.*/([^/]+/[^/]+)$', '\1'));
update etl.loaded_files
set read_from = coalesce(read_from, path), path = regexp_replace(path, '^.*/([^/]+/[^/]+)$', '\1')
where path like '/%';
create unique index if not exists loaded_files_current_path on etl.loaded_files (path) where is_current;

create table if not exists etl.rejected_rows (
    file_id      bigint not null references etl.loaded_files (file_id) on delete cascade,
    line_number  bigint not null,
    reason       text not null,
    raw_text     text not null,
    primary key (file_id, line_number)
);

-- Each passing run of the data tests, with the last ledger file it covered: the next run
-- checks the facts of the dates loaded since (every date when a dimension changed).
create table if not exists etl.data_test_runs (
    checked_at     timestamptz not null default now(),
    up_to_file_id  bigint not null
);

-- The valid rows of every current reference snapshot, with the snapshot's date: the dimensions
-- are derived from them whatever the order the snapshots arrived in (a type 1 dimension takes
-- each code's latest snapshot; dim_magasin's versions are the changes from one snapshot to the next).
create table if not exists etl.snapshot_regions (
    file_id bigint not null references etl.loaded_files (file_id) on delete cascade,
    business_date date not null,
    region_code text not null, region_name text, population bigint,
    primary key (file_id, region_code)
);

create table if not exists etl.snapshot_stores (
    file_id bigint not null references etl.loaded_files (file_id) on delete cascade,
    business_date date not null,
    store_code text not null, store_name text, banner text, city text, postal_code text,
    region_id integer, opened_on date,
    primary key (file_id, store_code)
);
alter table etl.snapshot_stores add column if not exists closed_on date;

create table if not exists etl.snapshot_products (
    file_id bigint not null references etl.loaded_files (file_id) on delete cascade,
    business_date date not null,
    product_code text not null, product_name text, category text, subcategory text, brand text,
    list_price numeric(12, 2),
    primary key (file_id, product_code)
);

create table if not exists etl.snapshot_customers (
    file_id bigint not null references etl.loaded_files (file_id) on delete cascade,
    business_date date not null,
    customer_code text not null, birth_year integer, gender text, city text, region_id integer,
    has_loyalty_card boolean, enrolled_on date, tier text, segment text,
    primary key (file_id, customer_code)
);
