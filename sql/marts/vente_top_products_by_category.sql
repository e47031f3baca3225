-- fact_vente_mart.top_products_by_category: within each product category, the group_top_n products
-- by net quantity over the trailing year [run_date - 364, run_date], with net revenue, tickets
-- and the product's share of its category's net quantity. Categories are the products'
-- current ones (dim_produit is type 1). Ties broken by product code.
-- Reads marts.product_sales (whole months from the aggregate, edge days from the lines).
-- Parameters: first_day, last_day (the window), group_top_n (int).
with by_product as (
    select product_id, quantity, revenue, tickets
    from marts.product_sales(%(first_day)s::date, %(last_day)s::date)
),
products as (
    select product_id, product_code, product_name, category, subcategory, brand
    from warehouse.dim_produit
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
