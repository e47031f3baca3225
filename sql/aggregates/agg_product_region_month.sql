-- agg_product_region_month: agg_product_region_day rolled up to calendar months: per month,
-- region and product, net quantity, net revenue and tickets. A ticket is one day and one store,
-- so tickets add up across days, months and regions: the top-products marts sum the whole
-- months of their window and read the days of its partial edge months from the day aggregate.
-- Bakes in the stores' regions, as agg_product_region_day does.
-- Refreshed by etl_helpers.aggregates after agg_product_region_day, whole months at a time or
-- new days merged into their months.
-- depends on: agg_product_region_day (built first: this aggregate reads it)
-- params: dates (date[]: the sale dates to aggregate, every day of the months; null = all)
with days as (
    select sale_date, region_id, product_id, quantity, revenue, tickets
    from marts.agg_product_region_day
    where %(dates)s::date[] is null
       or sale_date = any(%(dates)s::date[])
),
final as (
    select
        date_trunc('month', sale_date)::date as month,
        region_id,
        product_id,
        sum(quantity)::bigint as quantity,
        sum(revenue) as revenue,
        sum(tickets)::bigint as tickets
    from days
    group by 1, region_id, product_id
)
select * from final
