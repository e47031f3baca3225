-- agg_customer_store_month: agg_customer_store_day rolled up to calendar months, with each
-- cell's first and last purchase day, so the RFM table reads whole months where its window
-- holds whole months, and days only at its two edges. Anonymous tickets are left out (the RFM
-- table reads customers only).
-- Refreshed by etl_helpers.aggregates after agg_customer_store_day, whole months at a time or
-- new days merged into their months.
-- depends on: agg_customer_store_day (built first: this aggregate reads it)
-- params: dates (date[]: the sale dates to aggregate, every day of the months; null = all)
with cells as (
    select sale_date, customer_id, store_code, amount, purchases
    from marts.agg_customer_store_day
    where customer_id is not null
      and (%(dates)s::date[] is null or sale_date = any(%(dates)s::date[]))
),
final as (
    select
        date_trunc('month', sale_date)::date as month,
        customer_id,
        store_code,
        min(sale_date) filter (where purchases > 0) as first_purchase_date,
        max(sale_date) filter (where purchases > 0) as last_purchase_date,
        sum(amount) as amount,
        sum(purchases)::int as purchases
    from cells
    group by 1, customer_id, store_code
)
select * from final
