-- fidelite_itemset_product_pairs: Apriori level 2 at the product level, from the aggregates: the
-- pairs of frequent products (items: their ids) held by at least min_count baskets of the window
-- [first_day, last_day], as sorted id arrays with that count. Its whole calendar months are read
-- from marts.agg_item_pairs_month, the days of its partial edge months from marts.edge_baskets,
-- each basket cut down to its frequent products.
--
-- params: first_day, last_day (dates), months (date[]: the first days of the whole months,
-- marts.window_months, as an equality the index serves), items (bigint[]), min_count (int)
with whole_months as (
    select product_id, paired_product_id, baskets
    from marts.agg_item_pairs_month
    where month = any(%(months)s::date[])
      and product_id = any(%(items)s::bigint[])
      and paired_product_id = any(%(items)s::bigint[])
),
edge_baskets as (
    select array(
        select product_id
        from unnest(product_ids) as product_id
        where product_id = any(%(items)s::bigint[])
        order by product_id
    ) as product_ids
    from marts.edge_baskets(%(first_day)s::date, %(last_day)s::date)
),
edge_days as (
    select
        edge_baskets.product_ids[position] as product_id,
        unnest(edge_baskets.product_ids[position + 1:]) as paired_product_id,
        1 as baskets
    from edge_baskets
    cross join generate_subscripts(edge_baskets.product_ids, 1) as position
),
final as (
    select array[product_id, paired_product_id] as items, sum(baskets) as n
    from (select * from whole_months union all select * from edge_days) as counts
    group by product_id, paired_product_id
    having sum(baskets) >= %(min_count)s::int
)
select * from final
