-- agg_item_pairs_month: per calendar month and pair of products (product_id < paired_product_id),
-- the baskets holding both. Every pair that occurs is kept (support thresholds are chosen at
-- query time), so the window's pair counts are sums over its whole months plus the days of its
-- partial edge months, counted from agg_baskets (sql/marts/fidelite_itemset_product_pairs.sql).
-- Refreshed by etl_helpers.aggregates after agg_baskets, whole months at a time.
-- params: dates (date[]: the sale dates to aggregate, every day of the months; null = all)
with baskets as (
    select sale_date, product_ids
    from marts.agg_baskets
    where %(dates)s::date[] is null
       or sale_date = any(%(dates)s::date[])
),
pairs as (  -- product ids are sorted: each product with every later one of its basket
    select
        date_trunc('month', baskets.sale_date)::date as month,
        baskets.product_ids[position] as product_id,
        unnest(baskets.product_ids[position + 1:]) as paired_product_id
    from baskets
    cross join generate_subscripts(baskets.product_ids, 1) as position
),
final as (
    select month, product_id, paired_product_id, count(*)::int as baskets
    from pairs
    group by month, product_id, paired_product_id
)
select * from final
