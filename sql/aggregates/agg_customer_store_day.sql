-- agg_customer_store_day: per sale date, customer (null: anonymous tickets) and store, the net
-- amount, the tickets and the purchases: distinct tickets holding at least one sale line
-- (returns alone are not purchases). Additive across days and stores, because a ticket is
-- counted per (customer, date, ticket, store), as fidelite_rfm_customers counts purchases.
-- Read by the RFM table, marts.customer_store_cells and the top loyal clients' sales.
-- Keys that cannot change under it: customer_id (card and enrolment are joined at query time)
-- and store_code (a new store version re-points facts to another store_id of the same code).
-- Rolls up agg_tickets_day; refreshed by etl_helpers.aggregates after it, by sale date.
-- depends on: agg_tickets_day (built first: this aggregate reads it)
-- params: dates (date[]: the sale dates to aggregate; null = all)
with tickets as (
    select sale_date, store_code, customer_id, ticket_id, amount, has_sale_line
    from marts.agg_tickets_day
    where %(dates)s::date[] is null
       or sale_date = any(%(dates)s::date[])
),
final as (
    select
        sale_date,
        customer_id,
        store_code,
        sum(amount) as amount,
        (count(distinct ticket_id) filter (where has_sale_line))::int as purchases,
        count(distinct ticket_id)::int as tickets
    from tickets
    group by sale_date, customer_id, store_code
)
select * from final
