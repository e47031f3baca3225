-- agg_sales_hour_day: per sale date and local hour (Europe/Paris, 0-23), net quantity, net
-- revenue and tickets (distinct tickets holding a sale line in that hour). A ticket is one day,
-- so tickets add up across days. Read by fact_vente_mart.sales_by_weekday_hour.
-- Rolls up agg_tickets_day; refreshed by etl_helpers.aggregates after it, by sale date.
-- depends on: agg_tickets_day (built first: this aggregate reads it)
-- params: dates (date[]: the sale dates to aggregate; null = all)
with tickets as (
    select sale_date, sale_hour, ticket_id, quantity, amount, has_sale_line
    from marts.agg_tickets_day
    where %(dates)s::date[] is null
       or sale_date = any(%(dates)s::date[])
),
final as (
    select
        sale_date,
        sale_hour,
        sum(quantity)::bigint as quantity,
        sum(amount) as revenue,
        count(distinct ticket_id) filter (where has_sale_line) as tickets
    from tickets
    group by sale_date, sale_hour
)
select * from final
