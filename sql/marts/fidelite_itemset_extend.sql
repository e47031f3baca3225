-- fidelite_itemset_extend: Apriori level k >= 3. Each basket occurrence of a frequent
-- (k-1)-itemset (pg_temp.rules_occurrences) is extended by every frequent item of the same
-- basket (pg_temp.rules_lines) that sorts after its last item; only candidate k-itemsets
-- (pg_temp.rules_candidates: every (k-1)-subset frequent) are kept.
with occurrences as (
    select sale_date, ticket_id, items
    from pg_temp.rules_occurrences
),
lines as (
    select sale_date, ticket_id, item
    from pg_temp.rules_lines
),
candidates as (
    select items
    from pg_temp.rules_candidates
),
extended as (
    select
        occurrences.sale_date,
        occurrences.ticket_id,
        occurrences.items || lines.item as items
    from occurrences
    join lines
        on lines.sale_date = occurrences.sale_date
       and lines.ticket_id = occurrences.ticket_id
       and lines.item collate "C" > occurrences.items[cardinality(occurrences.items)] collate "C"
),
final as (
    select extended.sale_date, extended.ticket_id, extended.items
    from extended
    join candidates on candidates.items = extended.items
)
select * from final
