-- agg_sales_store_month: agg_sales_store_day rolled up to calendar months: per month and store,
-- net quantity, net revenue and tickets (a ticket is one day and one store, so tickets add up
-- across days), with the month's last sale day, so a mart can tell whether the month is
-- complete as of its run date. Read by fact_vente_mart.sales_by_store_month.
-- A store is its store_code: a new store version re-points facts to its store_id, never to
-- another code; names, banners and regions are joined at query time.
-- Refreshed by etl_helpers.aggregates after agg_sales_store_day, whole months at a time or new
-- days merged into their months.
-- depends on: agg_sales_store_day (built first: this aggregate reads it)
-- params: dates (date[]: the sale dates to aggregate, every day of the months; null = all)
with days as (
    select sale_date, store_code, quantity, revenue, tickets
    from marts.agg_sales_store_day
    where %(dates)s::date[] is null
       or sale_date = any(%(dates)s::date[])
),
final as (
    select
        date_trunc('month', sale_date)::date as month,
        store_code,
        max(sale_date) as last_sale_date,
        sum(quantity)::bigint as quantity,
        sum(revenue) as revenue,
        sum(tickets)::bigint as tickets
    from days
    group by 1, store_code
)
select * from final
