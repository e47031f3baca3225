-- agg_sales_hour_day: per sale date and local hour (Europe/Paris, 0-23), net quantity, net
-- revenue and tickets (distinct tickets holding a sale line in that hour). A ticket is one day,
-- so tickets add up across days. Read by fact_vente_mart.sales_by_weekday_hour.
-- Refreshed by etl_helpers.aggregates, by sale date.
-- params: dates (date[]: the sale dates to aggregate; null = all)
with lines as (
    select
        sale_date,
        extract(hour from sold_at at time zone 'Europe/Paris')::int as sale_hour,
        ticket_id,
        quantity,
        amount,
        is_return
    from warehouse.fact_ventes
    where %(dates)s::date[] is null
       or sale_date = any(%(dates)s::date[])
),
final as (
    select
        sale_date,
        sale_hour,
        sum(quantity) as quantity,
        sum(amount) as revenue,
        count(distinct ticket_id) filter (where not is_return) as tickets
    from lines
    group by sale_date, sale_hour
)
select * from final
