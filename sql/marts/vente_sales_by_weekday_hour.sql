-- fact_vente_mart.sales_by_weekday_hour: net quantity, net revenue and tickets per day of week
-- (1 = Monday) and hour of day (Europe/Paris local time, 0-23) over the trailing year
-- [run_date - 364, run_date]; all 7 x 24 cells present. Because a 365-day window holds one
-- weekday 53 times and the others 52, revenue_per_day divides by the number of such weekdays
-- in the window (days_in_window): the average net revenue of that hour on that weekday.
-- Reads marts.agg_sales_hour_day (tickets add up across days, a ticket being one day).
-- Parameters: run_date (date).
with sales as (
    select sale_date, sale_hour, quantity, revenue, tickets
    from marts.agg_sales_hour_day
    where sale_date between %(run_date)s::date - 364 and %(run_date)s::date
),
weekday_names (day_of_week, weekday) as (
    values (1, 'Monday'), (2, 'Tuesday'), (3, 'Wednesday'), (4, 'Thursday'),
           (5, 'Friday'), (6, 'Saturday'), (7, 'Sunday')
),
days as (
    select extract(isodow from day)::int as day_of_week
    from generate_series(
        (%(run_date)s::date - 364)::timestamp,
        %(run_date)s::date::timestamp,
        interval '1 day'
    ) as day
),
weekdays as (
    select day_of_week, count(*) as days_in_window
    from days
    group by day_of_week
),
hours as (
    select hour from generate_series(0, 23) as hour
),
by_cell as (
    select
        extract(isodow from sale_date)::int as day_of_week,
        sale_hour as hour,
        sum(quantity)::bigint as quantity,
        sum(revenue) as revenue,
        sum(tickets)::bigint as tickets
    from sales
    group by 1, sale_hour
),
final as (
    select
        weekdays.day_of_week,
        weekday_names.weekday,
        hours.hour,
        weekdays.days_in_window,
        coalesce(by_cell.quantity, 0) as quantity,
        round(coalesce(by_cell.revenue, 0), 2) as revenue,
        coalesce(by_cell.tickets, 0) as tickets,
        round(by_cell.revenue / nullif(by_cell.tickets, 0), 2) as avg_basket,
        round(coalesce(by_cell.revenue, 0) / weekdays.days_in_window, 2) as revenue_per_day
    from weekdays
    join weekday_names on weekday_names.day_of_week = weekdays.day_of_week
    cross join hours
    left join by_cell on by_cell.day_of_week = weekdays.day_of_week and by_cell.hour = hours.hour
)
select * from final
order by day_of_week, hour
