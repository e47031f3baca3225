-- agg_category_day: per sale date and product category, net quantity, net revenue and tickets
-- (distinct tickets holding a sale line of the category: a ticket counts once in each category
-- it touches). A ticket is one day, so tickets add up across days, not across categories.
-- Read by fact_vente_mart.sales_by_category_month.
-- Bakes in the products' categories (dim_produit is type 1): a snapshot that re-categorises a
-- product rebuilds it (etl_helpers.aggregates, BAKED_ATTRIBUTES).
-- Refreshed by etl_helpers.aggregates, by sale date.
-- params: dates (date[]: the sale dates to aggregate; null = all)
with lines as (
    select sale_date, product_id, ticket_id, quantity, amount, is_return
    from warehouse.fact_ventes
    where %(dates)s::date[] is null
       or sale_date = any(%(dates)s::date[])
),
products as (
    select product_id, category
    from warehouse.dim_produit
),
final as (
    select
        lines.sale_date,
        products.category,
        sum(lines.quantity) as quantity,
        sum(lines.amount) as revenue,
        count(distinct lines.ticket_id) filter (where not lines.is_return) as tickets
    from lines
    join products on products.product_id = lines.product_id
    group by lines.sale_date, products.category
)
select * from final
