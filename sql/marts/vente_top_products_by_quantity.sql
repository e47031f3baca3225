-- fact_vente_mart.top_products_by_quantity: the top_n products by net quantity sold over the
-- trailing year [run_date - 364, run_date] (365 days ending on the run date), with their net
-- revenue and tickets beside. Net of returns: return lines carry negative quantities and
-- amounts. Ties on quantity are broken by product code (ascending), so the ranking is stable.
-- Reads marts.ranked_products (whole months from the month aggregate, edge days from the day one).
-- Parameters: first_day, last_day (the window), top_n (int).
with ranked as (
    select rank, product_code, product_name, category, subcategory, brand, quantity, round(revenue, 2) as revenue,
           tickets
    from marts.ranked_products(%(first_day)s::date, %(last_day)s::date, 'product')
),
final as (
    select
        %(first_day)s::date as period_start,
        %(last_day)s::date as period_end,
        ranked.*
    from ranked
    where rank <= %(top_n)s
)
select * from final
order by rank
