-- Check staged products: one row per code. Types and bounds were checked while streaming
-- (etl_helpers.loading.values); a row that failed them keeps that problem as its reason.
insert into staging.products_checked
    (file_id, line_no, reason, product_code, product_name, category, subcategory, brand, list_price)
with source as (
    select * from staging.products
),
ranked as (
    select
        source.*,
        min(line_no) filter (where problem is null) over (partition by file_id, product_code) as first_line
    from source
),
final as (
    select
        file_id,
        line_no,
        coalesce(problem, case
            when line_no > first_line then 'duplicate product_code (first on line ' || first_line || ')'
        end) as reason,
        product_code,
        product_name,
        category,
        subcategory,
        brand,
        round(list_price, 2) as list_price
    from ranked
)
select * from final;
