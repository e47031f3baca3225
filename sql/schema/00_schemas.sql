-- Schemas: staging (transient, unlogged), warehouse (dims/facts), marts, etl (ledger, runs, rejects).
-- Only the missing ones are created: an administrator may create them beforehand (owned by the
-- pipeline's user), and the pipeline then needs no CREATE right on the database itself.
do $$
declare
    schema_name text;
begin
    foreach schema_name in array array['staging', 'warehouse', 'marts', 'etl'] loop
        if not exists (select from pg_namespace where nspname = schema_name) then
            execute format('create schema %I', schema_name);
        end if;
    end loop;
end
$$;
