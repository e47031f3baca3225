-- name: ledger: fact rows per current file match its count
-- Counts the offending rows (0 = pass). Bound values it may use: first and last (the event
-- dates checked), since (the last ledger file a passing run covered). Run by etl_helpers.data_tests.
select count(*) from etl.loaded_files l
left join (select file_id, count(*) n from warehouse.fact_ventes
           where sale_date between %(first)s and %(last)s group by file_id
           union all select file_id, count(*) from warehouse.fact_fidelite
           where event_date between %(first)s and %(last)s group by file_id) f
using (file_id)
where l.is_current and l.entity in ('sales', 'loyalty') and coalesce(f.n, 0) <> l.rows_loaded
and l.file_id > %(since)s
