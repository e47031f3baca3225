"""The aggregates the marts read (etl_helpers.aggregates) stay equal to a recomputation from the
facts, and the marts equal what a full rebuild gives, through the incremental refreshes of a
pipeline's life: a new day, a late correction (a replaced file), a late store version that
re-points facts to a new store_id."""

from __future__ import annotations

import csv
import shutil
import threading
from datetime import date, timedelta
from functools import partial

import pandas as pd
import psycopg
import pytest
from psycopg import sql

from etl_helpers import aggregates, db, marts, warehouse
from etl_helpers.marts import rules
from etl_helpers.marts.query import read_sql
from etl_helpers.sources import SourceOptions, demo

FIRST_RUN = date(2026, 6, 3)     # three days after the demo's banner change (2026-06-01)
HISTORY_DAYS = 75                # from 2026-03-21
WINDOW_DAYS = 40                 # a window that starts mid-month, inside the history
CHANGE_DAY = demo.BANNER_CHANGE.on


def _differences(conn: psycopg.Connection, aggregate: aggregates.Aggregate) -> int:
    """Rows in the table and not in a recomputation of its query over every fact, or the reverse."""
    table = sql.Identifier("marts", aggregate.name)
    query = sql.SQL(aggregate.query())  # type: ignore[arg-type]
    both = (sql.SQL("select count(*) from ((select * from ") + table + sql.SQL(" except all (") + query
            + sql.SQL(")) union all ((") + query + sql.SQL(") except all select * from ") + table + sql.SQL(")) as d"))
    return conn.execute(both, {"dates": None}).fetchone()[0]


def _marts(conn: psycopg.Connection, run_date: date) -> dict[str, pd.DataFrame]:
    counts = rules.count_basket_itemsets(conn, run_date, level="product", window_days=WINDOW_DAYS,
                                         min_support=0.02, max_len=3)
    return {
        "sales_by_store_month": marts.compute(conn, "sales_by_store_month", run_date),
        "sales_by_region_month": marts.compute(conn, "sales_by_region_month", run_date),
        "sales_daily": marts.compute(conn, "sales_daily", run_date),
        "sales_period_comparison": marts.compute(conn, "sales_period_comparison", run_date),
        "loyalty_kpis": marts.compute(conn, "loyalty_kpis", run_date),
        "penetration_by_region": marts.compute(conn, "penetration_by_region", run_date),
        "penetration_by_region_short_window": marts.compute(conn, "penetration_by_region", run_date,
                                                                             window_days=WINDOW_DAYS),
        "top_stores_by_loyal_customers": marts.compute(conn, "top_stores_by_loyal_customers", run_date),
        "top_loyal_clients_by_store": marts.compute(conn, "top_loyal_clients_by_store", run_date),
        "segment_category_affinity": marts.compute(conn, "segment_category_affinity", run_date),
        "category_correlation": marts.compute(conn, "category_correlation", run_date),
        "category_correlation_short_window": marts.compute(conn, "category_correlation", run_date,
                                                           window_days=WINDOW_DAYS),
        "rfm_customers": marts.compute(conn, "rfm_customers", run_date),
        "rfm_customers_short_window": marts.compute(conn, "rfm_customers", run_date, window_days=WINDOW_DAYS),
        "category_rules": marts.compute(conn, "category_rules", run_date),
        "top_products_by_quantity": marts.compute(conn, "top_products_by_quantity", run_date),
        "top_products_by_region": marts.compute(conn, "top_products_by_region", run_date),
        "top_products_by_year": marts.compute(conn, "top_products_by_year", run_date),
        "sales_by_category_month": marts.compute(conn, "sales_by_category_month", run_date),
        "sales_by_weekday_hour": marts.compute(conn, "sales_by_weekday_hour", run_date),
        "product_itemsets": pd.DataFrame(sorted(counts.counts.items()), columns=["items", "count"]),
    }


def _product_counts_from_facts(conn: psycopg.Connection, run_date: date, window_days: int) -> rules.ItemsetCounts:
    """Every product and product pair of the window's baskets (tickets on their sale date, sale
    lines only) with the baskets holding it, counted from the facts without any aggregate."""
    lines = """
        select distinct fact.sale_date, fact.ticket_id, product.product_code
        from warehouse.fact_ventes as fact
        join warehouse.dim_produit as product on product.product_id = fact.product_id
        where not fact.is_return and fact.sale_date > %(run_date)s::date - %(days)s and fact.sale_date <= %(run_date)s
    """
    params = {"run_date": run_date, "days": window_days}
    n_baskets = conn.execute(f"select count(distinct (sale_date, ticket_id)) from ({lines}) as lines",
                             params).fetchone()[0]
    items = conn.execute(f"select array[product_code], count(*) from ({lines}) as lines group by product_code",
                         params).fetchall()
    pairs = conn.execute(f"""
        with lines as ({lines})
        select array[a.product_code, b.product_code], count(*)
        from lines as a
        join lines as b on b.sale_date = a.sale_date and b.ticket_id = a.ticket_id
                       and b.product_code collate "C" > a.product_code collate "C"
        group by a.product_code, b.product_code
    """, params).fetchall()
    return rules.ItemsetCounts(n_baskets, {tuple(k): n for k, n in items + pairs}, 1, 2)


def _assert_product_counts_equal_the_facts(conn: psycopg.Connection, run_date: date) -> None:
    """Product and pair counts of count_basket_itemsets (the window's baskets from agg_baskets) equal a
    count from the facts, for windows with and without whole months, starting and ending mid-month."""
    for window_days in (WINDOW_DAYS, WINDOW_DAYS + 20, 10):
        first_day = run_date - timedelta(days=window_days - 1)
        assert first_day.day != 1 and (run_date + timedelta(days=1)).day != 1  # edges on both sides
        counts = rules.count_basket_itemsets(conn, run_date, level="product", window_days=window_days,
                                             min_support=0, max_len=2)
        expected = _product_counts_from_facts(conn, run_date, window_days)
        assert counts.n_baskets == expected.n_baskets > 0
        assert counts.counts == expected.counts, f"{window_days} days to {run_date}"
        assert any(len(items) == 2 for items in counts.counts)


def _assert_current_and_exact(settings, refreshes: pd.DataFrame, *expected_modes: str) -> None:
    assert set(refreshes["refresh"]) == set(expected_modes), refreshes
    with db.connect(settings) as conn:
        for aggregate in aggregates.AGGREGATES:
            assert _differences(conn, aggregate) == 0, aggregate.name
        aggregates.check_current(conn)
        last_day = conn.execute("select max(sale_date) from warehouse.fact_ventes").fetchone()[0]
        for run_date in sorted({FIRST_RUN, FIRST_RUN - timedelta(days=20), last_day}):
            _assert_product_counts_equal_the_facts(conn, run_date)
        incremental = {run_date: _marts(conn, run_date) for run_date in (FIRST_RUN, FIRST_RUN - timedelta(days=20))}
        conn.execute("truncate etl.aggregate_refreshes")  # forget the state: the next refresh rebuilds
        assert set(aggregates.refresh(conn)["refresh"]) == {"rebuilt"}
        for run_date, frames in incremental.items():
            for name, frame in _marts(conn, run_date).items():
                pd.testing.assert_frame_equal(frames[name], frame, obj=f"{name} as of {run_date}")
        conn.rollback()  # keep the incremental state for the next step


def _views_step(settings) -> pd.DataFrame:
    frame = warehouse.create_views(settings)
    return frame[frame["kind"] == "aggregate"].rename(columns={"relation": "aggregate"})


@pytest.fixture(scope="module")
def pipeline(server_url, tmp_path_factory):
    """A database and a demo small raw folder up to FIRST_RUN whose banner change snapshot is
held back (it arrives late, after the facts it re-points)."""
    import uuid

    from psycopg import conninfo

    from etl_helpers.settings import Settings

    name = f"etl_aggregates_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    raw = tmp_path_factory.mktemp("aggregates-raw")
    demo.generate(raw, FIRST_RUN, scale="small", seed=42, history_days=HISTORY_DAYS)
    change = raw / "stores" / f"stores_{CHANGE_DAY}.csv"
    held_back = tmp_path_factory.mktemp("held-back") / change.name
    shutil.move(change, held_back)
    settings = Settings(database_url=conninfo.make_conninfo(server_url, dbname=name),
                        workdir=tmp_path_factory.mktemp("aggregates-work"))
    yield settings, raw, held_back
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def _load(settings, raw, run_date: date) -> None:
    warehouse.create_schema(settings)
    warehouse.load_dimensions(run_date, "canonical", SourceOptions(raw=raw), settings)
    warehouse.load_facts(run_date, "canonical", SourceOptions(raw=raw), settings)


# The steps run in the order of a pipeline's life, each on the state the previous one left
# (one database for the module): first load, late store version, new day, late correction.

def test_first_refresh_builds_every_aggregate(pipeline):
    settings, raw, _ = pipeline
    _load(settings, raw, FIRST_RUN)
    _assert_current_and_exact(settings, _views_step(settings), "rebuilt")


def test_a_merged_aggregate_is_indexed_on_its_whole_key(pipeline):
    """A merge looks up the month rows of each new day's keys: without an index on the whole key
    it would read the whole table (seconds at large for a one-day refresh)."""
    settings, _, _ = pipeline
    with db.connect(settings) as conn:
        for aggregate in (a for a in aggregates.AGGREGATES if a.merges):
            columns = [name for (name,) in conn.execute(
                "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 "
                "and not attisdropped order by attnum", (f"marts.{aggregate.name}",)).fetchall()]
            key = [c for c in columns if c not in dict(aggregate.merges)]
            indexes = [row[0] for row in conn.execute(
                "select array(select a.attname from unnest(i.indkey) with ordinality as k(attnum, n) "
                "join pg_attribute as a on a.attrelid = i.indrelid and a.attnum = k.attnum order by k.n) "
                "from pg_index as i where i.indrelid = %s::regclass", (f"marts.{aggregate.name}",)).fetchall()]
            assert [aggregate.date_column, *sorted(set(key) - {aggregate.date_column})] in [
                [index[0], *sorted(index[1:])] for index in indexes], (aggregate.name, key, indexes)


def test_a_late_store_version_needs_no_recomputation(pipeline):
    settings, raw, held_back = pipeline
    shutil.copy(held_back, raw / "stores" / held_back.name)
    with db.connect(settings) as conn:
        before = conn.execute("select count(distinct store_id) from warehouse.fact_ventes").fetchone()[0]
    _load(settings, raw, FIRST_RUN + timedelta(days=1))
    with db.connect(settings) as conn:
        after = conn.execute("select count(distinct store_id) from warehouse.fact_ventes").fetchone()[0]
    assert after == before + 1  # facts from the change day on point to the new version
    refreshes = _views_step(settings)
    assert (refreshes["dates"] == 0).all()
    _assert_current_and_exact(settings, refreshes, "incremental")  # a stores file, no sale date
    with db.connect(settings) as conn:
        stores = marts.compute(conn, "sales_by_store_month", FIRST_RUN)
    june = stores[(stores["month"] == CHANGE_DAY) & (stores["store_code"] == demo.BANNER_CHANGE.store_code)]
    assert june["banner"].tolist() == [demo.BANNER_CHANGE.new_banner]


def test_a_new_day_refreshes_its_dates_only(pipeline):
    settings, raw, _ = pipeline
    next_day = FIRST_RUN + timedelta(days=1)
    demo.generate(raw, next_day, scale="small", seed=42, history_days=HISTORY_DAYS + 1)
    _load(settings, raw, next_day)
    with db.connect(settings) as conn, pytest.raises(aggregates.StaleAggregates):
        marts.compute(conn, "sales_by_store_month", next_day)  # loaded, not refreshed: the marts refuse
    refreshes = _views_step(settings).set_index("aggregate")
    assert refreshes.loc["agg_customer_store_day", "dates"] == 1
    merged = {a.name for a in aggregates.AGGREGATES if a.merges}  # the new day added into June
    assert "agg_customer_store_month" in merged  # first and last purchase days merge too (min, max)
    assert refreshes.loc[sorted(merged), "refresh"].eq("merged").all()
    assert refreshes.loc[sorted(merged), "dates"].eq(1).all()
    _assert_current_and_exact(settings, refreshes.reset_index(), "incremental", "merged")


def test_a_late_correction_replaces_its_rows_in_the_aggregates(pipeline):
    settings, raw, _ = pipeline
    corrected = raw / "sales" / "sales_2026-05-20.csv"
    with corrected.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0])
    rows = [r for r in rows if r["ticket_id"] != rows[0]["ticket_id"]]  # a ticket withdrawn
    rows[0] |= {"quantity": "-1", "amount": ""}                           # a sale becomes a return
    with corrected.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    _load(settings, raw, FIRST_RUN + timedelta(days=1))
    refreshes = _views_step(settings).set_index("aggregate")
    assert refreshes.loc["agg_baskets", "dates"] == 1
    _assert_current_and_exact(settings, refreshes.reset_index(), "incremental")


def test_a_changed_query_rebuilds_its_aggregate(pipeline):
    settings, _, _ = pipeline
    with db.connect(settings) as conn:
        conn.execute("update etl.aggregate_refreshes set definition_sha256 = 'an older query' "
                     "where aggregate = 'agg_baskets'")
        refreshes = aggregates.refresh(conn).set_index("aggregate")["refresh"]
    assert refreshes.to_dict() == {a.name: "rebuilt" if a.name == "agg_baskets" else "current"
                                   for a in aggregates.AGGREGATES}


def _assert_every_aggregate_current_and_equal_to_its_query(settings) -> None:
    with db.connect(settings) as conn:
        aggregates.check_current(conn)
        assert all(_differences(conn, aggregate) == 0 for aggregate in aggregates.AGGREGATES)


def _stale_since_the_last_file(settings) -> None:
    with db.connect(settings) as conn:
        conn.execute("update etl.aggregate_refreshes set last_file_id = last_file_id - 1")
        conn.commit()


def test_aggregates_refresh_two_at_a_time_each_after_those_it_reads(pipeline, monkeypatch):
    """On connections of their own, two at a time (the first two wait for each other), and an
    aggregate starts only once those it reads are committed."""
    settings, _, _ = pipeline
    _stale_since_the_last_file(settings)
    refresh_one, side_by_side = aggregates._refresh_one, threading.Barrier(2)
    started, ended, lock = [], set(), threading.Lock()

    def watched(conn, aggregate, *args):
        with lock:
            assert set(aggregate.depends_on()) <= ended, aggregate.name
            started.append(aggregate.name)
        if len(started) <= 2:
            side_by_side.wait(timeout=30)
        row = refresh_one(conn, aggregate, *args)
        with lock:
            ended.add(aggregate.name)
        return row

    monkeypatch.setattr(aggregates, "_refresh_one", watched)
    with db.connect(settings) as conn:
        refreshes = aggregates.refresh(conn, connect=partial(db.connection, settings), jobs=2)
        conn.commit()
    assert sorted(started) == sorted(a.name for a in aggregates.AGGREGATES)
    assert refreshes["aggregate"].tolist() == [a.name for a in aggregates.AGGREGATES]
    _assert_every_aggregate_current_and_equal_to_its_query(settings)


def test_a_failed_aggregate_stops_the_refresh_and_stays_stale(pipeline, monkeypatch):
    """What was refreshed beside the failed aggregate is kept; the failed one, those reading it
    and those not begun are stale, so the marts refuse them, until a refresh that succeeds.
    (Which others began depends on timing: those that finished first may free a place.)"""
    settings, _, _ = pipeline
    _stale_since_the_last_file(settings)
    refresh_one, started = aggregates._refresh_one, []

    def failing(conn, aggregate, *args):
        started.append(aggregate.name)
        if aggregate.name == "agg_baskets":
            raise RuntimeError("deliberate failure")
        return refresh_one(conn, aggregate, *args)

    monkeypatch.setattr(aggregates, "_refresh_one", failing)
    try:
        with db.connect(settings) as conn, pytest.raises(RuntimeError, match="deliberate failure"):
            aggregates.refresh(conn, connect=partial(db.connection, settings), jobs=2)
        assert {"agg_baskets", "agg_tickets_day"} <= set(started)  # the first two ready
        assert "agg_category_sets_day" not in started  # it reads the failed one
        with db.connect(settings) as conn:
            for aggregate in aggregates.AGGREGATES:
                if aggregate.name in started and aggregate.name != "agg_baskets":
                    aggregates.check_current(conn, (aggregate.name,))
                else:
                    with pytest.raises(aggregates.StaleAggregates, match=aggregate.name):
                        aggregates.check_current(conn, (aggregate.name,))
    finally:
        monkeypatch.undo()
        _views_step(settings)
    _assert_every_aggregate_current_and_equal_to_its_query(settings)


def test_an_aggregate_no_longer_declared_is_dropped(pipeline):
    # a database built by a version that still had a pair aggregate (one row per month and pair
    # of products of every basket): the next refresh drops its table and its refresh record
    settings, _, _ = pipeline
    with db.connect(settings) as conn:
        conn.execute("create table marts.agg_item_pairs_month as "
                     "select 1 as product_id, 2 as paired_product_id, 3 as baskets")
        conn.execute("insert into etl.aggregate_refreshes (aggregate, definition_sha256, last_file_id, refreshed_at) "
                     "values ('agg_item_pairs_month', 'an older query', 0, now())")
        conn.commit()
        refreshes = aggregates.refresh(conn)
        conn.commit()
        left = conn.execute("select to_regclass('marts.agg_item_pairs_month'), "
                            "(select count(*) from etl.aggregate_refreshes where aggregate = 'agg_item_pairs_month')"
                            ).fetchone()
    assert left == (None, 0)
    assert set(refreshes["aggregate"]) == {a.name for a in aggregates.AGGREGATES}
    assert refreshes["refresh"].eq("current").all()


REGION_MONTH_FROM_LINES = """
    select date_trunc('month', sale_date)::date as month, region_code,
           sum(quantity) as quantity, round(sum(amount), 2) as revenue,
           count(distinct ticket_id) filter (where not is_return) as tickets
    from marts.v_sales_lines
    where sale_date <= %(run_date)s::date
    group by 1, region_code
"""


def test_region_months_follow_a_store_that_moves_region_mid_month(pipeline):
    """A store version in another region from mid-May re-points the facts as the loader does:
    sales_by_region_month (store months of agg_sales_store_month, that one recounted from the
    lines) equals the regions' months counted from the lines, as of a past date too. Only the
    aggregates that bake the stores' regions in are stale, and a refresh rebuilds just them."""
    settings, _, _ = pipeline
    moved_on = date(2026, 5, 14)
    with db.connect(settings) as conn:
        store_id, code = conn.execute(
            "select store_id, store_code from warehouse.dim_magasin where is_current order by store_code limit 1"
        ).fetchone()
        conn.execute("update warehouse.dim_magasin set valid_to = %s, is_current = false where store_id = %s",
                     (moved_on, store_id))
        new_id = conn.execute(
            """
            insert into warehouse.dim_magasin
                (store_code, store_name, banner, city, postal_code, region_id, opened_on, valid_from, valid_to, is_current)
            select store_code, store_name, banner, city, postal_code,
                   (select min(region_id) from warehouse.dim_region r where r.region_id <> m.region_id),
                   opened_on, %s, null, true
            from warehouse.dim_magasin m where store_id = %s
            returning store_id
            """, (moved_on, store_id)).fetchone()[0]
        moved = conn.execute("update warehouse.fact_ventes set store_id = %s where store_id = %s and sale_date >= %s",
                             (new_id, store_id, moved_on)).rowcount
        assert moved > 0
        region_aggregates = tuple(a.name for a in aggregates.AGGREGATES if "store_region" in a.bakes)
        aggregates.check_current(conn, tuple(a.name for a in aggregates.AGGREGATES if a.name not in region_aggregates))
        with pytest.raises(aggregates.StaleAggregates, match="agg_product_region_month"):
            marts.compute(conn, "top_products_by_region", moved_on)  # it bakes the regions in
        refreshed = aggregates.refresh(conn).set_index("aggregate")["refresh"]
        assert {name for name, mode in refreshed.items() if mode == "rebuilt"} == set(region_aggregates)
        for aggregate in aggregates.AGGREGATES:
            assert _differences(conn, aggregate) == 0, aggregate.name
        for run_date in (FIRST_RUN, moved_on + timedelta(days=3)):
            got = marts.compute(conn, "sales_by_region_month", run_date)
            got = got[got["quantity"] != 0].sort_values(["month", "region_code"]).reset_index(drop=True)
            expected = read_sql(conn, REGION_MONTH_FROM_LINES, run_date=run_date).sort_values(
                ["month", "region_code"]).reset_index(drop=True)
            pd.testing.assert_frame_equal(got[list(expected.columns)], expected, obj=f"regions as of {run_date}")
            may = got[got["month"] == date(2026, 5, 1)]
            assert may["region_code"].nunique() >= 2, code
        conn.rollback()


def test_a_recategorised_product_rebuilds_the_aggregates_that_bake_categories_in(pipeline):
    """dim_produit is type 1: a snapshot that moves a product to another category changes the
    category aggregates' fingerprint; the refresh rebuilds them (and only them) and the category
    marts then count the product in its new category."""
    settings, _, _ = pipeline
    with db.connect(settings) as conn:
        product_id, category = conn.execute(
            "select product_id, category from warehouse.dim_produit "
            "where product_id in (select product_id from warehouse.fact_ventes) order by product_code limit 1"
        ).fetchone()
        other = conn.execute("select min(category) from warehouse.dim_produit where category <> %s",
                             (category,)).fetchone()[0]
        conn.execute("update warehouse.dim_produit set category = %s where product_id = %s", (other, product_id))
        with pytest.raises(aggregates.StaleAggregates, match="agg_category_day"):
            marts.compute(conn, "sales_by_category_month", FIRST_RUN)
        refreshed = aggregates.refresh(conn).set_index("aggregate")["refresh"]
        baking = {a.name for a in aggregates.AGGREGATES if "product_category" in a.bakes}
        assert {name for name, mode in refreshed.items() if mode == "rebuilt"} == baking
        for aggregate in aggregates.AGGREGATES:
            assert _differences(conn, aggregate) == 0, aggregate.name
        by_month = marts.compute(conn, "sales_by_category_month", FIRST_RUN)
        expected = read_sql(conn, CATEGORY_QUANTITY_FROM_LINES, run_date=FIRST_RUN)
        got = by_month[by_month["quantity"] != 0].groupby("category")["quantity"].sum()
        pd.testing.assert_series_equal(got, expected.set_index("category")["quantity"], check_names=False, check_dtype=False)
        conn.rollback()


CATEGORY_QUANTITY_FROM_LINES = """
    select category, sum(quantity) as quantity
    from marts.v_sales_lines
    where sale_date <= %(run_date)s::date
    group by category
    order by category collate "C"
"""


def test_build_order_comes_from_the_depends_on_headers(tmp_path, monkeypatch):
    """Each aggregate is built after those its SQL file declares it reads; reversing the
    declaration order changes nothing that matters, and an undeclared read is refused."""
    order = [a.name for a in aggregates.AGGREGATES]
    for aggregate in aggregates.AGGREGATES:
        for dependency in aggregate.depends_on():
            assert order.index(dependency) < order.index(aggregate.name), (dependency, aggregate.name)
    assert {a.name: a.depends_on() for a in aggregates.AGGREGATES}["agg_category_sets_day"] == ("agg_baskets",)
    reversed_order = [a.name for a in aggregates.build_order(tuple(reversed(aggregates.AGGREGATES)))]
    for aggregate in aggregates.AGGREGATES:
        for dependency in aggregate.depends_on():
            assert reversed_order.index(dependency) < reversed_order.index(aggregate.name)
    (tmp_path / "agg_a.sql").write_text("select * from marts.agg_b\n", encoding="utf-8")
    (tmp_path / "agg_b.sql").write_text("select 1\n", encoding="utf-8")
    monkeypatch.setattr(aggregates, "AGGREGATES_SQL_DIR", tmp_path)
    pair = (aggregates.Aggregate("agg_a", "sales", "sale_date"), aggregates.Aggregate("agg_b", "sales", "sale_date"))
    with pytest.raises(ValueError, match="reads agg_b without a '-- depends on:' header"):
        aggregates.build_order(pair)
    (tmp_path / "agg_a.sql").write_text("-- depends on: agg_b\nselect * from marts.agg_b\n", encoding="utf-8")
    assert [a.name for a in aggregates.build_order(pair)] == ["agg_b", "agg_a"]
