-- What each database step (one that reads no raw file: 00_schema, 30_views) last
-- computed from: its input fingerprint and the run that executed it. A step whose inputs
-- match is not recomputed (run/reuse.py); the row is deleted while the step runs.
create table if not exists etl.step_inputs (
    notebook          text primary key,
    fingerprint       text not null,
    made_in_run       text not null,
    executed_notebook text,
    html_report       text,
    recorded_at       timestamptz not null default now()
);
