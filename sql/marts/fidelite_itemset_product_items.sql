-- fidelite_itemset_product_items: Apriori level 1 at the product level, from the aggregates: the
-- products held by at least min_count baskets of the window [first_day, last_day], with that
-- count. Its whole calendar months [months_start, months_end) are read from
-- marts.agg_items_month, the days of its partial edge months from marts.agg_baskets (each
-- basket's product ids). No whole month: months_start = months_end = last_day + 1.
--
-- params: first_day, last_day, months_start, months_end (dates), months (date[]: the whole
-- months' first days, an equality the index serves), min_count (int)
with whole_months as (
    select product_id, baskets
    from marts.agg_items_month
    where month = any(%(months)s::date[])
),
edge_days as (
    select unnest(product_ids) as product_id, 1 as baskets
    from marts.agg_baskets
    where (sale_date >= %(first_day)s::date and sale_date < %(months_start)s::date)
       or (sale_date >= %(months_end)s::date and sale_date <= %(last_day)s::date)
),
final as (
    select product_id as item, sum(baskets) as n
    from (select * from whole_months union all select * from edge_days) as counts
    group by product_id
    having sum(baskets) >= %(min_count)s::int
)
select * from final
