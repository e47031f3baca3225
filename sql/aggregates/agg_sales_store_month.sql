-- agg_sales_store_month: per calendar month and store, net quantity, net revenue and tickets
-- (distinct tickets holding a sale line: not additive across days, hence the month grain), with
-- the month's last sale day, so a mart can tell whether the month is complete as of its run
-- date. Read by fact_vente_mart.sales_by_store_month.
-- A store is its store_code: a new store version re-points facts to its store_id, never to
-- another code; names, banners and regions are joined at query time.
-- Refreshed by etl_helpers.aggregates, whole months at a time.
-- params: dates (date[]: the sale dates to aggregate, every day of the months; null = all)
with lines as (
    select sale_date, store_id, ticket_id, quantity, amount, is_return
    from warehouse.fact_ventes
    where %(dates)s::date[] is null
       or sale_date = any(%(dates)s::date[])
),
store_versions as (
    select store_id, store_code
    from warehouse.dim_magasin
),
final as (
    select
        date_trunc('month', lines.sale_date)::date as month,
        store_versions.store_code,
        max(lines.sale_date) as last_sale_date,
        sum(lines.quantity) as quantity,
        sum(lines.amount) as revenue,
        count(distinct lines.ticket_id) filter (where not lines.is_return) as tickets
    from lines
    join store_versions on store_versions.store_id = lines.store_id
    group by 1, store_versions.store_code
)
select * from final
