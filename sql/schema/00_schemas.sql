-- Schemas: staging (transient, unlogged), warehouse (dims/facts), marts, etl (ledger, runs, rejects).
create schema if not exists staging;
create schema if not exists warehouse;
create schema if not exists marts;
create schema if not exists etl;
