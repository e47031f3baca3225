-- marts.customer_store_cells(first_day, last_day): per sale date in [first_day, last_day],
-- customer (null: anonymous tickets) and store, the net amount, the purchases (tickets with a
-- sale line) and whether the customer held a card that day (has_loyalty_card, enrolled on or
-- before it, or enrolment date unknown). Reads marts.agg_customer_store_day and dim_client.
-- STABLE: it reads tables (never use it in a MERGE of a distributed table).
create or replace function marts.customer_store_cells(first_day date, last_day date)
returns table (sale_date date, store_code text, customer_id bigint, amount numeric, purchases integer,
               is_carded boolean)
language sql
stable
as $$
    select
        cells.sale_date,
        cells.store_code,
        cells.customer_id,
        cells.amount,
        cells.purchases,
        coalesce(
            customers.has_loyalty_card
                and (customers.enrolled_on is null or customers.enrolled_on <= cells.sale_date),
            false
        )
    from marts.agg_customer_store_day as cells
    left join warehouse.dim_client as customers on customers.customer_id = cells.customer_id
    where cells.sale_date >= first_day
      and cells.sale_date <= last_day
$$;
