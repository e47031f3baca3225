-- fidelite_itemset_extend: Apriori level k >= 3. Each basket occurrence of a frequent
-- (k-1)-itemset (pg_temp.rules_occurrences) is extended by every frequent item of the same
-- basket (pg_temp.rules_lines) whose id is larger than its last item's; only candidate
-- k-itemsets (pg_temp.rules_candidates: every (k-1)-subset frequent) are kept.
with occurrences as (
    select basket_id, items
    from pg_temp.rules_occurrences
),
lines as (
    select basket_id, item
    from pg_temp.rules_lines
),
candidates as (
    select items
    from pg_temp.rules_candidates
),
extended as (
    select
        occurrences.basket_id,
        occurrences.items || lines.item as items
    from occurrences
    join lines
        on lines.basket_id = occurrences.basket_id
       and lines.item > occurrences.items[cardinality(occurrences.items)]
),
final as (
    select extended.basket_id, extended.items
    from extended
    join candidates on candidates.items = extended.items
)
select * from final
