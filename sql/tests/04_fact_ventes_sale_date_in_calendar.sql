-- name: fact_ventes: sale date in dim_temps
-- Counts the offending rows (0 = pass). Bound values it may use: first and last (the event
-- dates checked), since (the last ledger file a passing run covered). Run by etl_helpers.data_tests.
select count(*) from warehouse.fact_ventes f left join warehouse.dim_temps t
on t.date_id = f.sale_date where t.date_id is null and f.sale_date between %(first)s and %(last)s
