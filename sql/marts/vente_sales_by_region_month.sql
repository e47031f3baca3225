-- fact_vente_mart.sales_by_region_month: net quantity, net revenue, tickets and average basket
-- per region and calendar month, from the first month with sales to the run date's month.
-- The run date's month is counted up to the run date (period_end, is_partial_month). Every
-- region with sales is listed for every month, with zeros when it sold nothing. A sale
-- belongs to the region of its store as it was on the sale date.
-- Parameters: run_date (date).
with sales as (
    select sale_date, region_id, ticket_id, quantity, amount, is_return
    from marts.v_sales_lines
    where sale_date <= %(run_date)s::date
),
regions as (
    select region_id, region_code, region_name
    from warehouse.dim_region
),
monthly as (
    select
        date_trunc('month', sale_date)::date as month,
        region_id,
        sum(quantity) as quantity,
        sum(amount) as revenue,
        count(distinct ticket_id) filter (where not is_return) as tickets
    from sales
    group by 1, region_id
),
months as (
    select month::date as month
    from generate_series(
        (select min(month) from monthly)::timestamp,
        date_trunc('month', %(run_date)s::date)::timestamp,
        interval '1 month'
    ) as month
),
grid as (
    select months.month, active.region_id
    from months
    cross join (select distinct region_id from monthly) as active
),
final as (
    select
        grid.month,
        least((grid.month + interval '1 month - 1 day')::date, %(run_date)s::date) as period_end,
        (grid.month + interval '1 month - 1 day')::date > %(run_date)s::date as is_partial_month,
        regions.region_code,
        regions.region_name,
        coalesce(monthly.quantity, 0) as quantity,
        round(coalesce(monthly.revenue, 0), 2) as revenue,
        coalesce(monthly.tickets, 0) as tickets,
        round(monthly.revenue / nullif(monthly.tickets, 0), 2) as avg_basket
    from grid
    join regions on regions.region_id = grid.region_id
    left join monthly on monthly.month = grid.month and monthly.region_id = grid.region_id
)
select * from final
order by month, region_code collate "C"
