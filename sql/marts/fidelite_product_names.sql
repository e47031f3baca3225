-- fidelite_product_names: product code -> name and category, to label product rules.
with products as (
    select product_code, product_name, category
    from warehouse.dim_produit
),
final as (
    select product_code, product_name, category
    from products
    order by product_code collate "C"
)
select * from final
