-- Regions are type 1: each region as its latest current snapshot gives it (etl.snapshot_regions),
-- whatever the order the snapshots arrived in.
insert into warehouse.dim_region (region_code, region_name, population)
with snapshots as (
    select * from etl.snapshot_regions
),
final as (
    select distinct on (region_code) region_code, region_name, population
    from snapshots
    order by region_code, business_date desc
)
select * from final
on conflict (region_code) do update
    set region_name = excluded.region_name,
        population = excluded.population
    where (dim_region.region_name, dim_region.population)
          is distinct from (excluded.region_name, excluded.population);
