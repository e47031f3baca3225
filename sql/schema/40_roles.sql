-- Least privilege. Two group roles (NOLOGIN; grant them to login users):
--   etl_loader  writes staging, warehouse, marts and etl (what the pipeline does);
--   etl_analyst reads the marts schema (views and mart tables) and nothing else.
-- Roles are cluster-wide, so creating them is idempotent: a role another session creates at the
-- same moment (a run on another database of the cluster) is taken as it is, and a user who may
-- not create roles gets a notice instead. Nobody but owners may create in public.

do $$
declare
    role_name text;
begin
    foreach role_name in array array['etl_loader', 'etl_analyst'] loop
        begin
            if not exists (select from pg_roles where rolname = role_name) then
                execute format('create role %I nologin', role_name);
            end if;
        exception
            when unique_violation or duplicate_object then
                null;  -- created meanwhile by another session
            when insufficient_privilege then
                raise notice 'cannot create role % as %: ask an administrator', role_name, current_user;
        end;
    end loop;
end
$$;

revoke create on schema public from public;

do $$
begin
    if exists (select from pg_roles where rolname = 'etl_loader') then
        grant usage, create on schema staging, warehouse, marts, etl to etl_loader;
        grant select, insert, update, delete, truncate on all tables in schema staging, warehouse, marts, etl to etl_loader;
        grant usage on all sequences in schema warehouse, etl to etl_loader;
        grant execute on all functions in schema etl to etl_loader;
        alter default privileges in schema staging, warehouse, marts, etl
            grant select, insert, update, delete, truncate on tables to etl_loader;
    end if;
    if exists (select from pg_roles where rolname = 'etl_analyst') then
        grant usage on schema marts to etl_analyst;
        grant select on all tables in schema marts to etl_analyst;
        alter default privileges in schema marts grant select on tables to etl_analyst;
    end if;
end
$$;
