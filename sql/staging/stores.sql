-- Check staged stores: a known region, one row per code. Types were checked while streaming
-- (etl_helpers.loading.values); a row that failed them keeps that problem as its reason.
insert into staging.stores_checked
    (file_id, line_no, reason, store_code, store_name, banner, city, postal_code, region_id, opened_on, closed_on)
with source as (
    select * from staging.stores
),
regions as (
    select region_id, region_code from warehouse.dim_region
),
ranked as (
    select
        source.*,
        regions.region_id,
        min(line_no) filter (where problem is null) over (partition by file_id, store_code) as first_line
    from source
    left join regions using (region_code)
),
final as (
    select
        file_id,
        line_no,
        coalesce(problem, case
            when region_id is null then 'unknown region_code'
            when line_no > first_line then 'duplicate store_code (first on line ' || first_line || ')'
        end) as reason,
        store_code,
        store_name,
        banner,
        city,
        postal_code,
        region_id,
        opened_on,
        closed_on
    from ranked
)
select * from final;
