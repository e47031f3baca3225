-- agg_category_sets_day: per sale date and set of categories, the baskets holding exactly that
-- set (a basket is a ticket on its sale date, sale lines only, as in agg_baskets). A day holds
-- a few hundred sets for thousands of baskets; the category association rules count itemsets
-- over these weighted sets (sql/marts/fidelite_baskets.sql).
-- Bakes in the products' categories: a snapshot that re-categorises a product rebuilds it.
-- Refreshed by etl_helpers.aggregates after agg_baskets, by sale date.
-- depends on: agg_baskets (built first: this aggregate reads it)
-- params: dates (date[]: the sale dates to aggregate; null = all)
with baskets as (
    select sale_date, ticket_id, product_ids
    from marts.agg_baskets
    where %(dates)s::date[] is null
       or sale_date = any(%(dates)s::date[])
),
products as (
    select product_id, category
    from warehouse.dim_produit
),
basket_categories as (
    select
        baskets.sale_date,
        array_agg(distinct products.category collate "C" order by products.category collate "C") as categories
    from baskets
    cross join unnest(baskets.product_ids) as item (product_id)
    join products on products.product_id = item.product_id
    group by baskets.sale_date, baskets.ticket_id
),
final as (
    select sale_date, categories, count(*)::int as baskets
    from basket_categories
    group by sale_date, categories
)
select * from final
