-- agg_item_pairs_month: per calendar month and pair of products (product_id < paired_product_id),
-- the baskets holding both. Every pair that occurs is kept (support thresholds are chosen at
-- query time), so the window's pair counts are sums over its whole months plus the days of its
-- partial edge months, counted from agg_baskets (sql/marts/fidelite_itemset_product_pairs.sql).
-- Refreshed by etl_helpers.aggregates after agg_baskets, whole months at a time. Its index
-- (month, product_id, paired_product_id) serves the lookups of the frequent pairs.
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
        unnest(product_ids) as product_id,
        product_ids
    from baskets
),
pairs as (  -- each product of a basket with every larger one of the same basket
    select month, product_id, paired_product_id
    from (select month, product_id, unnest(product_ids) as paired_product_id from items) as candidates
    where paired_product_id > product_id
),
final as (  -- in index order: a refreshed month goes into its index range in one sweep
    select month, product_id, paired_product_id, count(*)::int as baskets
    from pairs
    group by month, product_id, paired_product_id
    order by month, product_id, paired_product_id
)
select * from final
