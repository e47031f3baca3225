-- Check staged customers: a known region when one is given, one row per code. Types, bounds
-- and accepted values were checked while streaming (etl_helpers.loading.values).
insert into staging.customers_checked
    (file_id, line_no, reason, customer_code, birth_year, gender, city, region_id,
     has_loyalty_card, enrolled_on, tier, segment)
with source as (
    select * from staging.customers
),
regions as (
    select region_id, region_code from warehouse.dim_region
),
ranked as (
    select
        source.*,
        regions.region_id,
        min(line_no) filter (where problem is null) over (partition by file_id, customer_code) as first_line
    from source
    left join regions using (region_code)
),
final as (
    select
        file_id,
        line_no,
        coalesce(problem, case
            when region_code is not null and region_id is null then 'unknown region_code'
            when line_no > first_line then 'duplicate customer_code (first on line ' || first_line || ')'
        end) as reason,
        customer_code,
        birth_year,
        gender,
        city,
        region_id,
        has_loyalty_card,
        enrolled_on,
        tier,
        segment
    from ranked
)
select * from final;
