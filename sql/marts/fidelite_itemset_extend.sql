-- fidelite_itemset_extend: Apriori level k >= 3. Each occurrence of a frequent (k-1)-itemset
-- in a basket pattern (pg_temp.rules_occurrences) is extended by every item of the same
-- pattern (pg_temp.rules_lines) whose id is larger than its last item's; only candidate
-- k-itemsets (pg_temp.rules_candidates: every (k-1)-subset frequent) are kept. The weight
-- is the number of baskets the pattern stands for.
with occurrences as (
    select pattern_id, items, weight
    from pg_temp.rules_occurrences
),
lines as (
    select pattern_id, item
    from pg_temp.rules_lines
),
candidates as (
    select items
    from pg_temp.rules_candidates
),
extended as (
    select
        occurrences.pattern_id,
        occurrences.items || lines.item as items,
        occurrences.weight
    from occurrences
    join lines
        on lines.pattern_id = occurrences.pattern_id
       and lines.item > occurrences.items[cardinality(occurrences.items)]
),
final as (
    select extended.pattern_id, extended.items, extended.weight
    from extended
    join candidates on candidates.items = extended.items
)
select * from final
