-- marts.product_sales(first_day, last_day): net quantity, net revenue and tickets per product
-- over the days [first_day, last_day] (the sums of marts.product_region_sales).
-- STABLE: it reads tables (never use it in a MERGE of a distributed table).
create or replace function marts.product_sales(first_day date, last_day date)
returns table (product_id bigint, quantity bigint, revenue numeric, tickets bigint)
language sql
stable
as $$
    select sales.product_id, sum(sales.quantity)::bigint, sum(sales.revenue), sum(sales.tickets)::bigint
    from marts.product_region_sales(first_day, last_day) as sales
    group by sales.product_id
$$;
