-- Staging: transient, unlogged. staging.<entity> of a reference entity (file id, line number,
-- the problem found while typing, the row's raw text, then the typed contract columns) is
-- created from the contract by etl_helpers.schema; here are the checked tables: typed values
-- plus the reason a row is rejected (null = valid). Daily facts only pass through theirs
-- when a key repeats: the fact row, its line number and raw text.

create unlogged table if not exists staging.load_files (
    file_id        bigint primary key,
    business_date  date not null
);

create unlogged table if not exists staging.regions_checked (
    file_id bigint, line_no bigint, reason text,
    region_code text, region_name text, population bigint
);

create unlogged table if not exists staging.stores_checked (
    file_id bigint, line_no bigint, reason text,
    store_code text, store_name text, banner text, city text, postal_code text,
    region_id integer, opened_on date, closed_on date
);

create unlogged table if not exists staging.products_checked (
    file_id bigint, line_no bigint, reason text,
    product_code text, product_name text, category text, subcategory text, brand text,
    list_price numeric(12, 2)
);

create unlogged table if not exists staging.customers_checked (
    file_id bigint, line_no bigint, reason text,
    customer_code text, birth_year integer, gender text, city text, region_id integer,
    has_loyalty_card boolean, enrolled_on date, tier text, segment text
);

create unlogged table if not exists staging.sales_checked (
    line_no bigint, reason text, raw_text text,
    like warehouse.fact_ventes
);

create unlogged table if not exists staging.loyalty_checked (
    line_no bigint, reason text, raw_text text,
    like warehouse.fact_fidelite
);

-- dim_magasin's working tables (sql/warehouse/dim_magasin.sql empties them first): the store
-- versions every current snapshot gives, the stores whose versions change, and the moves of
-- the facts from a version to another. Tables of the schema, not temporary ones: on Citus the
-- statements on the dimensions run over another connection, which sees no temporary table.
create unlogged table if not exists staging.store_versions (
    store_code text, store_name text, banner text, city text, postal_code text,
    region_id integer, opened_on date, closed_on date,
    valid_from date, valid_to date, is_current boolean
);

create unlogged table if not exists staging.changed_stores (
    store_code text
);

create unlogged table if not exists staging.store_moves (
    old_id bigint, new_id bigint, valid_from date, valid_to date
);
