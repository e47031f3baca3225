-- agg_items_month: per calendar month and product, the baskets holding it (a basket is a ticket
-- on its sale date, so counts add up across months). The product association rules read the
-- single products of a window's whole months from here and the days of its partial edge months
-- from agg_baskets (sql/marts/fidelite_itemset_product_items.sql); pairs and larger itemsets are
-- counted over the window's baskets among frequent products only (etl_helpers.marts.rules).
-- Refreshed by etl_helpers.aggregates after agg_baskets, whole months at a time.
-- depends on: agg_baskets (built first: this aggregate reads it)
-- params: dates (date[]: the sale dates to aggregate, every day of the months; null = all)
with baskets as (
    select sale_date, product_ids
    from marts.agg_baskets
    where %(dates)s::date[] is null
       or sale_date = any(%(dates)s::date[])
),
items as (
    select
        date_trunc('month', sale_date)::date as month,
        unnest(product_ids) as product_id
    from baskets
),
final as (
    select month, product_id, count(*)::int as baskets
    from items
    group by month, product_id
)
select * from final
