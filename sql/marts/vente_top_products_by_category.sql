-- fact_vente_mart.top_products_by_category: within each product category, the group_top_n products
-- by net quantity over the trailing year [run_date - 364, run_date], with net revenue, tickets
-- and the product's share of its category's net quantity. Categories are the products'
-- current ones (dim_produit is type 1). Ties broken by product code.
-- Reads marts.ranked_products (whole months from the month aggregate, edge days from the day one).
-- Parameters: first_day, last_day (the window), group_top_n (int).
with ranked as (
    select category, rank, product_code, product_name, subcategory, brand, quantity, round(revenue, 2) as revenue,
           tickets, group_quantity as category_quantity
    from marts.ranked_products(%(first_day)s::date, %(last_day)s::date, 'category')
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
        revenue,
        tickets,
        round(quantity * 100.0 / nullif(category_quantity, 0), 2) as category_quantity_share_pct
    from ranked
    where rank <= %(group_top_n)s
)
select * from final
order by category collate "C", rank
