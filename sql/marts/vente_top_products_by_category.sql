-- fact_vente_mart.top_products_by_category: within each product category, the group_top_n products
-- by net quantity over the trailing year [run_date - 364, run_date], with net revenue, tickets
-- and the product's share of its category's net quantity. Categories are the products'
-- current ones (dim_produit is type 1). Ties broken by product code.
-- Reads marts.agg_product_region_month for the window's whole calendar months
-- [months_start, months_end) and counts the days of its partial edge months from the lines.
-- Parameters: first_day, last_day (the window), months_start, months_end (its whole
-- months, etl_helpers.marts.query.window), group_top_n (int).
with whole_months as (
    select region_id, product_id, quantity, revenue, tickets
    from marts.agg_product_region_month
    where month >= %(months_start)s::date and month < %(months_end)s::date
),
edge_days as (
    select
        region_id,
        product_id,
        sum(quantity)::bigint as quantity,
        sum(amount) as revenue,
        count(distinct ticket_id) filter (where not is_return) as tickets
    from marts.v_sales_lines
    where (sale_date >= %(first_day)s::date and sale_date < %(months_start)s::date)
       or (sale_date >= %(months_end)s::date and sale_date <= %(last_day)s::date)
    group by region_id, product_id
),
sales as (
    select * from whole_months
    union all
    select * from edge_days
),
products as (
    select product_id, product_code, product_name, category, subcategory, brand
    from warehouse.dim_produit
),
by_product as (
    select
        product_id,
        sum(quantity)::bigint as quantity,
        sum(revenue) as revenue,
        sum(tickets)::bigint as tickets
    from sales
    group by product_id
),
ranked as (
    select
        products.category,
        row_number() over (
            partition by products.category
            order by by_product.quantity desc, products.product_code collate "C"
        ) as rank,
        products.product_code,
        products.product_name,
        products.subcategory,
        products.brand,
        by_product.quantity,
        by_product.revenue,
        by_product.tickets,
        sum(by_product.quantity) over (partition by products.category) as category_quantity
    from by_product
    join products on products.product_id = by_product.product_id
),
final as (
    select
        %(first_day)s::date as period_start,
        %(last_day)s::date as period_end,
        category,
        rank,
        product_code,
        product_name,
        subcategory,
        brand,
        quantity,
        round(revenue, 2) as revenue,
        tickets,
        round(quantity * 100.0 / nullif(category_quantity, 0), 2) as category_quantity_share_pct
    from ranked
    where rank <= %(group_top_n)s
)
select * from final
order by category collate "C", rank
