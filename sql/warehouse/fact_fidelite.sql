-- Valid loyalty events of the files being loaded.
insert into warehouse.fact_fidelite
    (event_date, event_id, occurred_at, customer_id, store_id, ticket_id,
     points_earned, points_redeemed, file_id)
select
    s.event_date, s.event_id, s.occurred_at, s.customer_id, s.store_id, s.ticket_id,
    s.points_earned, s.points_redeemed, s.file_id
from staging.loyalty_checked as s
where s.reason is null;
