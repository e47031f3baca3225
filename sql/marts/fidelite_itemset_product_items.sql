-- fidelite_itemset_product_items: Apriori level 1 at the product level, from the aggregates: every
-- product of the baskets of the window [first_day, last_day], with how many baskets hold it (the
-- caller keeps the frequent ones and counts pairs among them only, over the window's baskets).
-- Its whole calendar months are read from marts.agg_items_month, the days of its partial edge
-- months from marts.edge_baskets (each basket's product ids).
--
-- params: first_day, last_day (dates), months (date[]: the first days of the whole months,
-- marts.window_months, as an equality the index serves)
with whole_months as (
    select product_id, baskets
    from marts.agg_items_month
    where month = any(%(months)s::date[])
),
edge_days as (
    select unnest(product_ids) as product_id, 1 as baskets
    from marts.edge_baskets(%(first_day)s::date, %(last_day)s::date)
),
final as (
    select product_id as item, sum(baskets) as n
    from (select * from whole_months union all select * from edge_days) as counts
    group by product_id
)
select * from final
