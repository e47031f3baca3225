-- name: fact_fidelite: customer and store join
-- Counts the offending rows (0 = pass). Bound values it may use: first and last (the event
-- dates checked), since (the last ledger file a passing run covered). Run by etl_helpers.data_tests.
select count(*) from warehouse.fact_fidelite f
left join warehouse.dim_client c using (customer_id)
left join warehouse.dim_magasin m on m.store_id = f.store_id
where (c.customer_id is null or m.store_id is null) and f.event_date between %(first)s and %(last)s
