-- The refresh state of the pre-aggregated facts (marts.agg_*, built by etl_helpers.aggregates
-- from sql/aggregates/*.sql): the sha256 of the query each was built from (another query means
-- a rebuild) and the ledger's last file_id it has seen (files above it are refreshed next).

create table if not exists etl.aggregate_refreshes (
    aggregate          text primary key,
    definition_sha256  text not null,
    last_file_id       bigint not null,
    refreshed_at       timestamptz not null default now()
);
