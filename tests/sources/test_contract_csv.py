"""The one renderer of contract CSV files from row records (used by the demo and Superstore)."""

from __future__ import annotations

import csv
import io

import pytest

from etl_helpers.contract import ENTITIES
from etl_helpers.sources.contract_csv import render_csv


def test_header_is_the_contract_in_order_and_fields_are_quoted_only_when_needed():
    row = {"product_code": "P00001", "product_name": "Eau minérale Evian 1,5 L", "category": "Boissons",
           "subcategory": "Eaux", "brand": 'Say "cheese"', "list_price": 129}
    data = render_csv("products", [row])
    assert data.decode("utf-8") == (
        "product_code,product_name,category,subcategory,brand,list_price\n"
        'P00001,"Eau minérale Evian 1,5 L",Boissons,Eaux,"Say ""cheese""",129\n')
    assert not data.startswith(b"\xef\xbb\xbf")                  # no BOM
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert parsed[0] == ENTITIES["products"].column_names
    assert parsed[1][1] == "Eau minérale Evian 1,5 L" and parsed[1][4] == 'Say "cheese"'


def test_no_rows_gives_the_header_only():
    assert render_csv("regions", []) == b"region_code,region_name,population\n"


def test_a_row_missing_a_column_is_an_error_not_an_empty_value():
    with pytest.raises(KeyError, match="population"):
        render_csv("regions", [{"region_code": "IDF", "region_name": "Île-de-France"}])
