-- Customers are type 1: each customer as its latest current snapshot gives it
-- (etl.snapshot_customers), whatever the order the snapshots arrived in.
insert into warehouse.dim_client
    (customer_code, birth_year, gender, city, region_id, has_loyalty_card, enrolled_on, tier, segment)
with snapshots as (
    select * from etl.snapshot_customers
),
final as (
    select distinct on (customer_code)
        customer_code, birth_year, gender, city, region_id, has_loyalty_card, enrolled_on, tier, segment
    from snapshots
    order by customer_code, business_date desc
)
select * from final
on conflict (customer_code) do update
    set birth_year = excluded.birth_year,
        gender = excluded.gender,
        city = excluded.city,
        region_id = excluded.region_id,
        has_loyalty_card = excluded.has_loyalty_card,
        enrolled_on = excluded.enrolled_on,
        tier = excluded.tier,
        segment = excluded.segment
    where (dim_client.birth_year, dim_client.gender, dim_client.city, dim_client.region_id,
           dim_client.has_loyalty_card, dim_client.enrolled_on, dim_client.tier, dim_client.segment)
          is distinct from (excluded.birth_year, excluded.gender, excluded.city, excluded.region_id,
                            excluded.has_loyalty_card, excluded.enrolled_on, excluded.tier, excluded.segment);
