-- fidelite_category_purchase_days: for each carded customer with a purchase in the window,
-- the number of distinct days they bought in each product category (only non-zero cells;
-- the caller fills the rest of the customer x category grid with zeros).
--
-- params: run_date (the as-of date), window_days (365)
-- - carded: has_loyalty_card, enrolled on or before the run date (or enrolment date unknown);
-- - a purchase day: a day with at least one sale line (not a return) in the category,
--   in the window (run_date - window_days, run_date].
with lines as (
    select sale_date, product_id, customer_id
    from warehouse.fact_ventes
    where customer_id is not null
      and not is_return
      and sale_date > %(run_date)s::date - %(window_days)s::int
      and sale_date <= %(run_date)s::date
),
customers as (
    select customer_id, customer_code
    from warehouse.dim_client
    where has_loyalty_card
      and (enrolled_on is null or enrolled_on <= %(run_date)s::date)
),
products as (
    select product_id, category
    from warehouse.dim_produit
),
final as (
    select
        customers.customer_code,
        products.category,
        count(distinct lines.sale_date) as purchase_days
    from lines
    join customers on customers.customer_id = lines.customer_id
    join products on products.product_id = lines.product_id
    group by customers.customer_code, products.category
    order by customers.customer_code collate "C", products.category collate "C"
)
select * from final
