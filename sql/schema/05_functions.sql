-- Safe parsing helpers for validation: each answers "is this text a valid X?" without ever
-- raising, so one bad value is a quarantined row and never a failed statement.
-- CASE (not AND) fixes the evaluation order where a cast must only see checked text.

create or replace function etl.is_int(value text) returns boolean
language sql immutable parallel safe as $$
    select value ~ '^[+-]?\d{1,9}$'
$$;

create or replace function etl.is_decimal(value text) returns boolean
language sql immutable parallel safe as $$
    select value ~ '^[+-]?(\d{1,12}(\.\d{0,6})?|\.\d{1,6})$'
$$;

create or replace function etl.is_iso_date(value text) returns boolean
language sql immutable parallel safe as $$
    select case
        when value ~ '^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])($|[T ])'
            then substr(value, 9, 2)::int <= extract(day from
                 make_date(substr(value, 1, 4)::int, substr(value, 6, 2)::int, 1) + interval '1 month - 1 day')
        else false
    end
$$;

create or replace function etl.is_iso_timestamp(value text) returns boolean
language sql immutable parallel safe as $$
    select value ~ '^\d{4}-\d\d-\d\d[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-](0\d|1[0-4])(:?[0-5]\d)?)?$'
       and etl.is_iso_date(value)
$$;

create or replace function etl.has_utc_offset(value text) returns boolean
language sql immutable parallel safe as $$
    select value ~ '(Z|[+-]\d\d(:?\d\d)?)$'
$$;

create or replace function etl.looks_like_date(value text) returns boolean
language sql immutable parallel safe as $$
    -- a day/month/year date in some other order, e.g. 03/04/2026: never guessed
    select value ~ '^\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}'
$$;

-- Parse with a declared to_timestamp() format; null (not an error) when it does not match.
-- Only used when the source declares date_format, so its exception block stays off the hot path.
create or replace function etl.try_to_timestamp(value text, format text) returns timestamp
language plpgsql stable parallel safe as $$
begin
    return to_timestamp(value, format) at time zone 'UTC';
exception when others then
    return null;
end
$$;

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

-- A decimal written with the source's declared decimal mark, in the contract's notation.
create or replace function etl.normalize_decimal(value text, decimal_mark text) returns text
language sql immutable parallel safe as $$
    select case when decimal_mark = ',' then replace(value, ',', '.') else value end
$$;

create or replace function etl.is_bool(value text) returns boolean
language sql immutable parallel safe as $$
    select lower(value) in ('true', 'false', 't', 'f', '1', '0', 'yes', 'no', 'y', 'n')
$$;

-- Why an event timestamp cannot be loaded, or null when it can. Policy: ISO 8601 (or the
-- source's declared to_timestamp format); with a UTC offset it is exact; without one it is
-- Europe/Paris local time, and a local time that does not exist or exists twice is refused.
create or replace function etl.timestamp_problem(value text, date_format text) returns text
language sql stable parallel safe as $$
    select case
        when value is null then 'missing timestamp'
        when date_format is null and not etl.is_iso_timestamp(value) then 'invalid timestamp (expected ISO 8601)'
        when date_format is null and etl.has_utc_offset(value) then null
        when date_format is not null and etl.try_to_timestamp(value, date_format) is null
            then 'timestamp does not match the declared date_format'
        when etl.paris_instant(coalesce(etl.try_to_timestamp(value, date_format), value::timestamp)) is null
            then 'nonexistent Europe/Paris local time (DST gap): give a UTC offset'
        when etl.is_ambiguous_paris_time(coalesce(etl.try_to_timestamp(value, date_format), value::timestamp))
            then 'ambiguous Europe/Paris local time (DST fall-back): give a UTC offset'
    end
$$;

-- The instant of a timestamp that etl.timestamp_problem accepted.
create or replace function etl.to_instant(value text, date_format text) returns timestamptz
language sql stable parallel safe as $$
    select case
        when date_format is not null then etl.paris_instant(etl.try_to_timestamp(value, date_format))
        when etl.has_utc_offset(value) then value::timestamptz
        else etl.paris_instant(value::timestamp)
    end
$$;
