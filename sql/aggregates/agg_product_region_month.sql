-- agg_product_region_month: per calendar month, region and product, net quantity, net revenue
-- and tickets (distinct tickets holding a sale line of the product). A ticket is one day and one
-- store, so tickets add up across months and regions: the top-products marts sum the whole
-- months of their window and count the days of its partial edge months from the lines.
-- A sale's region is its store's on the sale date. Bakes in the stores' regions: a store version
-- that moves a store to another region rebuilds it; products' categories are joined at query time.
-- Refreshed by etl_helpers.aggregates, whole months at a time.
-- params: dates (date[]: the sale dates to aggregate, every day of the months; null = all)
with lines as (
    select sale_date, store_id, product_id, ticket_id, quantity, amount, is_return
    from warehouse.fact_ventes
    where %(dates)s::date[] is null
       or sale_date = any(%(dates)s::date[])
),
store_versions as (
    select store_id, region_id
    from warehouse.dim_magasin
),
final as (
    select
        date_trunc('month', lines.sale_date)::date as month,
        store_versions.region_id,
        lines.product_id,
        sum(lines.quantity) as quantity,
        sum(lines.amount) as revenue,
        count(distinct lines.ticket_id) filter (where not lines.is_return) as tickets
    from lines
    join store_versions on store_versions.store_id = lines.store_id
    group by 1, store_versions.region_id, lines.product_id
)
select * from final
