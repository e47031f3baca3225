-- Check staged products: required text, a positive bounded list price if given, one row per code.
insert into staging.products_checked
    (file_id, line_no, reason, product_code, product_name, category, subcategory, brand, list_price)
with source as (
    select * from staging.products_raw join staging.load_files using (file_id)
),
context as (
    select * from staging.load_context
),
cleaned as (
    select
        file_id,
        business_date,
        line_no,
        nullif(btrim(product_code), '') as product_code,
        nullif(btrim(product_name), '') as product_name,
        nullif(btrim(category), '') as category,
        nullif(btrim(subcategory), '') as subcategory,
        nullif(btrim(brand), '') as brand,
        etl.normalize_decimal(nullif(btrim(list_price), ''), decimal_mark) as list_price
    from source cross join context
),
ranked as (
    select *, min(line_no) over (partition by file_id, product_code) as first_line
    from cleaned
),
checked as (
    select
        ranked.*,
        case
            when product_code is null then 'missing product_code'
            when product_name is null then 'missing product_name'
            when category is null then 'missing category'
            when greatest(length(product_code), length(product_name), length(category),
                          length(subcategory), length(brand)) > max_text_length then 'text too long'
            when list_price is not null and not etl.is_decimal(list_price) then 'invalid list_price'
            when list_price::numeric <= 0 or list_price::numeric > max_unit_price
                then 'list_price out of bounds (0, ' || max_unit_price || ']'
            when line_no > first_line then 'duplicate product_code (first on line ' || first_line || ')'
        end as reason
    from ranked cross join context
),
final as (
    select
        file_id, line_no, reason, product_code, product_name, category, subcategory, brand,
        case when reason is null then round(list_price::numeric, 2) end as list_price
    from checked
)
select * from final;
