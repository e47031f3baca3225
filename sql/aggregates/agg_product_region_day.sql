-- agg_product_region_day: per sale date, region and product, net quantity, net revenue and
-- tickets (distinct tickets holding a sale line of the product). A ticket is one day and one
-- store, so tickets add up across days and regions. Read by agg_product_region_month (its
-- months) and marts.product_region_sales (the days of a window's partial edge months).
-- A sale's region is its store's on the sale date. Bakes in the stores' regions: a store version
-- that moves a store to another region rebuilds it; products' categories are joined at query time.
-- Refreshed by etl_helpers.aggregates, by sale date.
-- params: dates (date[]: the sale dates to aggregate; null = all)
with lines as (
    select sale_date, region_id, product_id, ticket_id, quantity, amount, is_return
    from marts.v_sales_line_stores
    where %(dates)s::date[] is null
       or sale_date = any(%(dates)s::date[])
),
final as (
    select
        sale_date,
        region_id,
        product_id,
        sum(quantity) as quantity,
        sum(amount) as revenue,
        count(distinct ticket_id) filter (where not is_return) as tickets
    from lines
    group by sale_date, region_id, product_id
)
select * from final
