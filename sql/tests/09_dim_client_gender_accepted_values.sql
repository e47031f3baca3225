-- name: dim_client: gender accepted values
-- Counts the offending rows (0 = pass). Bound values it may use: first and last (the event
-- dates checked), since (the last ledger file a passing run covered). Run by etl_helpers.data_tests.
select count(*) from warehouse.dim_client where gender not in ('F', 'M', 'X')
