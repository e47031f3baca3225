-- Check staged regions: one row per code. Types and bounds were checked while streaming
-- (etl_helpers.loading.values); a row that failed them keeps that problem as its reason.
insert into staging.regions_checked (file_id, line_no, reason, region_code, region_name, population)
with source as (
    select * from staging.regions
),
ranked as (
    select
        source.*,
        min(line_no) filter (where problem is null) over (partition by file_id, region_code) as first_line
    from source
),
final as (
    select
        file_id,
        line_no,
        coalesce(problem, case
            when line_no > first_line then 'duplicate region_code (first on line ' || first_line || ')'
        end) as reason,
        region_code,
        region_name,
        population
    from ranked
)
select * from final;
