-- Least privilege. Two group roles (NOLOGIN; grant them to login users):
--   etl_loader  writes staging, warehouse, marts and etl (what the pipeline does);
--   etl_analyst reads the marts schema (views and mart tables) and nothing else, with bounded
--               queries and no temporary objects.
-- Roles are cluster-wide, so creating them is idempotent: a role another session creates at the
-- same moment (a run on another database of the cluster) is taken as it is. Whatever this user
-- may not do (create roles, revoke from PUBLIC, alter the analysts' logins) is raised as a
-- WARNING that the schema step logs, never skipped in silence. Nobody but owners may create in
-- public.

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
                raise warning 'role % is missing and % may not create it (no CREATEROLE): the analysts'' and loaders'' privileges are not granted; ask an administrator to run: create role % nologin',
                    role_name, current_user, role_name;
        end;
    end loop;
end
$$;

-- public: only its owner may create in it; the database: no temporary tables or pg_temp
-- functions for PUBLIC (so none for analysts), kept for the pipeline (its owner, etl_loader).
do $$
declare
    is_owner boolean := pg_has_role(current_user, (select datdba from pg_database where datname = current_database()), 'usage');
begin
    if pg_has_role(current_user, (select nspowner from pg_namespace where nspname = 'public'), 'usage') then
        revoke create on schema public from public;
    end if;
    if is_owner then
        execute format('revoke temporary on database %I from public', current_database());
        if exists (select from pg_roles where rolname = 'etl_loader') then
            execute format('grant temporary on database %I to etl_loader', current_database());
        end if;
    elsif has_database_privilege('public', current_database(), 'temporary') then
        raise warning 'analysts may create temporary tables and pg_temp functions in database %: % does not own it; ask its owner to run: revoke temporary on database % from public',
            current_database(), current_user, current_database();
    end if;
end
$$;

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

-- Analysts' queries are bounded: 5 minutes a statement, 15 minutes idle in a transaction (an
-- open transaction holds its locks: a run replacing a view would wait on it). Settings of a group
-- role do not pass to its members, so each login of etl_analyst gets them in this database,
-- unless an administrator already chose other values for it (they are kept).
do $$
declare
    member name;
    limit_name text;
    limit_value text;
begin
    if not exists (select from pg_roles where rolname = 'etl_analyst') then
        return;
    end if;
    for member in
        select r.rolname from pg_roles r
        where r.rolname = 'etl_analyst'
           or (r.rolcanlogin and not r.rolsuper and exists (
                   select from pg_auth_members m
                   where m.member = r.oid and m.roleid = (select oid from pg_roles where rolname = 'etl_analyst')))
        order by 1
    loop
        foreach limit_name in array array['statement_timeout', 'idle_in_transaction_session_timeout'] loop
            limit_value := case limit_name when 'statement_timeout' then '5min' else '15min' end;
            continue when exists (
                select from pg_db_role_setting s
                where s.setrole = (select oid from pg_roles where rolname = member)
                  and s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
                  and exists (select from unnest(s.setconfig) c where c like limit_name || '=%'));
            begin
                execute format('alter role %I in database %I set %s = %L', member, current_database(), limit_name, limit_value);
            exception when insufficient_privilege then
                raise warning 'analyst % has no % in database %: % may not alter roles; ask an administrator to run: alter role % in database % set % = %',
                    member, limit_name, current_database(), current_user, member, current_database(), limit_name, limit_value;
            end;
        end loop;
    end loop;
end
$$;
