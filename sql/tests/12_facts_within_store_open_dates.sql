-- name: facts: within their store's open dates
-- Counts the offending rows (0 = pass). Bound values it may use: first and last (the event
-- dates checked), since (the last ledger file a passing run covered). Run by etl_helpers.data_tests.
select
    (select count(*) from warehouse.fact_ventes f join warehouse.dim_magasin m using (store_id)
     where (f.sale_date < m.opened_on or f.sale_date > m.closed_on)
       and f.sale_date between %(first)s and %(last)s)
  + (select count(*) from warehouse.fact_fidelite f join warehouse.dim_magasin m using (store_id)
     where (f.event_date < m.opened_on or f.event_date > m.closed_on)
       and f.event_date between %(first)s and %(last)s)
