-- fidelite_itemset_pairs: every occurrence of a pair of frequent items in a basket (Apriori
-- level 2): a self-join of the basket lines the rules builder keeps in pg_temp.rules_lines
-- (one row per basket and frequent item id). Items of a pair are in id order.
with lines as (
    select basket_id, item
    from pg_temp.rules_lines
),
final as (
    select
        left_lines.basket_id,
        array[left_lines.item, right_lines.item] as items
    from lines as left_lines
    join lines as right_lines
        on right_lines.basket_id = left_lines.basket_id
       and right_lines.item > left_lines.item
)
select * from final
