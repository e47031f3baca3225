-- fact_vente_mart.top_products_by_year: for each calendar year with sales up to the run date,
-- the group_top_n products by net quantity, with net revenue and tickets. The run date's year is
-- counted up to the run date only (is_partial_year). Ties broken by product code.
-- Reads marts.product_region_sales (whole months from the aggregate, edge days from the lines).
-- Parameters: first_day (the first day of the history), last_day (the run date), group_top_n (int).
with sales as (
    select extract(year from month)::int as year, region_id, product_id, quantity, revenue, tickets
    from marts.product_region_sales(%(first_day)s::date, %(last_day)s::date)
),
products as (
    select product_id, product_code, product_name, category
    from warehouse.dim_produit
),
by_year_product as (
    select
        year,
        product_id,
        sum(quantity)::bigint as quantity,
        sum(revenue) as revenue,
        sum(tickets)::bigint as tickets
    from sales
    group by year, product_id
),
ranked as (
    select
        by_year_product.year,
        row_number() over (
            partition by by_year_product.year
            order by by_year_product.quantity desc, products.product_code collate "C"
        ) as rank,
        products.product_code,
        products.product_name,
        products.category,
        by_year_product.quantity,
        by_year_product.revenue,
        by_year_product.tickets
    from by_year_product
    join products on products.product_id = by_year_product.product_id
),
final as (
    select
        year,
        make_date(year, 1, 1) as period_start,
        least(make_date(year, 12, 31), %(last_day)s::date) as period_end,
        make_date(year, 12, 31) > %(last_day)s::date as is_partial_year,
        rank,
        product_code,
        product_name,
        category,
        quantity,
        round(revenue, 2) as revenue,
        tickets
    from ranked
    where rank <= %(group_top_n)s
)
select * from final
order by year, rank
