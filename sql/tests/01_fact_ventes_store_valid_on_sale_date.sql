-- name: fact_ventes: store joins dim_magasin (valid on sale date)
-- Counts the offending rows (0 = pass). Bound values it may use: first and last (the event
-- dates checked), since (the last ledger file a passing run covered). Run by etl_helpers.data_tests.
select count(*) from warehouse.fact_ventes f left join warehouse.dim_magasin m
on m.store_id = f.store_id and f.sale_date >= m.valid_from
and (m.valid_to is null or f.sale_date < m.valid_to)
where m.store_id is null and f.sale_date between %(first)s and %(last)s
