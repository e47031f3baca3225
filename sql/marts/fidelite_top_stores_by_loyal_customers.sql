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
-- marts.agg_loyalty_store_day.
with flagged as (
    -- per sale date, customer and store: net amount, purchases and whether the customer was carded
    select store_code, customer_id, amount, purchases, is_carded
    from marts.customer_store_cells(%(run_date)s::date - %(window_days)s::int + 1, %(run_date)s::date)
),
events as (
    -- marts.agg_loyalty_store_day: per event date and store code, the points earned and redeemed
    select store_code, points_earned, points_redeemed
    from marts.agg_loyalty_store_day
    where event_date > %(run_date)s::date - %(window_days)s::int
      and event_date <= %(run_date)s::date
),
stores_as_of as (
    select store_code, store_name, banner, region_code, region_name
    from marts.stores_as_of(%(run_date)s::date)
),
customer_stores as (
    -- one row per store and customer (null: the anonymous tickets)
    select
        store_code,
        customer_id,
        bool_or(is_carded and purchases > 0) as is_active_member,
        sum(amount) as net_sales,
        sum(amount) filter (where is_carded) as carded_sales
    from flagged
    group by store_code, customer_id
),
sales as (
    select
        store_code,
        count(*) filter (where is_active_member) as active_members,
        sum(net_sales) as net_sales,
        coalesce(sum(carded_sales), 0) as carded_sales
    from customer_stores
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
