-- Check staged loyalty events: types, bounded points, the timestamp policy, dates not after
-- the file's business date, known customer and store (the version valid on that date),
-- one row per event id in the file and in the warehouse.
insert into staging.loyalty_checked
    (file_id, line_no, reason, event_date, event_id, occurred_at, customer_id, store_id, ticket_id,
     points_earned, points_redeemed)
with source as (
    select * from staging.loyalty_raw join staging.load_files using (file_id)
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
cleaned as (
    select
        file_id,
        business_date,
        line_no,
        nullif(btrim(event_id), '') as event_id,
        nullif(btrim(occurred_at), '') as occurred_at,
        nullif(btrim(customer_code), '') as customer_code,
        nullif(btrim(store_code), '') as store_code,
        nullif(btrim(ticket_id), '') as ticket_id,
        nullif(btrim(points_earned), '') as points_earned,
        nullif(btrim(points_redeemed), '') as points_redeemed,
        etl.timestamp_problem(nullif(btrim(occurred_at), ''), date_format) as time_problem
    from source cross join context
),
timed as (
    select
        cleaned.*,
        case when time_problem is null then etl.to_instant(occurred_at, date_format) end as occurred_instant
    from cleaned cross join context
),
dated as (
    select timed.*, (occurred_instant at time zone 'Europe/Paris')::date as event_date
    from timed
),
ranked as (
    select
        dated.*,
        first_value(file_id) over same_event as first_file,
        first_value(line_no) over same_event as first_line
    from dated
    window same_event as (partition by event_id order by file_id, line_no)
),
joined as (
    select
        ranked.*,
        stores.store_id,
        customers.customer_id,
        exists (
            select 1 from warehouse.fact_fidelite f
            where f.event_date = ranked.event_date and f.event_id = ranked.event_id
        ) as already_loaded
    from ranked
    left join stores
        on stores.store_code = ranked.store_code
       and ranked.event_date >= stores.valid_from
       and (stores.valid_to is null or ranked.event_date < stores.valid_to)
    left join customers on customers.customer_code = ranked.customer_code
),
checked as (
    select
        joined.*,
        case
            when event_id is null then 'missing event_id'
            when greatest(length(event_id), length(ticket_id)) > max_text_length then 'text too long'
            when time_problem is not null then time_problem
            when event_date > business_date then 'dated after its file''s business date'
            when event_date > run_date then 'dated after the run date'
            when customer_code is null then 'missing customer_code'
            when customer_id is null then 'unknown customer_code'
            when store_code is null then 'missing store_code'
            when store_id is null then 'unknown store_code'
            when not etl.is_int(coalesce(points_earned, '0')) or not etl.is_int(coalesce(points_redeemed, '0'))
                then 'invalid points'
            when coalesce(points_earned, '0')::int not between 0 and max_points
              or coalesce(points_redeemed, '0')::int not between 0 and max_points
                then 'points out of bounds [0, ' || max_points || ']'
            when file_id = first_file and line_no > first_line
                then 'duplicate event_id (first on line ' || first_line || ')'
            when file_id <> first_file then 'event also in an earlier file of this load'
            when already_loaded then 'event already loaded from another file'
        end as reason
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
        case when reason is null then coalesce(points_earned, '0')::int end as points_earned,
        case when reason is null then coalesce(points_redeemed, '0')::int end as points_redeemed
    from checked
)
select * from final;
