-- fidelite_loyalty_kpis: one row per store and calendar month, for the trailing months up
-- to the run date (the run date's month is partial: it stops on the run date).
--
-- params: run_date (the as-of date), kpi_months (how many months)
-- - store: every store with a version valid on the run date, shown with that version's
--   name, banner and region; sales of its earlier versions count for it;
-- - a carded sale: a line of a customer holding a card on the sale date (has_loyalty_card,
--   enrolled on or before that date, or enrolment date unknown);
-- - active_members: carded customers with at least one purchase line in the store that month;
-- - carded_share: carded net sales / all net sales of the store that month;
-- - points earned / redeemed: loyalty events of the store that month;
-- - redemption_rate: points redeemed / points earned (null when nothing was earned).
-- Sales read marts.customer_store_cells (a purchase: a ticket with a sale line), points
-- marts.agg_loyalty_store_day.
with bounds as (
    select
        (date_trunc('month', %(run_date)s::date)
            - make_interval(months => %(kpi_months)s::int - 1))::date as first_day,
        %(run_date)s::date as last_day
),
events as (
    -- marts.agg_loyalty_store_day: per event date and store code, the points earned and redeemed
    select event_date, store_code, points_earned, points_redeemed
    from marts.agg_loyalty_store_day
    where event_date >= (select first_day from bounds)
      and event_date <= (select last_day from bounds)
),
stores_as_of as (
    select store_code, store_name, banner, region_code, region_name
    from marts.stores_as_of(%(run_date)s::date)
),
months as (
    select spine.month as month_start
    from bounds, marts.month_spine(bounds.first_day, bounds.last_day) as spine
),
carded_cells as (
    select
        cells.store_code,
        date_trunc('month', cells.sale_date)::date as month_start,
        cells.customer_id,
        cells.amount,
        cells.purchases,
        cells.is_carded
    from bounds, marts.customer_store_cells(bounds.first_day, bounds.last_day) as cells
),
customer_months as (
    -- one row per store, month and customer (null: the anonymous tickets)
    select
        store_code,
        month_start,
        customer_id,
        bool_or(is_carded and purchases > 0) as is_active_member,
        sum(amount) as net_sales,
        sum(amount) filter (where is_carded) as carded_sales
    from carded_cells
    group by store_code, month_start, customer_id
),
sales as (
    select
        store_code,
        month_start,
        count(*) filter (where is_active_member) as active_members,
        sum(net_sales) as net_sales,
        coalesce(sum(carded_sales), 0) as carded_sales
    from customer_months
    group by store_code, month_start
),
points as (
    select
        store_code,
        date_trunc('month', event_date)::date as month_start,
        sum(points_earned) as points_earned,
        sum(points_redeemed) as points_redeemed
    from events
    group by store_code, date_trunc('month', event_date)::date
),
final as (
    select
        stores_as_of.store_code,
        stores_as_of.store_name,
        stores_as_of.banner,
        stores_as_of.region_code,
        months.month_start,
        to_char(months.month_start, 'YYYY-MM') as month,
        coalesce(sales.active_members, 0) as active_members,
        coalesce(sales.net_sales, 0) as net_sales,
        coalesce(sales.carded_sales, 0) as carded_sales,
        sales.carded_sales / nullif(sales.net_sales, 0) as carded_share,
        coalesce(points.points_earned, 0) as points_earned,
        coalesce(points.points_redeemed, 0) as points_redeemed,
        points.points_redeemed::numeric / nullif(points.points_earned, 0) as redemption_rate
    from stores_as_of
    cross join months
    left join sales
        on sales.store_code = stores_as_of.store_code
       and sales.month_start = months.month_start
    left join points
        on points.store_code = stores_as_of.store_code
       and points.month_start = months.month_start
    order by stores_as_of.store_code collate "C", months.month_start
)
select * from final
