-- fidelite_penetration_by_region: one row per region, active loyalty members per 10,000
-- inhabitants over the trailing window.
--
-- params: run_date (the as-of date), window_days (365)
-- - active member: a customer holding a card on the sale date (has_loyalty_card, enrolled on
--   or before it, or enrolment date unknown) with a purchase line in the window
--   (run_date - window_days, run_date];
-- - a member counts in the region of every store where they bought (store region as valid on
--   the run date), so the national figure is not the sum of the regions;
-- - every region is listed, with the stores it has on the run date (0 when none).
-- Sales read marts.customer_store_cells (a purchase: a ticket with a sale line; is_carded: a
-- card held on the sale date).
with carded_cells as (
    -- per sale date, carded customer and store: net amount and purchases
    select store_code, customer_id, amount, purchases
    from marts.customer_store_cells(%(run_date)s::date - %(window_days)s::int + 1, %(run_date)s::date)
    where is_carded
),
regions as (
    select region_code, region_name, population
    from warehouse.dim_region
),
stores_as_of as (
    select store_code, region_code
    from marts.stores_as_of(%(run_date)s::date)
),
member_cells as (
    select
        stores_as_of.region_code,
        carded_cells.customer_id,
        carded_cells.amount,
        carded_cells.purchases
    from carded_cells
    join stores_as_of on stores_as_of.store_code = carded_cells.store_code
),
customer_regions as (
    -- one row per region and member
    select
        region_code,
        customer_id,
        bool_or(purchases > 0) as is_active,
        sum(amount) as carded_sales
    from member_cells
    group by region_code, customer_id
),
members as (
    select
        region_code,
        count(*) filter (where is_active) as active_members,
        sum(carded_sales) as carded_sales
    from customer_regions
    group by region_code
),
store_counts as (
    select region_code, count(*) as stores
    from stores_as_of
    group by region_code
),
final as (
    select
        regions.region_code,
        regions.region_name,
        regions.population,
        coalesce(store_counts.stores, 0) as stores,
        coalesce(members.active_members, 0) as active_members,
        coalesce(members.carded_sales, 0) as carded_sales,
        coalesce(members.active_members, 0) * 10000.0 / nullif(regions.population, 0)
            as members_per_10k_inhabitants
    from regions
    left join members on members.region_code = regions.region_code
    left join store_counts on store_counts.region_code = regions.region_code
    order by regions.region_code collate "C"
)
select * from final
