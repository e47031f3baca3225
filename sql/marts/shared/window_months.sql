-- marts.window_months(first_day, last_day): the whole calendar months [months_start, months_end)
-- inside the days [first_day, last_day], which the monthly aggregates count; the window's other
-- days are its partial edge months, counted from daily data. Without a whole month,
-- months_start = months_end = last_day + 1 (every day is an edge day). The same rule as
-- etl_helpers.marts.query.whole_months. IMMUTABLE: it reads no table.
create or replace function marts.window_months(first_day date, last_day date)
returns table (months_start date, months_end date)
language sql
immutable
as $$
    select
        case when whole.first_month < whole.after_month then whole.first_month else last_day + 1 end,
        case when whole.first_month < whole.after_month then whole.after_month else last_day + 1 end
    from (select
              date_trunc('month', (first_day + interval '1 month' - interval '1 day')::timestamp)::date as first_month,
              date_trunc('month', (last_day + 1)::timestamp)::date as after_month) as whole
$$;
