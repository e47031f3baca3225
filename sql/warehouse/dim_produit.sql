-- Products are type 1: a new snapshot overwrites their attributes.
insert into warehouse.dim_produit (product_code, product_name, category, subcategory, brand, list_price)
select product_code, product_name, category, subcategory, brand, list_price
from staging.products_checked
where reason is null
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
