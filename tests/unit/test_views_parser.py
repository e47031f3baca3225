import pytest

from etl_helpers.views import ViewFileError, load_views, parse_views


def test_the_project_views_parse_and_are_named():
    names = [b.name for b in load_views()]
    assert {"v_sales_lines", "v_customer_orders", "v_loyalty_events", "v_stores"} <= set(names)
    assert all("create or replace view marts." + b.name in b.sql for b in load_views())


@pytest.mark.parametrize("text, message", [
    ("-- name: v_a\n-- only a comment\n", "has no SQL"),
    ("-- name:\ncreate view marts.x as select 1;\n", "invalid or missing view name"),
    ("-- name: v_a\ncreate view marts.v_a as select 1;\n-- name: v_a\ncreate view marts.v_a as select 2;\n",
     "defined twice"),
    ("create view marts.v_a as select 1;\n", "before the first"),
    ("-- name: v_a\ncreate view marts.v_b as select 1;\n", "does not create a view of that name"),
    ("-- just a comment\n", "no '-- name:' blocks"),
])
def test_malformed_blocks_are_errors_with_a_line(text, message):
    with pytest.raises(ViewFileError, match=message):
        parse_views(text)


def test_blocks_keep_their_order_and_lines():
    blocks = parse_views("-- header\n\n-- name: v_a\ncreate view marts.v_a as select 1;\n"
                         "-- name: v_b\ncreate view marts.v_b as select 2;\n")
    assert [(b.name, b.line) for b in blocks] == [("v_a", 3), ("v_b", 5)]
