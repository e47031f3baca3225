-- The star schema. Dimensions carry surrogate keys (<entity>_id) and their natural codes;
-- dim_magasin keeps history (valid_from / valid_to); facts are partitioned by month and
-- carry the ledger file they came from, so a corrected file replaces exactly its own rows
-- (file_id has no index on purpose: it would cost every load, and only corrections use it).

create table if not exists warehouse.dim_region (
    region_id    integer generated always as identity primary key,
    region_code  text not null unique,
    region_name  text not null,
    population   bigint not null check (population >= 0)
);

create table if not exists warehouse.dim_magasin (
    store_id     bigint generated always as identity primary key,
    store_code   text not null,
    store_name   text not null,
    banner       text not null,
    city         text not null,
    postal_code  text,
    region_id    integer not null references warehouse.dim_region (region_id),
    opened_on    date,
    valid_from   date not null,
    valid_to     date,
    is_current   boolean not null default true,
    unique (store_code, valid_from),
    check (valid_to is null or valid_to > valid_from)
);
-- the store's last trading day, when it closed for good (optional in the contract)
alter table warehouse.dim_magasin add column if not exists closed_on date;
create unique index if not exists dim_magasin_one_current on warehouse.dim_magasin (store_code) where is_current;

create table if not exists warehouse.dim_produit (
    product_id    bigint generated always as identity primary key,
    product_code  text not null unique,
    product_name  text not null,
    category      text not null,
    subcategory   text,
    brand         text,
    list_price    numeric(12, 2)
);

create table if not exists warehouse.dim_client (
    customer_id       bigint generated always as identity primary key,
    customer_code     text not null unique,
    birth_year        integer,
    gender            text,
    city              text,
    region_id         integer references warehouse.dim_region (region_id),
    has_loyalty_card  boolean not null,
    enrolled_on       date,
    tier              text,
    segment           text
);

create table if not exists warehouse.dim_temps (
    date_id        date primary key,
    year           integer not null,
    quarter        integer not null,
    month          integer not null,
    iso_year       integer not null,
    iso_week       integer not null,
    day_of_month   integer not null,
    day_of_week    integer not null,  -- 1 = Monday
    is_weekend     boolean not null,
    is_ferie       boolean not null,  -- French public holiday (metropolitan France)
    holiday_name   text
);

create table if not exists warehouse.fact_ventes (
    sale_date    date not null,
    ticket_id    text collate "C" not null,  -- byte order: keys compare fast, and no locale changes them
    line_number  integer not null,
    sold_at      timestamptz not null,
    store_id     bigint not null,
    customer_id  bigint,               -- null: anonymous ticket
    product_id   bigint not null,
    quantity     integer not null,     -- negative: a return
    unit_price   numeric(12, 2) not null,
    discount     numeric(5, 4) not null,
    amount       numeric(14, 4) not null,  -- net line amount; sources may carry sub-cent amounts (Superstore), totals round to cents
    is_return    boolean not null,
    file_id      bigint not null,
    primary key (sale_date, ticket_id, line_number),
    check (is_return = (quantity < 0))
) partition by range (sale_date);

create table if not exists warehouse.fact_fidelite (
    event_date       date not null,
    event_id         text collate "C" not null,
    occurred_at      timestamptz not null,
    customer_id      bigint not null,
    store_id         bigint not null,
    ticket_id        text,
    points_earned    integer not null check (points_earned >= 0),
    points_redeemed  integer not null check (points_redeemed >= 0),
    file_id          bigint not null,
    primary key (event_date, event_id)
) partition by range (event_date);
