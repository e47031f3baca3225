-- marts.ranked_products(first_day, last_day, per): every product ranked by net quantity over the
-- days [first_day, last_day] (the sums of marts.product_region_sales), within each group of
-- `per`: 'product' (one ranking of all products), 'category' (the product's current category),
-- 'region' (its store's region on the sale date) or 'year' (the sale's calendar year). rank:
-- 1 = the most net quantity, ties broken by product code; group_quantity: the net quantity of
-- the product's group. region_id and year are null unless they are the grouping. The
-- top_products_by_* marts keep its first ranks.
-- STABLE: it reads tables (never use it in a MERGE of a distributed table).
create or replace function marts.ranked_products(first_day date, last_day date, per text)
returns table (region_id integer, year integer, category text, rank bigint, product_code text, product_name text,
               subcategory text, brand text, quantity bigint, revenue numeric, tickets bigint,
               group_quantity numeric)
language sql
stable
as $$
    with sales as (
        select
            case when per = 'region' then sales.region_id end as region_id,
            case when per = 'year' then extract(year from sales.month)::int end as year,
            sales.product_id,
            sum(sales.quantity)::bigint as quantity,
            sum(sales.revenue) as revenue,
            sum(sales.tickets)::bigint as tickets
        from marts.product_region_sales(first_day, last_day) as sales
        group by 1, 2, sales.product_id
    ),
    grouped as (
        select
            sales.*,
            products.product_code,
            products.product_name,
            products.category,
            products.subcategory,
            products.brand,
            case when per = 'category' then products.category end as category_group
        from sales
        join warehouse.dim_produit as products on products.product_id = sales.product_id
    )
    select
        grouped.region_id,
        grouped.year,
        grouped.category,
        row_number() over (
            partition by grouped.region_id, grouped.year, grouped.category_group
            order by grouped.quantity desc, grouped.product_code collate "C"
        ),
        grouped.product_code,
        grouped.product_name,
        grouped.subcategory,
        grouped.brand,
        grouped.quantity,
        grouped.revenue,
        grouped.tickets,
        sum(grouped.quantity) over (partition by grouped.region_id, grouped.year, grouped.category_group)
    from grouped
$$;
