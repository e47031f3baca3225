-- fidelite_baskets: one row per basket of the window, with the ids of its distinct items, for
-- association rules. A basket is a ticket (sale_date, ticket_id); its items are its products
-- (level 'product') or their categories (level 'category'), each once, as ids from
-- fidelite_rule_items. Returns are not purchases and are left out; anonymous tickets count.
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
    select
        product_id,
        dense_rank() over (order by category collate "C") as category_id
    from warehouse.dim_produit
),
final as (
    select
        lines.sale_date,
        lines.ticket_id,
        array_agg(
            distinct case %(level)s::text
                when 'product' then products.product_id
                when 'category' then products.category_id
            end
        ) as items
    from lines
    join products on products.product_id = lines.product_id
    group by lines.sale_date, lines.ticket_id
)
select * from final
