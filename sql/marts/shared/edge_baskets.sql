-- marts.edge_baskets(first_day, last_day): the baskets (one per ticket: its product ids, from
-- marts.agg_baskets) of the days of the window [first_day, last_day] outside its whole calendar
-- months (marts.window_months), which the monthly item aggregates do not cover.
-- STABLE: it reads tables (never use it in a MERGE of a distributed table).
create or replace function marts.edge_baskets(first_day date, last_day date)
returns table (sale_date date, product_ids bigint[])
language sql
stable
as $$
    select baskets.sale_date, baskets.product_ids
    from marts.agg_baskets as baskets, marts.window_months(first_day, last_day) as whole
    where (baskets.sale_date >= first_day and baskets.sale_date < whole.months_start)
       or (baskets.sale_date >= whole.months_end and baskets.sale_date <= last_day)
$$;
