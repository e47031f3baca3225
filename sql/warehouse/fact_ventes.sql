-- Valid ticket lines of the files being loaded; a negative quantity is a return.
insert into warehouse.fact_ventes
    (sale_date, ticket_id, line_number, sold_at, store_id, customer_id, product_id,
     quantity, unit_price, discount, amount, is_return, file_id)
select
    s.sale_date, s.ticket_id, s.line_number, s.sold_at, s.store_id, s.customer_id, s.product_id,
    s.quantity, s.unit_price, s.discount, s.amount, s.quantity < 0, s.file_id
from staging.sales_checked as s
where s.reason is null;
