-- Stores keep history (type 2), derived from every current store snapshot (etl.snapshot_stores)
-- whatever the order they arrived in: a store's first snapshot opens its first version, valid
-- from 1900-01-01 (the beginning of time); each later snapshot that changes its attributes
-- opens a new version from that snapshot's date and closes the previous one on it. A late
-- snapshot, or a corrected one, therefore gives the versions a fresh load of the same snapshots
-- gives; the stores it does not change keep their versions (and ids) as they were. Facts point
-- to the version valid on their date. A store no longer in any snapshot keeps its versions.
-- The working tables are staging's (sql/schema/30_staging.sql), emptied first. No correlated
-- subquery (Citus plans none on a reference table): a version's code and date are never null,
-- so "not in" is the anti-join.

delete from staging.store_versions;
delete from staging.changed_stores;
delete from staging.store_moves;

-- every version the snapshots give
insert into staging.store_versions
    (store_code, store_name, banner, city, postal_code, region_id, opened_on, closed_on, valid_from, valid_to,
     is_current)
with snapshots as (
    select
        *,
        row(store_name, banner, city, postal_code, region_id, opened_on, closed_on)::text as attributes
    from etl.snapshot_stores
),
compared as (
    select
        *,
        lag(attributes) over (partition by store_code order by business_date) as previous_attributes
    from snapshots
),
changes as (
    select *
    from compared
    where previous_attributes is distinct from attributes
),
final as (
    select
        store_code, store_name, banner, city, postal_code, region_id, opened_on, closed_on,
        case when previous_attributes is null then date '1900-01-01' else business_date end as valid_from,
        lead(business_date) over (partition by store_code order by business_date) as valid_to
    from changes
)
select *, valid_to is null as is_current from final;

-- the stores whose versions change
insert into staging.changed_stores (store_code)
select store_code from (
    (select store_code, store_name, banner, city, postal_code, region_id, opened_on, closed_on,
            valid_from, valid_to, is_current
     from staging.store_versions
     except
     select store_code, store_name, banner, city, postal_code, region_id, opened_on, closed_on,
            valid_from, valid_to, is_current
     from warehouse.dim_magasin)
    union all
    (select store_code, store_name, banner, city, postal_code, region_id, opened_on, closed_on,
            valid_from, valid_to, is_current
     from warehouse.dim_magasin
     where store_code in (select store_code from staging.store_versions)
     except
     select store_code, store_name, banner, city, postal_code, region_id, opened_on, closed_on,
            valid_from, valid_to, is_current
     from staging.store_versions)
) as differences
group by store_code;

-- 1. a version that is no longer current lets go of the flag first (one current version per store)
update warehouse.dim_magasin as d
set is_current = false
where d.is_current
  and d.store_code in (select store_code from staging.changed_stores)
  and (d.store_code, d.valid_from) not in (select store_code, valid_from from staging.store_versions
                                           where is_current);

-- 2. versions that stay take their attributes and end
update warehouse.dim_magasin as d
set store_name = v.store_name, banner = v.banner, city = v.city, postal_code = v.postal_code,
    region_id = v.region_id, opened_on = v.opened_on, closed_on = v.closed_on,
    valid_to = v.valid_to, is_current = v.is_current
from staging.store_versions as v
where v.store_code = d.store_code
  and v.valid_from = d.valid_from
  and d.store_code in (select store_code from staging.changed_stores)
  and (d.store_name, d.banner, d.city, d.postal_code, d.region_id, d.opened_on, d.closed_on, d.valid_to, d.is_current)
      is distinct from (v.store_name, v.banner, v.city, v.postal_code, v.region_id, v.opened_on, v.closed_on,
                        v.valid_to, v.is_current);

-- 3. new versions (joins only: Citus plans no subquery in an insert into a reference table)
insert into warehouse.dim_magasin
    (store_code, store_name, banner, city, postal_code, region_id, opened_on, closed_on, valid_from, valid_to,
     is_current)
select v.store_code, v.store_name, v.banner, v.city, v.postal_code, v.region_id, v.opened_on, v.closed_on,
       v.valid_from, v.valid_to, v.is_current
from staging.store_versions as v
join staging.changed_stores as c on c.store_code = v.store_code
left join warehouse.dim_magasin as d on d.store_code = v.store_code and d.valid_from = v.valid_from
where d.store_id is null;

-- 4. facts point to the version valid on their date
insert into staging.store_moves (old_id, new_id, valid_from, valid_to)
select old.store_id as old_id, v.store_id as new_id, v.valid_from, v.valid_to
from warehouse.dim_magasin as old
join warehouse.dim_magasin as v using (store_code)
join staging.store_versions as w on w.store_code = v.store_code and w.valid_from = v.valid_from
where old.store_code in (select store_code from staging.changed_stores);

-- the same update for each fact table and its date column (constant names, quoted by %I)
do $$
declare
    fact record;
begin
    for fact in select * from (values ('fact_ventes', 'sale_date'), ('fact_fidelite', 'event_date')) as facts (name, day)
    loop
        execute format(
            'update warehouse.%1$I as f
             set store_id = m.new_id
             from staging.store_moves as m
             where f.store_id = m.old_id
               and f.%2$I >= m.valid_from and (m.valid_to is null or f.%2$I < m.valid_to)
               and f.store_id <> m.new_id',
            fact.name, fact.day);
    end loop;
end
$$;

-- 5. versions no snapshot gives any more
delete from warehouse.dim_magasin as d
where d.store_code in (select store_code from staging.changed_stores)
  and (d.store_code, d.valid_from) not in (select store_code, valid_from from staging.store_versions);
