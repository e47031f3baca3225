-- marts.product_region_sales(first_day, last_day): net quantity, net revenue and tickets per
-- calendar month, region and product over the days [first_day, last_day]. The window's whole
-- calendar months come from marts.agg_product_region_month, the days of its partial edge months
-- from marts.agg_product_region_day, grouped by their month: tickets add up across days, months
-- and regions (a ticket is one day, one store). The split is marts.window_months'.
-- STABLE: it reads tables (never use it in a MERGE of a distributed table).
create or replace function marts.product_region_sales(first_day date, last_day date)
returns table (month date, region_id integer, product_id bigint, quantity bigint, revenue numeric, tickets bigint)
language sql
stable
as $$
    select agg.month, agg.region_id, agg.product_id, agg.quantity::bigint, agg.revenue, agg.tickets::bigint
    from marts.agg_product_region_month as agg, marts.window_months(first_day, last_day) as whole
    where agg.month >= whole.months_start and agg.month < whole.months_end
    union all
    select
        date_trunc('month', days.sale_date)::date,
        days.region_id,
        days.product_id,
        sum(days.quantity)::bigint,
        sum(days.revenue),
        sum(days.tickets)::bigint
    from marts.agg_product_region_day as days, marts.window_months(first_day, last_day) as whole
    where (days.sale_date >= first_day and days.sale_date < whole.months_start)
       or (days.sale_date >= whole.months_end and days.sale_date <= last_day)
    group by 1, days.region_id, days.product_id
$$;
