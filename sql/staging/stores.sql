-- Check staged stores: required text, a known region, an ISO opening date, one row per code.
insert into staging.stores_checked
    (file_id, line_no, reason, store_code, store_name, banner, city, postal_code, region_id, opened_on)
with source as (
    select * from staging.stores_raw join staging.load_files using (file_id)
),
context as (
    select * from staging.load_context
),
regions as (
    select region_id, region_code from warehouse.dim_region
),
cleaned as (
    select
        file_id,
        business_date,
        line_no,
        nullif(btrim(store_code), '') as store_code,
        nullif(btrim(store_name), '') as store_name,
        nullif(btrim(banner), '') as banner,
        nullif(btrim(city), '') as city,
        nullif(btrim(postal_code), '') as postal_code,
        nullif(btrim(region_code), '') as region_code,
        nullif(btrim(opened_on), '') as opened_on
    from source
),
ranked as (
    select cleaned.*, regions.region_id, min(line_no) over (partition by file_id, store_code) as first_line
    from cleaned left join regions using (region_code)
),
final as (
    select
        file_id,
        line_no,
        case
            when store_code is null then 'missing store_code'
            when store_name is null then 'missing store_name'
            when banner is null then 'missing banner'
            when city is null then 'missing city'
            when region_code is null then 'missing region_code'
            when greatest(length(store_code), length(store_name), length(banner), length(city),
                          length(postal_code)) > max_text_length then 'text too long'
            when region_id is null then 'unknown region_code'
            when opened_on is not null and not etl.is_iso_date(opened_on) then 'invalid opened_on (expected YYYY-MM-DD)'
            when line_no > first_line then 'duplicate store_code (first on line ' || first_line || ')'
        end as reason,
        store_code, store_name, banner, city, postal_code, region_id,
        case when etl.is_iso_date(opened_on) then opened_on::date end as opened_on
    from ranked cross join context
)
select * from final;
