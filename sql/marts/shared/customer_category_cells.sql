-- marts.customer_category_cells(first_day, last_day): per calendar month, customer and product
-- category over the days [first_day, last_day], the net amount and the purchase days (distinct
-- days with a sale line in the category). The window's whole calendar months come from
-- marts.agg_customer_category_month, the days of its partial edge months from the facts, grouped
-- by their month: a day is in one month, so purchase days add up across months. Anonymous lines
-- are left out. The split is marts.window_months'.
-- STABLE: it reads tables (never use it in a MERGE of a distributed table).
create or replace function marts.customer_category_cells(first_day date, last_day date)
returns table (month date, customer_id bigint, category text, amount numeric, purchase_days integer)
language sql
stable
as $$
    select agg.month, agg.customer_id, agg.category, agg.amount, agg.purchase_days
    from marts.agg_customer_category_month as agg, marts.window_months(first_day, last_day) as whole
    where agg.month >= whole.months_start and agg.month < whole.months_end
    union all
    select
        date_trunc('month', lines.sale_date)::date,
        lines.customer_id,
        products.category,
        sum(lines.amount),
        (count(distinct lines.sale_date) filter (where not lines.is_return))::int
    from warehouse.fact_ventes as lines
    join warehouse.dim_produit as products on products.product_id = lines.product_id,
         marts.window_months(first_day, last_day) as whole
    where lines.customer_id is not null
      and ((lines.sale_date >= first_day and lines.sale_date < whole.months_start)
           or (lines.sale_date >= whole.months_end and lines.sale_date <= last_day))
    group by 1, lines.customer_id, products.category
$$;
