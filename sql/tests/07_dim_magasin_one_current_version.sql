-- name: dim_magasin: one current version per store
-- Counts the offending rows (0 = pass). Bound values it may use: first and last (the event
-- dates checked), since (the last ledger file a passing run covered). Run by etl_helpers.data_tests.
select count(*) from (select store_code from warehouse.dim_magasin
group by store_code having count(*) filter (where is_current) <> 1) d
