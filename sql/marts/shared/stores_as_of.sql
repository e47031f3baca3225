-- marts.stores_as_of(as_of): every store as it stands on the date as_of (its version valid
-- that day), with its region. The marts name a store, its banner and region as of the run date.
-- Reads marts.v_stores. STABLE: it reads tables (never use it in a MERGE of a distributed table).
create or replace function marts.stores_as_of(as_of date)
returns table (store_code text, store_name text, banner text, region_code text, region_name text)
language sql
stable
as $$
    select store_code, store_name, banner, region_code, region_name
    from marts.v_stores
    where valid_from <= as_of
      and (valid_to is null or valid_to > as_of)
$$;
