-- fact_vente_mart.top_products_by_quantity: the top_n products by net quantity sold over the
-- trailing year [run_date - 364, run_date] (365 days ending on the run date), with their net
-- revenue and tickets beside. Net of returns: return lines carry negative quantities and
-- amounts. Ties on quantity are broken by product code (ascending), so the ranking is stable.
-- Reads marts.agg_product_region_month for the window's whole calendar months
-- [months_start, months_end) and counts the days of its partial edge months from the lines.
-- Parameters: first_day, last_day (the window), months_start, months_end (its whole
-- months, etl_helpers.marts.query.window), top_n (int).
with whole_months as (
    select region_id, product_id, quantity, revenue, tickets
    from marts.agg_product_region_month
    where month >= %(months_start)s::date and month < %(months_end)s::date
),
edge_days as (
    select
        region_id,
        product_id,
        sum(quantity)::bigint as quantity,
        sum(amount) as revenue,
        count(distinct ticket_id) filter (where not is_return) as tickets
    from marts.v_sales_lines
    where (sale_date >= %(first_day)s::date and sale_date < %(months_start)s::date)
       or (sale_date >= %(months_end)s::date and sale_date <= %(last_day)s::date)
    group by region_id, product_id
),
sales as (
    select * from whole_months
    union all
    select * from edge_days
),
products as (
    select product_id, product_code, product_name, category, subcategory, brand
    from warehouse.dim_produit
),
by_product as (
    select
        product_id,
        sum(quantity)::bigint as quantity,
        sum(revenue) as revenue,
        sum(tickets)::bigint as tickets
    from sales
    group by product_id
),
ranked as (
    select
        row_number() over (
            order by by_product.quantity desc, products.product_code collate "C"
        ) as rank,
        products.product_code,
        products.product_name,
        products.category,
        products.subcategory,
        products.brand,
        by_product.quantity,
        by_product.revenue,
        by_product.tickets
    from by_product
    join products on products.product_id = by_product.product_id
),
final as (
    select
        %(first_day)s::date as period_start,
        %(last_day)s::date as period_end,
        rank,
        product_code,
        product_name,
        category,
        subcategory,
        brand,
        quantity,
        round(revenue, 2) as revenue,
        tickets
    from ranked
    where rank <= %(top_n)s
)
select * from final
order by rank
