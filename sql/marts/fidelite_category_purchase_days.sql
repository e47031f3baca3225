-- fidelite_category_purchase_days: for each carded customer with a purchase in the window,
-- the number of distinct days they bought in each product category (only non-zero cells;
-- the caller fills the rest of the customer x category grid with zeros).
--
-- params: run_date (the as-of date), window_days (365)
-- - carded: has_loyalty_card, enrolled on or before the run date (or enrolment date unknown);
-- - a purchase day: a day with at least one sale line (not a return) in the category,
--   in the window (run_date - window_days, run_date].
-- Reads marts.customer_category_cells: per month, customer and category, the purchase days
-- (whole months from marts.agg_customer_category_month, edge days from the facts).
with cells as (
    select customer_id, category, purchase_days
    from marts.customer_category_cells(%(run_date)s::date - %(window_days)s::int + 1, %(run_date)s::date)
),
customers as (
    select customer_id, customer_code
    from warehouse.dim_client
    where has_loyalty_card
      and (enrolled_on is null or enrolled_on <= %(run_date)s::date)
),
purchase_days as (
    select customer_id, category, sum(purchase_days)::bigint as purchase_days
    from cells
    where customer_id in (select customer_id from customers)
    group by customer_id, category
    having sum(purchase_days) > 0
),
final as (
    select customers.customer_code, purchase_days.category, purchase_days.purchase_days
    from purchase_days
    join customers on customers.customer_id = purchase_days.customer_id
    order by customers.customer_code collate "C", purchase_days.category collate "C"
)
select * from final
