-- agg_loyalty_store_day: per event date and store, the loyalty points earned and redeemed.
-- Keyed by store_code (a new store version re-points events to another store_id of the same
-- code), like marts.v_loyalty_events, whose events it sums (each event's store and customer
-- known). Read by loyalty_kpis and top_stores_by_loyal_customers.
-- Refreshed by etl_helpers.aggregates, by event date.
-- params: dates (date[]: the event dates to aggregate; null = all)
with events as (
    select event_date, store_code, points_earned, points_redeemed
    from marts.v_loyalty_events
    where %(dates)s::date[] is null
       or event_date = any(%(dates)s::date[])
),
final as (
    select
        event_date,
        store_code,
        sum(points_earned) as points_earned,
        sum(points_redeemed) as points_redeemed
    from events
    group by event_date, store_code
)
select * from final
