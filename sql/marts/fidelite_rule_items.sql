-- fidelite_rule_items: the items association rules are mined on, by level, with the ids
-- fidelite_baskets uses: products (id, code, name) or categories (id by name order, name).
--
-- params: level ('product' | 'category'), item_ids (bigint[]: only these ids; null = every item)
with products as (
    select product_id, product_code, product_name, category
    from warehouse.dim_produit
),
categories as (
    select distinct category
    from products
),
items as (
    select product_id as item_id, product_code as item, product_name as item_name
    from products
    where %(level)s::text = 'product'
    union all
    select
        dense_rank() over (order by category collate "C") as item_id,
        category as item,
        category as item_name
    from categories
    where %(level)s::text = 'category'
),
final as (
    select item_id, item, item_name
    from items
    where %(item_ids)s::bigint[] is null
       or item_id = any(%(item_ids)s::bigint[])
    order by item_id
)
select * from final
