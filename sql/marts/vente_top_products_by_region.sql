-- fact_vente_mart.top_products_by_region: within each region, the group_top_n products by net
-- quantity over the trailing year [run_date - 364, run_date], with net revenue and tickets.
-- A sale belongs to the region of its store as it was on the sale date (v_sales_lines).
-- Ties broken by product code.
-- Reads marts.product_region_sales (whole months from the aggregate, edge days from the lines).
-- Parameters: first_day, last_day (the window), group_top_n (int).
with sales as (
    select region_id, product_id, quantity, revenue, tickets
    from marts.product_region_sales(%(first_day)s::date, %(last_day)s::date)
),
regions as (
    select region_id, region_code, region_name
    from warehouse.dim_region
),
products as (
    select product_id, product_code, product_name, category
    from warehouse.dim_produit
),
by_region_product as (
    select
        region_id,
        product_id,
        sum(quantity)::bigint as quantity,
        sum(revenue) as revenue,
        sum(tickets)::bigint as tickets
    from sales
    group by region_id, product_id
),
ranked as (
    select
        regions.region_code,
        regions.region_name,
        row_number() over (
            partition by regions.region_id
            order by by_region_product.quantity desc, products.product_code collate "C"
        ) as rank,
        products.product_code,
        products.product_name,
        products.category,
        by_region_product.quantity,
        by_region_product.revenue,
        by_region_product.tickets
    from by_region_product
    join regions on regions.region_id = by_region_product.region_id
    join products on products.product_id = by_region_product.product_id
),
final as (
    select
        %(first_day)s::date as period_start,
        %(last_day)s::date as period_end,
        region_code,
        region_name,
        rank,
        product_code,
        product_name,
        category,
        quantity,
        round(revenue, 2) as revenue,
        tickets
    from ranked
    where rank <= %(group_top_n)s
)
select * from final
order by region_code collate "C", rank
