-- marts.product_region_sales(first_day, last_day): net quantity, net revenue and tickets per
-- calendar month, region and product over the days [first_day, last_day]. The window's whole
-- calendar months come from marts.agg_product_region_month, the days of its partial edge months
-- from the lines (marts.v_sales_lines), grouped by their month: tickets add up across months and
-- regions (a ticket is one day, one store). The split is marts.window_months'.
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
        date_trunc('month', lines.sale_date)::date,
        lines.region_id,
        lines.product_id,
        sum(lines.quantity)::bigint,
        sum(lines.amount),
        count(distinct lines.ticket_id) filter (where not lines.is_return)
    from marts.v_sales_lines as lines, marts.window_months(first_day, last_day) as whole
    where (lines.sale_date >= first_day and lines.sale_date < whole.months_start)
       or (lines.sale_date >= whole.months_end and lines.sale_date <= last_day)
    group by 1, lines.region_id, lines.product_id
$$;
