-- fidelite_basket_items: the distinct items of every basket in the window, for association
-- rules. A basket is a ticket (sale_date, ticket_id); its items are the products (level
-- 'product', by code) or the product categories (level 'category') of its sale lines;
-- returns are not purchases and are left out. Anonymous tickets count: a basket needs no card.
--
-- params: run_date (the as-of date), window_days (365), level ('product' | 'category')
with lines as (
    select sale_date, ticket_id, product_id
    from warehouse.fact_ventes
    where not is_return
      and sale_date > %(run_date)s::date - %(window_days)s::int
      and sale_date <= %(run_date)s::date
),
products as (
    select product_id, product_code, category
    from warehouse.dim_produit
),
final as (
    select distinct
        lines.sale_date,
        lines.ticket_id,
        case %(level)s::text
            when 'product' then products.product_code
            when 'category' then products.category
        end as item
    from lines
    join products on products.product_id = lines.product_id
)
select * from final
