-- Products are type 1: each product as its latest current snapshot gives it
-- (etl.snapshot_products), whatever the order the snapshots arrived in.
insert into warehouse.dim_produit (product_code, product_name, category, subcategory, brand, list_price)
with snapshots as (
    select * from etl.snapshot_products
),
final as (
    select distinct on (product_code) product_code, product_name, category, subcategory, brand, list_price
    from snapshots
    order by product_code, business_date desc
)
select * from final
on conflict (product_code) do update
    set product_name = excluded.product_name,
        category = excluded.category,
        subcategory = excluded.subcategory,
        brand = excluded.brand,
        list_price = excluded.list_price
    where (dim_produit.product_name, dim_produit.category, dim_produit.subcategory,
           dim_produit.brand, dim_produit.list_price)
          is distinct from (excluded.product_name, excluded.category, excluded.subcategory,
                            excluded.brand, excluded.list_price);
