-- Check staged ticket lines: place local times (the timestamp policy), no date after the
-- file's business date or the run date, a known store (the version valid on the sale date),
-- product and customer, one row per (ticket, line) across the files of the load. Types and
-- bounds were checked while streaming (etl_helpers.loading.values); a row that failed them
-- keeps that problem as its reason. The key is (ticket_id, line_number) whatever the date.
insert into staging.sales_checked
    (file_id, line_no, reason, sale_date, ticket_id, line_number, sold_at, store_id, customer_id,
     product_id, quantity, unit_price, discount, amount)
with source as (
    select * from staging.sales join staging.load_files using (file_id)
),
context as (
    select * from staging.load_context
),
stores as (
    select store_id, store_code, valid_from, valid_to from warehouse.dim_magasin
),
products as (
    select product_id, product_code from warehouse.dim_produit
),
customers as (
    select customer_id, customer_code from warehouse.dim_client
),
placed as (
    select
        source.*,
        coalesce(sold_at, etl.paris_instant(sold_at_local)) as sold_instant,
        case
            when sold_at_local is null then null
            when etl.paris_instant(sold_at_local) is null
                then 'nonexistent Europe/Paris local time (DST gap): give a UTC offset'
            when etl.is_ambiguous_paris_time(sold_at_local)
                then 'ambiguous Europe/Paris local time (DST fall-back): give a UTC offset'
        end as time_problem
    from source
),
dated as (
    select placed.*, (sold_instant at time zone 'Europe/Paris')::date as sale_date
    from placed
),
repeated_keys as (
    select ticket_id, line_number
    from source
    where problem is null
    group by ticket_id, line_number
    having count(*) > 1
),
first_copies as (
    select distinct on (ticket_id, line_number)
        ticket_id, line_number, file_id as first_file, line_no as first_line
    from source
    join repeated_keys using (ticket_id, line_number)
    where problem is null
    order by ticket_id, line_number, file_id, line_no
),
loaded_lines as (
    -- lines of the batch already in the warehouse (a hashed semi-join, not a lookup per row)
    select distinct f.ticket_id, f.line_number
    from warehouse.fact_ventes as f
    where (f.ticket_id, f.line_number) in (select ticket_id, line_number from source)
),
joined as (
    select
        dated.*,
        stores.store_id,
        products.product_id,
        customers.customer_id,
        first_copies.first_file,
        first_copies.first_line,
        loaded_lines.ticket_id is not null as already_loaded
    from dated
    left join stores
        on stores.store_code = dated.store_code
       and dated.sale_date >= stores.valid_from
       and (stores.valid_to is null or dated.sale_date < stores.valid_to)
    left join products on products.product_code = dated.product_code
    left join customers on customers.customer_code = dated.customer_code
    left join first_copies on first_copies.ticket_id = dated.ticket_id
                          and first_copies.line_number = dated.line_number
    left join loaded_lines on loaded_lines.ticket_id = dated.ticket_id
                          and loaded_lines.line_number = dated.line_number
),
checked as (
    select
        joined.*,
        coalesce(problem, case
            when time_problem is not null then time_problem
            when sale_date > business_date then 'dated after its file''s business date'
            when sale_date > run_date then 'dated after the run date'
            when store_id is null then 'unknown store_code'
            when product_id is null then 'unknown product_code'
            when customer_code is not null and customer_id is null then 'unknown customer_code'
            when file_id = first_file and line_no > first_line
                then 'duplicate ticket line (first on line ' || first_line || ')'
            when file_id <> first_file then 'ticket line also in an earlier file of this load'
            when already_loaded then 'ticket line already loaded from another file'
        end) as reason
    from joined cross join context
),
final as (
    select
        file_id,
        line_no,
        reason,
        sale_date,
        ticket_id,
        line_number,
        sold_instant as sold_at,
        store_id,
        customer_id,
        product_id,
        quantity,
        round(unit_price, 2) as unit_price,
        round(discount, 4) as discount,
        coalesce(round(amount, 4), round(quantity * unit_price * (1 - discount), 2)) as amount
    from checked
)
select * from final;
