-- agg_baskets: one row per basket, a ticket on its sale date (sale_date, ticket_id), with the
-- sorted ids of its distinct products, sale lines only (returns are not purchases; a ticket of
-- returns alone is no basket). Read by fidelite_baskets for the product association rules,
-- rolled up by agg_category_sets_day.
-- Refreshed by etl_helpers.aggregates, by sale date.
-- params: dates (date[]: the sale dates to aggregate; null = all)
with lines as (
    select sale_date, ticket_id, product_id
    from warehouse.fact_ventes
    where not is_return
      and (%(dates)s::date[] is null or sale_date = any(%(dates)s::date[]))
),
final as (
    select
        sale_date,
        ticket_id,
        array_agg(distinct product_id order by product_id) as product_ids
    from lines
    group by sale_date, ticket_id
)
select * from final
