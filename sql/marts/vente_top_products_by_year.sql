-- fact_vente_mart.top_products_by_year: for each calendar year with sales up to the run date,
-- the group_top_n products by net quantity, with net revenue and tickets. The run date's year is
-- counted up to the run date only (is_partial_year). Ties broken by product code.
-- Reads marts.ranked_products (whole months from the month aggregate, edge days from the day one).
-- Parameters: first_day (the first day of the history), last_day (the run date), group_top_n (int).
with ranked as (
    select year, rank, product_code, product_name, category, quantity, round(revenue, 2) as revenue, tickets
    from marts.ranked_products(%(first_day)s::date, %(last_day)s::date, 'year')
    where rank <= %(group_top_n)s
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
        revenue,
        tickets
    from ranked
)
select * from final
order by year, rank
