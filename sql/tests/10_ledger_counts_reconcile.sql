-- name: ledger: read = loaded + rejected
-- Counts the offending rows (0 = pass). Bound values it may use: first and last (the event
-- dates checked), since (the last ledger file a passing run covered). Run by etl_helpers.data_tests.
select count(*) from etl.loaded_files where rows_read <> rows_loaded + rows_rejected
