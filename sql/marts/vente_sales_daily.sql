-- fact_vente_mart.sales_daily: one row per day of the `daily_days` days ending on the run date
-- [run_date - daily_days + 1, run_date], every day present (zeros on days without sales), with net
-- quantity, net revenue, tickets, average basket and the trailing 7-day average of net
-- revenue (the day and the 6 before it, days without sales counting as zero). Calendar flags
-- come from dim_temps (is_holiday is null for a day dim_temps does not hold).
-- Reads marts.agg_sales_store_day: a ticket is one store, so a day's tickets are the sum of its
-- stores' tickets.
-- Parameters: run_date (date), daily_days (int).
with store_days as (
    select sale_date, quantity, revenue, tickets
    from marts.agg_sales_store_day
    where sale_date between %(run_date)s::date - (%(daily_days)s::int + 5) and %(run_date)s::date
),
calendar as (
    select date_id, is_ferie, holiday_name
    from warehouse.dim_temps
),
days as (
    select day::date as sale_date
    from generate_series(
        (%(run_date)s::date - (%(daily_days)s::int + 5))::timestamp,
        %(run_date)s::date::timestamp,
        interval '1 day'
    ) as day
),
daily as (
    select
        sale_date,
        sum(quantity)::bigint as quantity,
        sum(revenue) as revenue,
        sum(tickets)::bigint as tickets
    from store_days
    group by sale_date
),
series as (
    select
        days.sale_date,
        coalesce(daily.quantity, 0) as quantity,
        round(coalesce(daily.revenue, 0), 2) as revenue,
        coalesce(daily.tickets, 0) as tickets,
        round(daily.revenue / nullif(daily.tickets, 0), 2) as avg_basket
    from days
    left join daily on daily.sale_date = days.sale_date
),
rolled as (
    select
        series.*,
        round(avg(revenue) over (order by sale_date rows between 6 preceding and current row), 2)
            as revenue_7d_avg
    from series
),
final as (
    select
        rolled.sale_date,
        extract(isodow from rolled.sale_date)::int as day_of_week,
        extract(isodow from rolled.sale_date) >= 6 as is_weekend,
        calendar.is_ferie as is_holiday,
        calendar.holiday_name,
        rolled.quantity,
        rolled.revenue,
        rolled.tickets,
        rolled.avg_basket,
        rolled.revenue_7d_avg
    from rolled
    left join calendar on calendar.date_id = rolled.sale_date
    where rolled.sale_date > %(run_date)s::date - %(daily_days)s::int
)
select * from final
order by sale_date
