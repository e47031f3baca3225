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
-- Reads marts.agg_customer_store_month for whole months before the run date's month, except
-- the month the window starts in, and marts.agg_customer_store_day for those two months: per
-- customer, store and period, the purchases, the net amount and the first and last purchase day.
with months as (
    select customer_id, store_code, first_purchase_date, last_purchase_date, purchases, amount,
           month > %(run_date)s::date - %(window_days)s::int as is_in_window
    from marts.agg_customer_store_month
    where customer_id is not null
      and month < date_trunc('month', %(run_date)s::date::timestamp)::date
      and month <> date_trunc('month', (%(run_date)s::date - %(window_days)s::int + 1)::timestamp)::date
),
days as (
    select customer_id, store_code, sale_date, purchases, amount,
           sale_date > %(run_date)s::date - %(window_days)s::int as is_in_window
    from marts.agg_customer_store_day
    where customer_id is not null
      and sale_date <= %(run_date)s::date
      and (sale_date >= date_trunc('month', %(run_date)s::date::timestamp)::date
           or sale_date between date_trunc('month', (%(run_date)s::date - %(window_days)s::int + 1)::timestamp)::date
                            and (date_trunc('month', (%(run_date)s::date - %(window_days)s::int + 1)::timestamp)
                                 + interval '1 month - 1 day')::date)
),
cells as (
    select customer_id, store_code, first_purchase_date, last_purchase_date, purchases, amount, is_in_window
    from months
    union all
    select
        customer_id,
        store_code,
        case when purchases > 0 then sale_date end,
        case when purchases > 0 then sale_date end,
        purchases,
        amount,
        is_in_window
    from days
),
customers as (
    select customer_id, customer_code
    from warehouse.dim_client
    where has_loyalty_card
      and (enrolled_on is null or enrolled_on <= %(run_date)s::date)
),
stores_as_of as (
    select store_code, store_name, banner, region_code, region_name
    from marts.stores_as_of(%(run_date)s::date)
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
store_history as (
    select
        customer_id,
        store_code,
        min(first_purchase_date) as first_purchase_date,
        max(last_purchase_date) as last_purchase_date,
        sum(purchases) filter (where is_in_window) as frequency,
        sum(amount) filter (where is_in_window) as monetary,
        sum(amount) as amount
    from cells
    group by customer_id, store_code
),
history as (
    select
        customer_id,
        min(first_purchase_date) as first_purchase_date,
        max(last_purchase_date) as last_purchase_date,
        coalesce(sum(frequency), 0)::bigint as frequency,
        coalesce(sum(monetary), 0) as monetary
    from store_history
    where customer_id in (select customer_id from customers)
    group by customer_id
    having max(last_purchase_date) is not null
),
store_spend as (
    select customer_id, store_code, amount
    from store_history
    where customer_id in (select customer_id from customers)
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
