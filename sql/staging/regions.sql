-- Check staged regions: required text, population a non-negative integer, one row per code.
insert into staging.regions_checked (file_id, line_no, reason, region_code, region_name, population)
with source as (
    select * from staging.regions_raw join staging.load_files using (file_id)
),
context as (
    select * from staging.load_context
),
cleaned as (
    select
        file_id,
        business_date,
        line_no,
        nullif(btrim(region_code), '') as region_code,
        nullif(btrim(region_name), '') as region_name,
        nullif(btrim(population), '') as population
    from source
),
ranked as (
    select *, min(line_no) over (partition by file_id, region_code) as first_line
    from cleaned
),
final as (
    select
        file_id,
        line_no,
        case
            when region_code is null then 'missing region_code'
            when region_name is null then 'missing region_name'
            when greatest(length(region_code), length(region_name)) > max_text_length then 'text too long'
            when not etl.is_int(population) then 'invalid population'
            when population::bigint < 0 then 'negative population'
            when line_no > first_line then 'duplicate region_code (first on line ' || first_line || ')'
        end as reason,
        region_code,
        region_name,
        case when etl.is_int(population) then population::bigint end as population
    from ranked cross join context
)
select * from final;
