-- fidelite_rfm_customers: one row per carded customer with at least one purchase up to the
-- run date, with recency, frequency, monetary, their R/F/M quintile scores and a named segment.
--
-- params: run_date (the as-of date), window_days (trailing window for F and M, 365)
-- - carded: has_loyalty_card, enrolled on or before the run date (or enrolment date unknown);
-- - a purchase is a ticket with at least one sale line (returns alone are not purchases);
-- - recency: days from the last purchase to the run date (0 = bought on the run date);
-- - frequency: purchases in the window (run_date - window_days, run_date];
-- - monetary: net amount (sales minus returns) of the customer's tickets in the window;
-- - scores: ntile(5), 5 = best (most recent, most frequent, biggest spender), ties broken
--   by customer code so every run gives the same scores;
-- - segment: from the R x F grid below (docs/marts_fidelite.md);
-- - main store: the store with the most net spend up to the run date (ties: smallest code),
--   with its name, banner and region as valid on the run date.
with lines as (
    select sale_date, ticket_id, store_id, customer_id, amount, is_return
    from warehouse.fact_ventes
    where customer_id is not null
      and sale_date <= %(run_date)s::date
),
customers as (
    select customer_id, customer_code
    from warehouse.dim_client
    where has_loyalty_card
      and (enrolled_on is null or enrolled_on <= %(run_date)s::date)
),
store_versions as (
    select store_id, store_code
    from warehouse.dim_magasin
),
stores_as_of as (
    select store_code, store_name, banner, region_code, region_name
    from marts.v_stores
    where valid_from <= %(run_date)s::date
      and (valid_to is null or valid_to > %(run_date)s::date)
),
segment_map as (
    select *
    from (values
        (5, 1, 'new'), (5, 2, 'potential loyalists'), (5, 3, 'potential loyalists'),
        (5, 4, 'champions'), (5, 5, 'champions'),
        (4, 1, 'new'), (4, 2, 'potential loyalists'), (4, 3, 'potential loyalists'),
        (4, 4, 'loyal'), (4, 5, 'loyal'),
        (3, 1, 'hibernating'), (3, 2, 'hibernating'), (3, 3, 'at risk'),
        (3, 4, 'loyal'), (3, 5, 'loyal'),
        (2, 1, 'hibernating'), (2, 2, 'hibernating'), (2, 3, 'at risk'),
        (2, 4, 'at risk'), (2, 5, 'can''t lose'),
        (1, 1, 'lost'), (1, 2, 'lost'), (1, 3, 'at risk'),
        (1, 4, 'at risk'), (1, 5, 'can''t lose')
    ) as grid (r_score, f_score, segment)
),
tickets as (
    select
        lines.customer_id,
        lines.sale_date,
        lines.ticket_id,
        store_versions.store_code,
        sum(lines.amount) as amount,
        bool_or(not lines.is_return) as is_purchase,
        lines.sale_date > %(run_date)s::date - %(window_days)s::int as is_in_window
    from lines
    join customers on customers.customer_id = lines.customer_id
    join store_versions on store_versions.store_id = lines.store_id
    group by lines.customer_id, lines.sale_date, lines.ticket_id, store_versions.store_code
),
history as (
    select
        customer_id,
        min(sale_date) filter (where is_purchase) as first_purchase_date,
        max(sale_date) filter (where is_purchase) as last_purchase_date,
        count(*) filter (where is_purchase and is_in_window) as frequency,
        coalesce(sum(amount) filter (where is_in_window), 0) as monetary
    from tickets
    group by customer_id
    having bool_or(is_purchase)
),
store_spend as (
    select customer_id, store_code, sum(amount) as amount
    from tickets
    group by customer_id, store_code
),
main_store as (
    select distinct on (customer_id) customer_id, store_code
    from store_spend
    order by customer_id, amount desc, store_code collate "C"
),
measured as (
    select
        customers.customer_code,
        history.first_purchase_date,
        history.last_purchase_date,
        %(run_date)s::date - history.last_purchase_date as recency_days,
        history.frequency,
        history.monetary,
        main_store.store_code as main_store_code
    from history
    join customers on customers.customer_id = history.customer_id
    join main_store on main_store.customer_id = history.customer_id
),
scored as (
    select
        measured.*,
        ntile(5) over (order by recency_days desc, customer_code collate "C") as r_score,
        ntile(5) over (order by frequency, customer_code collate "C") as f_score,
        ntile(5) over (order by monetary, customer_code collate "C") as m_score
    from measured
),
final as (
    select
        scored.customer_code,
        scored.first_purchase_date,
        scored.last_purchase_date,
        scored.recency_days,
        scored.frequency,
        scored.monetary,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        concat(scored.r_score, scored.f_score, scored.m_score) as rfm_code,
        segment_map.segment,
        scored.main_store_code,
        stores_as_of.store_name as main_store_name,
        stores_as_of.banner,
        stores_as_of.region_code,
        stores_as_of.region_name
    from scored
    join segment_map
        on segment_map.r_score = scored.r_score
       and segment_map.f_score = scored.f_score
    left join stores_as_of on stores_as_of.store_code = scored.main_store_code
    order by scored.customer_code collate "C"
)
select * from final
