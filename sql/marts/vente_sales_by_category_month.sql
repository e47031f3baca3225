-- fact_vente_mart.sales_by_category_month: net quantity, net revenue, tickets and average
-- basket per product category and calendar month, from the first month with sales to the run
-- date's month (counted up to the run date). Every category with sales is listed for every
-- month. tickets = tickets holding at least one (non-return) line of the category, so a
-- ticket counts once in each category it touches; avg_basket = the category's net revenue
-- per such ticket.
-- Reads marts.agg_category_day (a category's tickets add up across days, a ticket being one day).
-- Parameters: run_date (date).
with days as (
    select sale_date, category, quantity, revenue, tickets
    from marts.agg_category_day
    where sale_date <= %(run_date)s::date
),
monthly as (
    select
        date_trunc('month', sale_date::timestamp)::date as month,
        category,
        sum(quantity)::bigint as quantity,
        sum(revenue) as revenue,
        sum(tickets)::bigint as tickets
    from days
    group by 1, category
),
months as (
    select month, period_end, is_partial_month
    from marts.month_spine((select min(month) from monthly), %(run_date)s::date)
),
grid as (
    select months.month, months.period_end, months.is_partial_month, active.category
    from months
    cross join (select distinct category from monthly) as active
),
final as (
    select
        grid.month,
        grid.period_end,
        grid.is_partial_month,
        grid.category,
        coalesce(monthly.quantity, 0) as quantity,
        round(coalesce(monthly.revenue, 0), 2) as revenue,
        coalesce(monthly.tickets, 0) as tickets,
        round(monthly.revenue / nullif(monthly.tickets, 0), 2) as avg_basket
    from grid
    left join monthly on monthly.month = grid.month and monthly.category = grid.category
)
select * from final
order by month, category collate "C"
