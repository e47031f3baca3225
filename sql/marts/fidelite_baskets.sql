-- fidelite_baskets: one row per basket of the window, with the ids of its distinct items, for
-- association rules. A basket is a ticket (sale_date, ticket_id); its items are its products
-- (level 'product') or their categories (level 'category'), each once, as ids from
-- fidelite_rule_items. Returns are not purchases and are left out; anonymous tickets count.
-- Reads marts.agg_baskets (each basket's product ids); categories are mapped at query time.
--
-- params: run_date (the as-of date), window_days (365), level ('product' | 'category')
with baskets as (
    select sale_date, ticket_id, product_ids
    from marts.agg_baskets
    where sale_date > %(run_date)s::date - %(window_days)s::int
      and sale_date <= %(run_date)s::date
),
products as (
    select
        product_id,
        dense_rank() over (order by category collate "C") as category_id
    from warehouse.dim_produit
),
category_baskets as (
    select
        baskets.sale_date,
        baskets.ticket_id,
        array_agg(distinct products.category_id) as items
    from baskets
    cross join unnest(baskets.product_ids) as item (product_id)
    join products on products.product_id = item.product_id
    where %(level)s::text = 'category'
    group by baskets.sale_date, baskets.ticket_id
),
final as (
    select sale_date, ticket_id, product_ids as items
    from baskets
    where %(level)s::text = 'product'
    union all
    select sale_date, ticket_id, items
    from category_baskets
)
select * from final
