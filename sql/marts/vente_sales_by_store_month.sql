-- fact_vente_mart.sales_by_store_month: net quantity, net revenue, tickets and average basket
-- per store and calendar month, from the first month with sales to the run date's month
-- (counted up to the run date). Every store with sales is listed for every month. A store is
-- its store_code: its name, banner and region are those of its version in force on the
-- month's period_end (a banner change mid-month shows the new banner for the whole month).
-- Reads marts.agg_sales_store_month (the months as loaded); only a run date's month that
-- holds later sales, in a run for a past date, is recounted from the lines.
-- Parameters: run_date (date).
with aggregated as (
    select month, store_code, last_sale_date, quantity, revenue, tickets
    from marts.agg_sales_store_month
    where month <= %(run_date)s::date
),
stores as (
    select store_code, store_name, banner, valid_from, valid_to, region_code, region_name
    from marts.v_stores
),
late_stores as (
    -- stores whose run-date month holds sales after the run date (an as-of run in the past)
    select store_code
    from aggregated
    where last_sale_date > %(run_date)s::date
),
recounted as (
    -- their month recounted from the lines up to the run date
    select
        date_trunc('month', sale_date)::date as month,
        store_code,
        sum(quantity) as quantity,
        sum(amount) as revenue,
        count(distinct ticket_id) filter (where not is_return) as tickets
    from marts.v_sales_lines
    where sale_date >= date_trunc('month', %(run_date)s::date::timestamp)::date
      and sale_date <= %(run_date)s::date
      and store_code in (select store_code from late_stores)
    group by 1, store_code
),
monthly as (
    select month, store_code, quantity, revenue, tickets
    from aggregated
    where last_sale_date <= %(run_date)s::date
    union all
    select month, store_code, quantity, revenue, tickets
    from recounted
),
months as (
    select month, period_end, is_partial_month
    from marts.month_spine((select min(month) from monthly), %(run_date)s::date)
),
grid as (
    select months.month, months.period_end, months.is_partial_month, active.store_code
    from months
    cross join (select distinct store_code from monthly) as active
),
final as (
    select
        grid.month,
        grid.period_end,
        grid.is_partial_month,
        grid.store_code,
        stores.store_name,
        stores.banner,
        stores.region_code,
        stores.region_name,
        coalesce(monthly.quantity, 0) as quantity,
        round(coalesce(monthly.revenue, 0), 2) as revenue,
        coalesce(monthly.tickets, 0) as tickets,
        round(monthly.revenue / nullif(monthly.tickets, 0), 2) as avg_basket
    from grid
    left join stores
        on stores.store_code = grid.store_code
       and stores.valid_from <= grid.period_end
       and (stores.valid_to is null or grid.period_end < stores.valid_to)
    left join monthly on monthly.month = grid.month and monthly.store_code = grid.store_code
)
select * from final
order by month, store_code collate "C"
