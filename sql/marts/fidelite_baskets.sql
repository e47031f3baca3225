-- fidelite_baskets: the window's baskets for association rules, as weighted item sets: each row
-- an array of distinct item ids (from fidelite_rule_items) and the baskets holding exactly those
-- items. A basket is a ticket (sale_date, ticket_id); its items are its products (level
-- 'product', one row per basket, weight 1) or their categories (level 'category', one row per
-- distinct set of categories). Returns are not purchases and are left out; anonymous tickets count.
-- Reads marts.agg_baskets (each basket's product ids) and marts.agg_category_sets_day (the
-- baskets of each day per set of categories). Read by etl_helpers.marts.rules.read_baskets, in one
-- COPY that packs the baskets of each weight into one text row.
--
-- params: run_date (the as-of date), window_days (365), level ('product' | 'category')
with product_baskets as (
    select product_ids as items, 1::bigint as weight
    from marts.agg_baskets
    where %(level)s::text = 'product'
      and sale_date > %(run_date)s::date - %(window_days)s::int
      and sale_date <= %(run_date)s::date
),
category_sets as (
    select categories, sum(baskets) as weight
    from marts.agg_category_sets_day
    where %(level)s::text = 'category'
      and sale_date > %(run_date)s::date - %(window_days)s::int
      and sale_date <= %(run_date)s::date
    group by categories
),
category_ids as (
    select category, dense_rank() over (order by category collate "C") as category_id
    from (select distinct category from warehouse.dim_produit) as categories
),
category_baskets as (
    select
        array(
            select category_ids.category_id
            from unnest(category_sets.categories) as item (category)
            join category_ids on category_ids.category = item.category
            order by category_ids.category_id
        ) as items,
        category_sets.weight
    from category_sets
),
final as (
    select items, weight from product_baskets
    union all
    select items, weight from category_baskets
)
select * from final
