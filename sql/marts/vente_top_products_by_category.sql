-- fact_vente_mart.top_products_by_category: within each product category, the top_n products
-- by net quantity over the trailing year [run_date - 364, run_date], with net revenue, tickets
-- and the product's share of its category's net quantity. Categories are the products'
-- current ones (dim_produit is type 1). Ties broken by product code.
-- Parameters: run_date (date), top_n (int).
with sales as (
    select product_id, ticket_id, quantity, amount, is_return
    from marts.v_sales_lines
    where sale_date between %(run_date)s::date - 364 and %(run_date)s::date
),
products as (
    select product_id, product_code, product_name, category, subcategory, brand
    from warehouse.dim_produit
),
by_product as (
    select
        product_id,
        sum(quantity) as quantity,
        sum(amount) as revenue,
        count(distinct ticket_id) filter (where not is_return) as tickets
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
        %(run_date)s::date - 364 as period_start,
        %(run_date)s::date as period_end,
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
    where rank <= %(top_n)s
)
select * from final
order by category collate "C", rank
