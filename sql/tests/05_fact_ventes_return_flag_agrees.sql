-- name: fact_ventes: return flag agrees with sign
-- Counts the offending rows (0 = pass). Bound values it may use: first and last (the event
-- dates checked), since (the last ledger file a passing run covered). Run by etl_helpers.data_tests.
select count(*) from warehouse.fact_ventes
where (is_return <> (quantity < 0) or sign(amount) * sign(quantity) < 0)
and sale_date between %(first)s and %(last)s
