-- fidelite_itemset_pairs: every occurrence of a pair of frequent items in a basket (Apriori
-- level 2), from the basket lines the rules builder keeps in pg_temp.rules_lines (already
-- restricted to frequent items). Items of a pair are in code-point order ("C" collation).
with lines as (
    select sale_date, ticket_id, item
    from pg_temp.rules_lines
),
final as (
    select
        left_lines.sale_date,
        left_lines.ticket_id,
        array[left_lines.item, right_lines.item] as items
    from lines as left_lines
    join lines as right_lines
        on right_lines.sale_date = left_lines.sale_date
       and right_lines.ticket_id = left_lines.ticket_id
       and right_lines.item collate "C" > left_lines.item collate "C"
)
select * from final
