-- agg_customer_category_month: per calendar month, customer and product category, the net
-- amount of the customer's lines in the category (returns included) and the purchase days:
-- distinct days with a sale line in the category (returns are not purchases). A day is in one
-- month, so purchase days add up across months, and a day's rows merge into their month.
-- Anonymous lines are left out. Read by marts.customer_category_cells (whole months; the
-- window's edge days come from the lines), for category_purchase_days and
-- segment_category_affinity.
-- Bakes in the products' categories (dim_produit is type 1): a snapshot that re-categorises a
-- product rebuilds it (etl_helpers.aggregates, BAKED_ATTRIBUTES).
-- Refreshed by etl_helpers.aggregates, whole months at a time or new days merged into them.
-- params: dates (date[]: the sale dates to aggregate, every day of the months; null = all)
with lines as (
    select sale_date, product_id, customer_id, amount, is_return
    from warehouse.fact_ventes
    where customer_id is not null
      and (%(dates)s::date[] is null or sale_date = any(%(dates)s::date[]))
),
products as (
    select product_id, category
    from warehouse.dim_produit
),
final as (
    select
        date_trunc('month', lines.sale_date)::date as month,
        lines.customer_id,
        products.category,
        sum(lines.amount) as amount,
        (count(distinct lines.sale_date) filter (where not lines.is_return))::int as purchase_days
    from lines
    join products on products.product_id = lines.product_id
    group by 1, lines.customer_id, products.category
)
select * from final
