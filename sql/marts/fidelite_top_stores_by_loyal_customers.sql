-- fidelite_top_stores_by_loyal_customers: every store ranked by its active loyalty members
-- over the trailing window.
--
-- params: run_date (the as-of date), window_days (365)
-- - active member: a customer holding a card on the sale date (has_loyalty_card, enrolled on
--   or before it, or enrolment date unknown) with a purchase line in the store in the window;
-- - carded_share: carded net sales / all net sales of the store in the window;
-- - points: loyalty events of the store in the window;
-- - rank: 1 = most active members; ties by carded sales (higher first), then store code.
-- Sales read marts.customer_store_cells (a purchase: a ticket with a sale line), points
-- marts.v_loyalty_events.
with flagged as (
    -- per sale date, customer and store: net amount, purchases and whether the customer was carded
    select store_code, customer_id, amount, purchases, is_carded
    from marts.customer_store_cells(%(run_date)s::date - %(window_days)s::int + 1, %(run_date)s::date)
),
events as (
    -- marts.v_loyalty_events: each event with the code of its store version
    select store_code, points_earned, points_redeemed
    from marts.v_loyalty_events
    where event_date > %(run_date)s::date - %(window_days)s::int
      and event_date <= %(run_date)s::date
),
stores_as_of as (
    select store_code, store_name, banner, region_code, region_name
    from marts.stores_as_of(%(run_date)s::date)
),
sales as (
    select
        store_code,
        count(distinct customer_id) filter (where is_carded and purchases > 0) as active_members,
        sum(amount) as net_sales,
        coalesce(sum(amount) filter (where is_carded), 0) as carded_sales
    from flagged
    group by store_code
),
points as (
    select
        store_code,
        sum(points_earned) as points_earned,
        sum(points_redeemed) as points_redeemed
    from events
    group by store_code
),
measured as (
    select
        stores_as_of.*,
        coalesce(sales.active_members, 0) as active_members,
        coalesce(sales.net_sales, 0) as net_sales,
        coalesce(sales.carded_sales, 0) as carded_sales,
        sales.carded_sales / nullif(sales.net_sales, 0) as carded_share,
        coalesce(points.points_earned, 0) as points_earned,
        coalesce(points.points_redeemed, 0) as points_redeemed
    from stores_as_of
    left join sales on sales.store_code = stores_as_of.store_code
    left join points on points.store_code = stores_as_of.store_code
),
final as (
    select
        row_number() over (
            order by active_members desc, carded_sales desc, store_code collate "C"
        ) as rank,
        measured.*,
        carded_sales / nullif(active_members, 0) as carded_sales_per_member,
        points_earned::numeric / nullif(active_members, 0) as points_per_member
    from measured
    order by rank
)
select * from final
