-- agg_sales_store_day: per sale date and store, net quantity, net revenue and tickets (distinct
-- tickets holding a sale line that day). Additive across stores (a ticket is one store) and,
-- for the marts that count a ticket once per sale date, across days. Read by sales_daily,
-- sales_period_comparison and agg_sales_store_month.
-- A store is its store_code: its version on the sale date (name, banner, region) is joined at
-- query time, so a new store version re-pointing facts needs no refresh.
-- Rolls up agg_tickets_day; refreshed by etl_helpers.aggregates after it, by sale date.
-- depends on: agg_tickets_day (built first: this aggregate reads it)
-- params: dates (date[]: the sale dates to aggregate; null = all)
with tickets as (
    select sale_date, store_code, ticket_id, quantity, amount, has_sale_line
    from marts.agg_tickets_day
    where %(dates)s::date[] is null
       or sale_date = any(%(dates)s::date[])
),
final as (
    select
        sale_date,
        store_code,
        sum(quantity)::bigint as quantity,
        sum(amount) as revenue,
        count(distinct ticket_id) filter (where has_sale_line) as tickets
    from tickets
    group by sale_date, store_code
)
select * from final
