-- fact_vente_mart.sales_by_region_month: net quantity, net revenue, tickets and average basket
-- per region and calendar month, from the first month with sales to the run date's month.
-- The run date's month is counted up to the run date (period_end, is_partial_month). Every
-- region with sales is listed for every month, with zeros when it sold nothing. A sale
-- belongs to the region of its store as it was on the sale date.
-- Reads marts.agg_sales_store_month: a ticket is one store, so a region's month is the sum of
-- its stores' months. A store-month is recounted from the lines when the store changed region
-- within the month (its sales then split by sale date) or, in a run for a past date, when the
-- run date's month holds later sales.
-- Parameters: run_date (date).
with aggregated as (
    select month, store_code, last_sale_date, quantity, revenue, tickets
    from marts.agg_sales_store_month
    where month <= %(run_date)s::date
),
regions as (
    select region_id, region_code, region_name
    from warehouse.dim_region
),
store_regions as (
    -- the regions of the store's versions valid at some point of the month
    select
        aggregated.month,
        aggregated.store_code,
        min(versions.region_id) as region_id,
        count(distinct versions.region_id) as regions
    from aggregated
    join marts.v_stores as versions
        on versions.store_code = aggregated.store_code
       and versions.valid_from < aggregated.month + interval '1 month'
       and (versions.valid_to is null or versions.valid_to > aggregated.month)
    group by aggregated.month, aggregated.store_code
),
cells as (
    select
        aggregated.*,
        store_regions.region_id,
        store_regions.regions > 1 or aggregated.last_sale_date > %(run_date)s::date as is_recounted
    from aggregated
    join store_regions
        on store_regions.month = aggregated.month
       and store_regions.store_code = aggregated.store_code
),
recounted as (
    select
        date_trunc('month', lines.sale_date)::date as month,
        lines.region_id,
        sum(lines.quantity) as quantity,
        sum(lines.amount) as revenue,
        count(distinct lines.ticket_id) filter (where not lines.is_return) as tickets
    from marts.v_sales_lines as lines
    join cells
        on cells.is_recounted
       and cells.store_code = lines.store_code
       and cells.month = date_trunc('month', lines.sale_date)::date
    where lines.sale_date >= (select min(month) from cells where is_recounted)
      and lines.sale_date <= %(run_date)s::date
    group by 1, lines.region_id
),
monthly as (
    select month, region_id, sum(quantity)::bigint as quantity, sum(revenue) as revenue,
           sum(tickets)::bigint as tickets
    from (
        select month, region_id, quantity, revenue, tickets
        from cells
        where not is_recounted
        union all
        select month, region_id, quantity, revenue, tickets
        from recounted
    ) as parts
    group by month, region_id
),
months as (
    select month, period_end, is_partial_month
    from marts.month_spine((select min(month) from monthly), %(run_date)s::date)
),
grid as (
    select months.month, months.period_end, months.is_partial_month, active.region_id
    from months
    cross join (select distinct region_id from monthly) as active
),
final as (
    select
        grid.month,
        grid.period_end,
        grid.is_partial_month,
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
