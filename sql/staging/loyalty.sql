-- Check staged loyalty events: place local times (the timestamp policy), no date after the
-- file's business date or the run date, a known customer and store (the version valid on
-- that date), one row per event id across the files of the load. Types and bounds were
-- checked while streaming (etl_helpers.loading.values). The key is event_id whatever the date.
insert into staging.loyalty_checked
    (file_id, line_no, reason, event_date, event_id, occurred_at, customer_id, store_id, ticket_id,
     points_earned, points_redeemed)
with source as (
    select * from staging.loyalty join staging.load_files using (file_id)
),
context as (
    select * from staging.load_context
),
stores as (
    select store_id, store_code, valid_from, valid_to from warehouse.dim_magasin
),
customers as (
    select customer_id, customer_code from warehouse.dim_client
),
placed as (
    select
        source.*,
        coalesce(occurred_at, etl.paris_instant(occurred_at_local)) as occurred_instant,
        case
            when occurred_at_local is null then null
            when etl.paris_instant(occurred_at_local) is null
                then 'nonexistent Europe/Paris local time (DST gap): give a UTC offset'
            when etl.is_ambiguous_paris_time(occurred_at_local)
                then 'ambiguous Europe/Paris local time (DST fall-back): give a UTC offset'
        end as time_problem
    from source
),
dated as (
    select placed.*, (occurred_instant at time zone 'Europe/Paris')::date as event_date
    from placed
),
repeated_ids as (
    select event_id
    from source
    where problem is null
    group by event_id
    having count(*) > 1
),
first_copies as (
    select distinct on (event_id) event_id, file_id as first_file, line_no as first_line
    from source
    join repeated_ids using (event_id)
    where problem is null
    order by event_id, file_id, line_no
),
loaded_events as (
    -- events of the batch already in the warehouse (a hashed semi-join, not a lookup per row)
    select distinct f.event_id
    from warehouse.fact_fidelite as f
    where f.event_id in (select event_id from source)
),
joined as (
    select
        dated.*,
        stores.store_id,
        customers.customer_id,
        first_copies.first_file,
        first_copies.first_line,
        loaded_events.event_id is not null as already_loaded
    from dated
    left join stores
        on stores.store_code = dated.store_code
       and dated.event_date >= stores.valid_from
       and (stores.valid_to is null or dated.event_date < stores.valid_to)
    left join customers on customers.customer_code = dated.customer_code
    left join first_copies on first_copies.event_id = dated.event_id
    left join loaded_events on loaded_events.event_id = dated.event_id
),
checked as (
    select
        joined.*,
        coalesce(problem, case
            when time_problem is not null then time_problem
            when event_date > business_date then 'dated after its file''s business date'
            when event_date > run_date then 'dated after the run date'
            when customer_id is null then 'unknown customer_code'
            when store_id is null then 'unknown store_code'
            when file_id = first_file and line_no > first_line
                then 'duplicate event_id (first on line ' || first_line || ')'
            when file_id <> first_file then 'event also in an earlier file of this load'
            when already_loaded then 'event already loaded from another file'
        end) as reason
    from joined cross join context
),
final as (
    select
        file_id,
        line_no,
        reason,
        event_date,
        event_id,
        occurred_instant as occurred_at,
        customer_id,
        store_id,
        ticket_id,
        points_earned,
        points_redeemed
    from checked
)
select * from final;
