-- name: dim_magasin: versions do not overlap
-- Counts the offending rows (0 = pass). Bound values it may use: first and last (the event
-- dates checked), since (the last ledger file a passing run covered). Run by etl_helpers.data_tests.
select count(*) from warehouse.dim_magasin a join warehouse.dim_magasin b
on a.store_code = b.store_code and a.store_id < b.store_id
and daterange(a.valid_from, a.valid_to) && daterange(b.valid_from, b.valid_to)
