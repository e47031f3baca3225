-- fidelite_itemset_pairs: Apriori level 2. Every pair of frequent items of a basket pattern
-- (pg_temp.rules_lines: one row per distinct set of frequent items found in baskets, per
-- item, with the number of baskets having exactly that set): a self-join of the pattern's
-- lines. Items of a pair are in id order; the weight carries the baskets it stands for.
with lines as (
    select pattern_id, item, weight
    from pg_temp.rules_lines
),
final as (
    select
        left_lines.pattern_id,
        array[left_lines.item, right_lines.item] as items,
        left_lines.weight
    from lines as left_lines
    join lines as right_lines
        on right_lines.pattern_id = left_lines.pattern_id
       and right_lines.item > left_lines.item
)
select * from final
