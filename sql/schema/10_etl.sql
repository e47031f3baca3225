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
