-- Check staged customers: a code, accepted values for gender and the card flag, plausible
-- birth year, ISO enrolment date, a known region when one is given, one row per code.
insert into staging.customers_checked
    (file_id, line_no, reason, customer_code, birth_year, gender, city, region_id,
     has_loyalty_card, enrolled_on, tier, segment)
with source as (
    select * from staging.customers_raw join staging.load_files using (file_id)
),
context as (
    select * from staging.load_context
),
regions as (
    select region_id, region_code from warehouse.dim_region
),
cleaned as (
    select
        file_id,
        business_date,
        line_no,
        nullif(btrim(customer_code), '') as customer_code,
        nullif(btrim(birth_year), '') as birth_year,
        upper(nullif(btrim(gender), '')) as gender,
        nullif(btrim(city), '') as city,
        nullif(btrim(region_code), '') as region_code,
        lower(nullif(btrim(has_loyalty_card), '')) as has_loyalty_card,
        nullif(btrim(enrolled_on), '') as enrolled_on,
        nullif(btrim(tier), '') as tier,
        nullif(btrim(segment), '') as segment
    from source
),
ranked as (
    select cleaned.*, regions.region_id, min(line_no) over (partition by file_id, customer_code) as first_line
    from cleaned left join regions using (region_code)
),
checked as (
    select
        ranked.*,
        case
            when customer_code is null then 'missing customer_code'
            when greatest(length(customer_code), length(city), length(tier), length(segment))
                > max_text_length then 'text too long'
            when birth_year is not null and not etl.is_int(birth_year) then 'invalid birth_year'
            when birth_year::int not between 1900 and extract(year from business_date)
                then 'birth_year out of bounds [1900, file year]'
            when gender not in ('F', 'M', 'X') then 'gender not one of F, M, X'
            when region_code is not null and region_id is null then 'unknown region_code'
            when has_loyalty_card is null then 'missing has_loyalty_card'
            when not etl.is_bool(has_loyalty_card) then 'has_loyalty_card is not true/false'
            when enrolled_on is not null and not etl.is_iso_date(enrolled_on)
                then 'invalid enrolled_on (expected YYYY-MM-DD)'
            when line_no > first_line then 'duplicate customer_code (first on line ' || first_line || ')'
        end as reason
    from ranked cross join context
),
final as (
    select
        file_id, line_no, reason, customer_code,
        case when reason is null then birth_year::int end as birth_year,
        gender, city, region_id,
        case when reason is null then has_loyalty_card::boolean end as has_loyalty_card,
        case when reason is null then enrolled_on::date end as enrolled_on,
        tier, segment
    from checked
)
select * from final;
