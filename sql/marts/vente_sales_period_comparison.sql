-- fact_vente_mart.sales_period_comparison: month-to-date and year-to-date net sales against the
-- same period one year earlier, in total, by region and by banner (the store's region and
-- banner as they were on the sale date), with growth in percent:
-- (current - previous) * 100 / abs(previous), null when the previous value is zero.
--
-- Periods: month_to_date = [first day of the run date's month, run_date]; year_to_date =
-- [1 January, run_date]. The previous period is the same calendar dates one year earlier,
-- ending on previous_end = run_date minus one year, except that a run date on the last day
-- of its month compares with the last day of that month a year earlier. This only matters
-- for February: a run on 29 February compares with 28 February (whole February against whole
-- February), and a run on 28 February of a common year compares with the leap February up to
-- its 29th. current_days and previous_days show the lengths so an extra day is visible.
-- Reads marts.agg_sales_store_day (a ticket counts once per sale date, as it did from the lines).
-- Parameters: run_date (date).
with store_days as (
    select sale_date, store_code, quantity, revenue, tickets
    from marts.agg_sales_store_day
    where sale_date between (date_trunc('year', %(run_date)s::date) - interval '1 year')::date
                        and %(run_date)s::date
),
stores as (
    select store_code, banner, valid_from, valid_to, region_code, region_name
    from marts.v_stores
),
bounds as (
    select
        %(run_date)s::date as run_date,
        case
            when %(run_date)s::date
                 = (date_trunc('month', %(run_date)s::date) + interval '1 month - 1 day')::date
            then (date_trunc('month', %(run_date)s::date - interval '1 year')
                  + interval '1 month - 1 day')::date
            else (%(run_date)s::date - interval '1 year')::date
        end as previous_end
),
periods as (
    -- each period starts on the first day of the run date's (previous_end's) month or year
    select
        kinds.period,
        date_trunc(kinds.unit, run_date)::date as current_start,
        run_date as current_end,
        date_trunc(kinds.unit, previous_end)::date as previous_start,
        previous_end
    from bounds
    cross join (values ('month_to_date', 'month'), ('year_to_date', 'year')) as kinds (period, unit)
),
sales as (
    -- each store-day with the store's version on that date (its region and banner then)
    select
        store_days.sale_date,
        stores.region_code,
        stores.region_name,
        stores.banner,
        store_days.quantity,
        store_days.revenue as amount,
        store_days.tickets
    from store_days
    join stores
        on stores.store_code = store_days.store_code
       and stores.valid_from <= store_days.sale_date
       and (stores.valid_to is null or store_days.sale_date < stores.valid_to)
),
tagged as (
    select
        periods.period,
        sales.sale_date >= periods.current_start as is_current,
        sales.*
    from sales
    join periods
        on sales.sale_date between periods.current_start and periods.current_end
        or sales.sale_date between periods.previous_start and periods.previous_end
),
aggregated as (
    select
        period,
        case
            when grouping(region_code) = 0 then 'region'
            when grouping(banner) = 0 then 'banner'
            else 'total'
        end as dimension,
        coalesce(region_code, banner, 'all') as code,
        coalesce(region_name, banner, 'All') as name,
        coalesce(sum(quantity) filter (where is_current), 0) as quantity,
        coalesce(sum(quantity) filter (where not is_current), 0) as previous_quantity,
        coalesce(sum(amount) filter (where is_current), 0) as exact_revenue,
        coalesce(sum(amount) filter (where not is_current), 0) as exact_previous_revenue,
        coalesce(sum(tickets) filter (where is_current), 0)::bigint as tickets,
        coalesce(sum(tickets) filter (where not is_current), 0)::bigint as previous_tickets
    from tagged
    group by period, grouping sets ((region_code, region_name), (banner), ())
),
rounded as (
    select
        aggregated.*,
        round(exact_revenue, 2) as revenue,
        round(exact_previous_revenue, 2) as previous_revenue
    from aggregated
),
final as (
    select
        rounded.period,
        rounded.dimension,
        rounded.code,
        rounded.name,
        periods.current_start,
        periods.current_end,
        periods.current_end - periods.current_start + 1 as current_days,
        periods.previous_start,
        periods.previous_end,
        periods.previous_end - periods.previous_start + 1 as previous_days,
        rounded.quantity,
        rounded.previous_quantity,
        round((rounded.quantity - rounded.previous_quantity) * 100.0
              / nullif(abs(rounded.previous_quantity), 0), 2) as quantity_growth_pct,
        rounded.revenue,
        rounded.previous_revenue,
        round((rounded.revenue - rounded.previous_revenue) * 100.0
              / nullif(abs(rounded.previous_revenue), 0), 2) as revenue_growth_pct,
        rounded.tickets,
        rounded.previous_tickets,
        round((rounded.tickets - rounded.previous_tickets) * 100.0
              / nullif(abs(rounded.previous_tickets), 0), 2) as tickets_growth_pct,
        round(rounded.exact_revenue / nullif(rounded.tickets, 0), 2) as avg_basket,
        round(rounded.exact_previous_revenue / nullif(rounded.previous_tickets, 0), 2)
            as previous_avg_basket
    from rounded
    join periods on periods.period = rounded.period
)
select * from final
order by period, dimension, code collate "C"
