-- fidelite_top_loyal_clients_by_store: the top customers of each store by loyalty points
-- earned there over the trailing window.
--
-- params: run_date (the as-of date), window_days (365), top_n (10)
-- - points: loyalty events of the store in the window (run_date - window_days, run_date];
--   a store's earlier versions count for it, shown with its version valid on the run date;
-- - rank: 1 = most points earned; ties broken by customer code; customers who earned
--   nothing there are not ranked;
-- - net_sales / tickets: the customer's net sales and tickets in that store in the window
--   (from marts.agg_customer_store_day: a ticket is one day, one store).
with events as (
    -- marts.v_loyalty_events: each event with the code of its store version
    select event_date, customer_id, store_code, points_earned, points_redeemed
    from marts.v_loyalty_events
    where event_date > %(run_date)s::date - %(window_days)s::int
      and event_date <= %(run_date)s::date
),
cells as (
    -- marts.agg_customer_store_day: per sale date, customer and store, net amount and tickets
    select sale_date, store_code, customer_id, amount, tickets
    from marts.agg_customer_store_day
    where customer_id is not null
      and sale_date > %(run_date)s::date - %(window_days)s::int
      and sale_date <= %(run_date)s::date
),
customers as (
    select customer_id, customer_code, tier
    from warehouse.dim_client
),
stores_as_of as (
    select store_code, store_name, banner, region_code
    from marts.stores_as_of(%(run_date)s::date)
),
points as (
    select
        store_code,
        customer_id,
        sum(points_earned) as points_earned,
        sum(points_redeemed) as points_redeemed,
        count(*) as loyalty_events
    from events
    group by store_code, customer_id
),
ranked as (
    select
        points.*,
        customers.customer_code,
        customers.tier,
        row_number() over (
            partition by points.store_code
            order by points.points_earned desc, customers.customer_code collate "C"
        ) as rank
    from points
    join customers on customers.customer_id = points.customer_id
    where points.points_earned > 0
),
top as (
    select * from ranked where rank <= %(top_n)s::int
),
store_sales as (
    select
        store_code,
        customer_id,
        sum(amount) as net_sales,
        sum(tickets) as tickets
    from cells
    where customer_id in (select customer_id from top)
    group by store_code, customer_id
),
final as (
    select
        top.store_code,
        stores_as_of.store_name,
        stores_as_of.banner,
        stores_as_of.region_code,
        top.rank,
        top.customer_code,
        top.tier,
        top.points_earned,
        top.points_redeemed,
        top.loyalty_events,
        coalesce(store_sales.net_sales, 0) as net_sales,
        coalesce(store_sales.tickets, 0) as tickets
    from top
    left join stores_as_of on stores_as_of.store_code = top.store_code
    left join store_sales
        on store_sales.store_code = top.store_code
       and store_sales.customer_id = top.customer_id
    order by top.store_code collate "C", top.rank
)
select * from final
