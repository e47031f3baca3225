-- Regions are type 1: a new snapshot overwrites names and populations.
insert into warehouse.dim_region (region_code, region_name, population)
select region_code, region_name, population
from staging.regions_checked
where reason is null
on conflict (region_code) do update
    set region_name = excluded.region_name,
        population = excluded.population
    where (dim_region.region_name, dim_region.population)
          is distinct from (excluded.region_name, excluded.population);
