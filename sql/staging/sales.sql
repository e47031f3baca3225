-- Check staged ticket lines: types, bounds (from the contract, via load_context), the
-- timestamp policy, dates not after the file's business date, known store (the version valid
-- on the sale date), product and customer, one row per (ticket, line) in the file and in
-- the warehouse.
insert into staging.sales_checked
    (file_id, line_no, reason, sale_date, ticket_id, line_number, sold_at, store_id, customer_id,
     product_id, quantity, unit_price, discount, amount)
with source as (
    select * from staging.sales_raw join staging.load_files using (file_id)
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
cleaned as (
    select
        file_id,
        business_date,
        line_no,
        nullif(btrim(ticket_id), '') as ticket_id,
        nullif(btrim(line_number), '') as line_number,
        nullif(btrim(sold_at), '') as sold_at,
        nullif(btrim(store_code), '') as store_code,
        nullif(btrim(customer_code), '') as customer_code,
        nullif(btrim(product_code), '') as product_code,
        nullif(btrim(quantity), '') as quantity,
        etl.normalize_decimal(nullif(btrim(unit_price), ''), decimal_mark) as unit_price,
        coalesce(etl.normalize_decimal(nullif(btrim(discount), ''), decimal_mark), '0') as discount,
        etl.normalize_decimal(nullif(btrim(amount), ''), decimal_mark) as amount,
        etl.timestamp_problem(nullif(btrim(sold_at), ''), date_format) as time_problem
    from source cross join context
),
timed as (
    select
        cleaned.*,
        case when time_problem is null then etl.to_instant(sold_at, date_format) end as sold_instant,
        case when etl.is_int(line_number) then line_number::int end as line_number_value
    from cleaned cross join context
),
dated as (
    select timed.*, (sold_instant at time zone 'Europe/Paris')::date as sale_date
    from timed
),
ranked as (
    select
        dated.*,
        first_value(file_id) over same_line as first_file,
        first_value(line_no) over same_line as first_line
    from dated
    window same_line as (partition by ticket_id, line_number_value order by file_id, line_no)
),
joined as (
    select
        ranked.*,
        stores.store_id,
        products.product_id,
        customers.customer_id,
        exists (
            select 1 from warehouse.fact_ventes f
            where f.sale_date = ranked.sale_date
              and f.ticket_id = ranked.ticket_id
              and f.line_number = ranked.line_number_value
        ) as already_loaded
    from ranked
    left join stores
        on stores.store_code = ranked.store_code
       and ranked.sale_date >= stores.valid_from
       and (stores.valid_to is null or ranked.sale_date < stores.valid_to)
    left join products on products.product_code = ranked.product_code
    left join customers on customers.customer_code = ranked.customer_code
),
checked as (
    select
        joined.*,
        case
            when ticket_id is null then 'missing ticket_id'
            when length(ticket_id) > max_text_length then 'text too long'
            when line_number_value is null or line_number_value < 1 then 'invalid line_number'
            when time_problem is not null then time_problem
            when sale_date > business_date then 'dated after its file''s business date'
            when sale_date > run_date then 'dated after the run date'
            when store_code is null then 'missing store_code'
            when store_id is null then 'unknown store_code'
            when product_code is null then 'missing product_code'
            when product_id is null then 'unknown product_code'
            when customer_code is not null and customer_id is null then 'unknown customer_code'
            when not etl.is_int(quantity) then 'invalid quantity'
            when quantity::int = 0 or abs(quantity::int) > max_quantity
                then 'quantity out of bounds (non-zero, |q| <= ' || max_quantity || ')'
            when not etl.is_decimal(unit_price) then 'invalid unit_price'
            when unit_price::numeric <= 0 or unit_price::numeric > max_unit_price
                then 'unit_price out of bounds (0, ' || max_unit_price || ']'
            when not etl.is_decimal(discount) or discount::numeric < 0 or discount::numeric >= 1
                then 'discount is not a rate in [0, 1)'
            when amount is not null and not etl.is_decimal(amount) then 'invalid amount'
            when abs(amount::numeric) > max_quantity * max_unit_price then 'amount out of bounds'
            when file_id = first_file and line_no > first_line
                then 'duplicate ticket line (first on line ' || first_line || ')'
            when file_id <> first_file then 'ticket line also in an earlier file of this load'
            when already_loaded then 'ticket line already loaded from another file'
        end as reason
    from joined cross join context
),
final as (
    select
        file_id,
        line_no,
        reason,
        sale_date,
        ticket_id,
        line_number_value as line_number,
        sold_instant as sold_at,
        store_id,
        customer_id,
        product_id,
        case when reason is null then quantity::int end as quantity,
        case when reason is null then round(unit_price::numeric, 2) end as unit_price,
        case when reason is null then round(discount::numeric, 4) end as discount,
        case when reason is null then coalesce(
            round(amount::numeric, 4),
            round(quantity::int * unit_price::numeric * (1 - discount::numeric), 2)
        ) end as amount
    from checked
)
select * from final;
