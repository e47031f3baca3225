-- agg_tickets_day: per sale date and ticket, with its store (store_code), its customer (null:
-- anonymous) and its local hour (Europe/Paris, 0-23), the net quantity, the net amount and
-- whether it holds a sale line (a ticket of returns alone is not a purchase). One row per
-- ticket whose lines agree on store, customer and hour, as they do in the sources so far; a
-- ticket whose lines disagree has a row per combination, and the aggregates that read this one
-- count distinct tickets, so they stay exact either way. About a fifth of the lines at the
-- demo's basket shape: agg_customer_store_day, agg_sales_store_day and agg_sales_hour_day roll
-- it up instead of reading the lines three more times.
-- Refreshed by etl_helpers.aggregates, by sale date.
-- params: dates (date[]: the sale dates to aggregate; null = all)
with lines as (
    select
        sale_date,
        ticket_id,
        store_code,
        customer_id,
        extract(hour from sold_at at time zone 'Europe/Paris')::int as sale_hour,
        quantity,
        amount,
        is_return
    from marts.v_sales_line_stores
    where %(dates)s::date[] is null
       or sale_date = any(%(dates)s::date[])
),
final as (
    select
        sale_date,
        ticket_id,
        store_code,
        customer_id,
        sale_hour,
        sum(quantity) as quantity,
        sum(amount) as amount,
        bool_or(not is_return) as has_sale_line
    from lines
    group by sale_date, ticket_id, store_code, customer_id, sale_hour
)
select * from final
