-- fact_vente_mart.top_products_by_quantity: the top_n products by net quantity sold over the
-- trailing year [run_date - 364, run_date] (365 days ending on the run date), with their net
-- revenue and tickets beside. Net of returns: return lines carry negative quantities and
-- amounts. Ties on quantity are broken by product code (ascending), so the ranking is stable.
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
        %(run_date)s::date - 364 as period_start,
        %(run_date)s::date as period_end,
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
