-- fidelite_segment_category_affinity: for each RFM segment and product category, how much
-- more (or less) the segment spends in the category than the segmented customers as a whole.
--
-- params: run_date (the as-of date), window_days (365),
--         customer_codes / segments (text[], aligned: each customer's segment, from
--         fidelite_rfm_customers), target_top_n (how many categories to target per segment)
-- - spend: net amount of the customers' lines in the window (run_date - window_days, run_date];
-- - segment_share: the segment's spend in the category / the segment's total spend;
-- - overall_share: every segmented customer's spend in the category / their total spend;
-- - affinity_index: 100 * segment_share / overall_share (100 = like everyone, 150 = half as
--   much again); null when the category has no spend at all;
-- - target_rank: 1 = the category the segment over-indexes most on (ties: higher spend, then
--   category); is_target: among the target_top_n and over-indexed (index > 100).
-- Segments with no spend in the window have no rows. The spend reads marts.customer_category_cells
-- (whole months from marts.agg_customer_category_month, edge days from the facts).
with segments as (
    select customer_code, segment
    from unnest(%(customer_codes)s::text[], %(segments)s::text[]) as given (customer_code, segment)
),
cells as (
    -- marts.customer_category_cells: per month, customer and category, the net amount
    select customer_id, category, amount
    from marts.customer_category_cells(%(run_date)s::date - %(window_days)s::int + 1, %(run_date)s::date)
),
customers as (
    select customer_id, customer_code
    from warehouse.dim_client
),
spend as (
    select segments.segment, cells.category, sum(cells.amount) as sales
    from cells
    join customers on customers.customer_id = cells.customer_id
    join segments on segments.customer_code = customers.customer_code
    group by segments.segment, cells.category
),
segment_totals as (
    select segment, sum(sales) as segment_sales
    from spend
    group by segment
    having sum(sales) <> 0
),
category_totals as (
    select category, sum(sales) as category_sales
    from spend
    group by category
),
grid as (
    select
        segment_totals.segment,
        category_totals.category,
        coalesce(spend.sales, 0) as sales,
        segment_totals.segment_sales,
        category_totals.category_sales,
        sum(category_totals.category_sales) over (partition by segment_totals.segment) as total_sales
    from segment_totals
    cross join category_totals
    left join spend
        on spend.segment = segment_totals.segment
       and spend.category = category_totals.category
),
indexed as (
    select
        segment,
        category,
        sales,
        sales / segment_sales as segment_share,
        category_sales / nullif(total_sales, 0) as overall_share,
        100 * sales * total_sales / nullif(segment_sales * category_sales, 0) as affinity_index
    from grid
),
ranked as (
    select
        indexed.*,
        row_number() over (
            partition by segment
            order by affinity_index desc nulls last, sales desc, category collate "C"
        ) as target_rank
    from indexed
),
final as (
    select
        ranked.*,
        ranked.target_rank <= %(target_top_n)s::int and coalesce(ranked.affinity_index > 100, false)
            as is_target
    from ranked
    order by ranked.segment collate "C", ranked.target_rank
)
select * from final
