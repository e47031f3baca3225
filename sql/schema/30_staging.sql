-- Staging: transient, unlogged. staging.<entity> (file id, line number, the problem found while
-- typing, the raw text of such a row, then the typed contract columns) is created from the
-- contract by etl_helpers.schema; here are the context of the load under way (the run date,
-- the files of the batch) and the checked tables: typed values plus the reason a row is
-- rejected (null = valid).

create unlogged table if not exists staging.load_files (
    file_id        bigint primary key,
    business_date  date not null
);

create unlogged table if not exists staging.load_context (
    run_date  date not null
);

create unlogged table if not exists staging.regions_checked (
    file_id bigint, line_no bigint, reason text,
    region_code text, region_name text, population bigint
);

create unlogged table if not exists staging.stores_checked (
    file_id bigint, line_no bigint, reason text,
    store_code text, store_name text, banner text, city text, postal_code text,
    region_id integer, opened_on date
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
    file_id bigint, line_no bigint, reason text,
    sale_date date, ticket_id text, line_number integer, sold_at timestamptz,
    store_id bigint, customer_id bigint, product_id bigint,
    quantity integer, unit_price numeric(12, 2), discount numeric(5, 4), amount numeric(14, 4)
);

create unlogged table if not exists staging.loyalty_checked (
    file_id bigint, line_no bigint, reason text,
    event_date date, event_id text, occurred_at timestamptz,
    customer_id bigint, store_id bigint, ticket_id text,
    points_earned integer, points_redeemed integer
);
