-- marts.month_spine(first_month, last_day): one row per calendar month from first_month's to
-- last_day's, with the month's last counted day (period_end: the month's end, or last_day in
-- the last, partial month) and whether it is partial. The marts' monthly grids start from it,
-- so a month without sales still has its row. IMMUTABLE: it reads no table.
create or replace function marts.month_spine(first_month date, last_day date)
returns table (month date, period_end date, is_partial_month boolean)
language sql
immutable
as $$
    select
        spine.month_start::date,
        least((spine.month_start + interval '1 month - 1 day')::date, last_day),
        (spine.month_start + interval '1 month - 1 day')::date > last_day
    from generate_series(
        date_trunc('month', first_month::timestamp),
        date_trunc('month', last_day::timestamp),
        interval '1 month'
    ) as spine (month_start)
$$;
