-- Stores keep history (type 2). A snapshot dated D that changes a store's attributes closes
-- its current version on D and opens a new one from D; facts on or after D move to the new
-- version, so past dates keep reporting what was true then. A store's first version is valid
-- from 1900-01-01 (the beginning of time). A corrected snapshot of the same date updates in place.
-- Store snapshots load one file at a time, so staging.load_files holds that snapshot alone.

-- 1. corrections: same snapshot date as the current version
update warehouse.dim_magasin as d
set store_name = s.store_name, banner = s.banner, city = s.city, postal_code = s.postal_code,
    region_id = s.region_id, opened_on = s.opened_on
from staging.stores_checked as s, staging.load_files as snapshot
where s.reason is null
  and d.store_code = s.store_code
  and d.is_current
  and d.valid_from >= snapshot.business_date
  and (d.store_name, d.banner, d.city, d.postal_code, d.region_id, d.opened_on)
      is distinct from (s.store_name, s.banner, s.city, s.postal_code, s.region_id, s.opened_on);

-- 2. changes: close the current version on the snapshot date
update warehouse.dim_magasin as d
set valid_to = snapshot.business_date, is_current = false
from staging.stores_checked as s, staging.load_files as snapshot
where s.reason is null
  and d.store_code = s.store_code
  and d.is_current
  and d.valid_from < snapshot.business_date
  and (d.store_name, d.banner, d.city, d.postal_code, d.region_id, d.opened_on)
      is distinct from (s.store_name, s.banner, s.city, s.postal_code, s.region_id, s.opened_on);

-- 3. open a version for every store that has no current one (new, or just closed); the store's
--    versions are a join, not subqueries per row (Citus plans no correlated subquery in an
--    insert into a reference table)
insert into warehouse.dim_magasin
    (store_code, store_name, banner, city, postal_code, region_id, opened_on, valid_from, valid_to, is_current)
select
    s.store_code, s.store_name, s.banner, s.city, s.postal_code, s.region_id, s.opened_on,
    case when known.store_code is not null then snapshot.business_date else date '1900-01-01' end,
    null,
    true
from staging.stores_checked as s
cross join staging.load_files as snapshot
left join (select store_code, bool_or(is_current) as has_current from warehouse.dim_magasin group by store_code) as known
    on known.store_code = s.store_code
where s.reason is null
  and known.has_current is not true;

-- 4. facts on or after a new version's start point to it
update warehouse.fact_ventes as f
set store_id = v.store_id
from warehouse.dim_magasin as v, warehouse.dim_magasin as old, staging.load_files as snapshot
where v.valid_from = snapshot.business_date and v.is_current
  and old.store_code = v.store_code and old.valid_to = v.valid_from
  and f.store_id = old.store_id and f.sale_date >= v.valid_from;

update warehouse.fact_fidelite as f
set store_id = v.store_id
from warehouse.dim_magasin as v, warehouse.dim_magasin as old, staging.load_files as snapshot
where v.valid_from = snapshot.business_date and v.is_current
  and old.store_code = v.store_code and old.valid_to = v.valid_from
  and f.store_id = old.store_id and f.event_date >= v.valid_from;
