-- fact_vente_mart.top_products_by_quantity: the top_n products by net quantity sold over the
-- trailing year [run_date - 364, run_date] (365 days ending on the run date), with their net
-- revenue and tickets beside. Net of returns: return lines carry negative quantities and
-- amounts. Ties on quantity are broken by product code (ascending), so the ranking is stable.
-- Reads marts.product_sales (whole months from the aggregate, edge days from the lines).
-- Parameters: first_day, last_day (the window), top_n (int).
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
        row_number() over (
            order by by_product.quantity desc, products.product_code collate "C"
        ) as rank,
        products.product_code,
        products.product_name,
        products.category,
        products.subcategory,
        products.brand,
        by_product.quantity,
        by_product.revenue,
        by_product.tickets
    from by_product
    join products on products.product_id = by_product.product_id
),
final as (
    select
        %(first_day)s::date as period_start,
        %(last_day)s::date as period_end,
        rank,
        product_code,
        product_name,
        category,
        subcategory,
        brand,
        quantity,
        round(revenue, 2) as revenue,
        tickets
    from ranked
    where rank <= %(top_n)s
)
select * from final
order by rank
