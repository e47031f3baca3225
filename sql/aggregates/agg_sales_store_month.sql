-- agg_sales_store_month: per calendar month and store, net quantity, net revenue and tickets
-- (distinct tickets holding a sale line: not additive across days, hence the month grain), with
-- the month's last sale day, so a mart can tell whether the month is complete as of its run
-- date. Read by fact_vente_mart.sales_by_store_month.
-- A store is its store_code: a new store version re-points facts to its store_id, never to
-- another code; names, banners and regions are joined at query time.
-- Refreshed by etl_helpers.aggregates, whole months at a time.
-- params: dates (date[]: the sale dates to aggregate, every day of the months; null = all)
with lines as (
    select sale_date, store_code, ticket_id, quantity, amount, is_return
    from marts.v_sales_line_stores
    where %(dates)s::date[] is null
       or sale_date = any(%(dates)s::date[])
),
final as (
    select
        date_trunc('month', sale_date)::date as month,
        store_code,
        max(sale_date) as last_sale_date,
        sum(quantity) as quantity,
        sum(amount) as revenue,
        count(distinct ticket_id) filter (where not is_return) as tickets
    from lines
    group by 1, store_code
)
select * from final
