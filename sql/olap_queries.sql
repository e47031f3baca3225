-- The named analytical views, one block per view, each under a "-- name: <view>" header.
-- Views hold no dates and no store ids: the marts filter them "as of" the run date with
-- bound parameters. Created by notebook 30_views through etl_helpers.views, in file order: a
-- view reads only the views above it (a store version with its region is v_stores').

-- name: v_stores
-- Every store version with its region and population, for "as of" lookups by date.
create or replace view marts.v_stores as
with stores as (
    select * from warehouse.dim_magasin
),
regions as (
    select * from warehouse.dim_region
),
final as (
    select
        stores.store_id,
        stores.store_code,
        stores.store_name,
        stores.banner,
        stores.city,
        stores.valid_from,
        stores.valid_to,
        stores.is_current,
        regions.region_id,
        regions.region_code,
        regions.region_name,
        regions.population as region_population
    from stores
    join regions on regions.region_id = stores.region_id
)
select * from final;

-- name: v_sales_line_stores
-- One row per ticket line (the fact's own columns) with the code and region of its store as
-- the line's store version had them: the keys a store or region aggregate groups by, read by
-- sql/aggregates/ (a new version of a store keeps its code).
create or replace view marts.v_sales_line_stores as
with sales as (
    select * from warehouse.fact_ventes
),
store_versions as (
    select store_id, store_code, region_id from warehouse.dim_magasin
),
final as (
    select
        sales.*,
        store_versions.store_code,
        store_versions.region_id
    from sales
    join store_versions on store_versions.store_id = sales.store_id
)
select * from final;

-- name: v_sales_lines
-- One row per ticket line with its store (the version valid on the sale date), region,
-- product, customer and calendar attributes. Net of returns: returns carry negative
-- quantities and amounts.
create or replace view marts.v_sales_lines as
with sales as (
    select * from warehouse.fact_ventes
),
stores as (
    select * from marts.v_stores
),
products as (
    select * from warehouse.dim_produit
),
customers as (
    select * from warehouse.dim_client
),
calendar as (
    select * from warehouse.dim_temps
),
final as (
    select
        sales.sale_date,
        sales.sold_at,
        extract(hour from sales.sold_at at time zone 'Europe/Paris')::int as sale_hour,
        sales.ticket_id,
        sales.line_number,
        sales.store_id,
        stores.store_code,
        stores.store_name,
        stores.banner,
        stores.city as store_city,
        stores.region_id,
        stores.region_code,
        stores.region_name,
        sales.product_id,
        products.product_code,
        products.product_name,
        products.category,
        products.subcategory,
        products.brand,
        sales.customer_id,
        customers.customer_code,
        coalesce(customers.has_loyalty_card, false) as is_carded,
        sales.quantity,
        sales.unit_price,
        sales.discount,
        sales.amount,
        sales.is_return,
        calendar.year,
        calendar.month,
        calendar.iso_week,
        calendar.day_of_week,
        calendar.is_weekend,
        calendar.is_ferie
    from sales
    join stores on stores.store_id = sales.store_id
    join products on products.product_id = sales.product_id
    left join customers on customers.customer_id = sales.customer_id
    left join calendar on calendar.date_id = sales.sale_date
)
select * from final;

-- name: v_customer_orders
-- One row per ticket of an identified customer: its date, store, net amount and items.
create or replace view marts.v_customer_orders as
with sales as (
    select * from warehouse.fact_ventes where customer_id is not null
),
final as (
    select
        customer_id,
        ticket_id,
        min(sale_date) as sale_date,
        min(store_id) as store_id,
        sum(amount) as amount,
        sum(quantity) as items
    from sales
    group by customer_id, ticket_id
)
select * from final;

-- name: v_loyalty_events
-- One row per loyalty event with its customer, store (version valid then), banner and region.
create or replace view marts.v_loyalty_events as
with events as (
    select * from warehouse.fact_fidelite
),
stores as (
    select * from marts.v_stores
),
customers as (
    select * from warehouse.dim_client
),
final as (
    select
        events.event_date,
        events.occurred_at,
        events.event_id,
        events.customer_id,
        customers.customer_code,
        events.store_id,
        stores.store_code,
        stores.store_name,
        stores.banner,
        stores.region_id,
        stores.region_code,
        stores.region_name,
        events.ticket_id,
        events.points_earned,
        events.points_redeemed
    from events
    join stores on stores.store_id = events.store_id
    join customers on customers.customer_id = events.customer_id
)
select * from final;

