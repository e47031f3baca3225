-- The timestamp policy's two questions about Europe/Paris local times (values are typed and
-- checked while streaming; only placing a local time on the time line needs the database).

-- Europe/Paris local time -> instant; null when that local time does not exist (spring gap).
create or replace function etl.paris_instant(local timestamp) returns timestamptz
language sql immutable parallel safe as $$
    select case when (local at time zone 'Europe/Paris') at time zone 'Europe/Paris' = local
                then local at time zone 'Europe/Paris' end
$$;

-- True when a Europe/Paris local time happens twice (autumn fall-back hour).
create or replace function etl.is_ambiguous_paris_time(local timestamp) returns boolean
language sql immutable parallel safe as $$
    select ((local at time zone 'Europe/Paris') + interval '1 hour') at time zone 'Europe/Paris' = local
        or ((local at time zone 'Europe/Paris') - interval '1 hour') at time zone 'Europe/Paris' = local
$$;
