-- fact_vente_mart.top_products_by_region: within each region, the group_top_n products by net
-- quantity over the trailing year [run_date - 364, run_date], with net revenue and tickets.
-- A sale belongs to the region of its store as it was on the sale date (v_sales_lines).
-- Ties broken by product code.
-- Reads marts.ranked_products (whole months from the month aggregate, edge days from the day one).
-- Parameters: first_day, last_day (the window), group_top_n (int).
with ranked as (
    select region_id, rank, product_code, product_name, category, quantity, round(revenue, 2) as revenue, tickets
    from marts.ranked_products(%(first_day)s::date, %(last_day)s::date, 'region')
    where rank <= %(group_top_n)s
),
regions as (
    select region_id, region_code, region_name
    from warehouse.dim_region
),
final as (
    select
        %(first_day)s::date as period_start,
        %(last_day)s::date as period_end,
        regions.region_code,
        regions.region_name,
        ranked.rank,
        ranked.product_code,
        ranked.product_name,
        ranked.category,
        ranked.quantity,
        ranked.revenue,
        ranked.tickets
    from ranked
    join regions on regions.region_id = ranked.region_id
)
select * from final
order by region_code collate "C", rank
