"""Typing raw text without a database: what every value goes through before any check.

A column of plain codes and numbers skips the trimming (one scan of its bytes says it has no
whitespace); these tests hold the values that must still be trimmed, emptied or refused.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from etl_helpers.contract import ENTITIES, RawFormat
from etl_helpers.loading.values import type_chunk

PRODUCTS = ENTITIES["products"]


def typed_products(rows: list[tuple[str, ...]], padding: list[tuple[str, ...]] = ()) -> list[dict]:
    """``rows`` (product_code, product_name, category, list_price) typed; ``padding`` rows
    come first and are sliced off, so the arrays typed are slices of bigger ones."""
    padding, offset = list(padding), len(padding)
    columns = list(zip(*(padding + rows)))
    chunk = pa.table(
        {
            "line_no": pa.array(range(2, 2 + len(padding) + len(rows)), pa.int64()),
            "file_id": pa.array([1] * (len(padding) + len(rows)), pa.int64()),
            **{
                name: pa.array(values, pa.string())
                for name, values in zip(("product_code", "product_name", "category", "list_price"), columns)
            },
        }
    ).slice(offset)
    typed = type_chunk(chunk, PRODUCTS, RawFormat(), date(2026, 11, 30), {1: Path("products_2026-11-30.csv")})
    return typed.select(["product_code", "product_name", "list_price", "problem"]).to_pylist()


def test_values_are_trimmed_of_ascii_and_unicode_whitespace_and_blank_ones_are_missing():
    rows = typed_products(
        [
            (" P1", "Lait\t", "Crèmerie", "1.20 "),
            ("\u00a0P2\u2003", "Pain", "Boulangerie", "  "),  # no-break and em spaces: Unicode whitespace
            ("P3", "Beurre", "Crèmerie", ""),
        ]
    )
    assert rows == [
        {"product_code": "P1", "product_name": "Lait", "list_price": Decimal("1.20"), "problem": None},
        {"product_code": "P2", "product_name": "Pain", "list_price": None, "problem": None},
        {"product_code": "P3", "product_name": "Beurre", "list_price": None, "problem": None},
    ]


def test_a_blank_required_value_is_missing_in_a_column_of_plain_ascii():
    rows = typed_products([("P1", "Lait", "Crèmerie", "1.20"), ("", "Pain", "Boulangerie", "0.90")])
    assert [row["problem"] for row in rows] == [None, "missing product_code"]


def test_a_number_written_with_an_exponent_is_refused_in_either_case():
    rows = typed_products(
        [("P1", "Lait", "Crèmerie", "1.5"), ("P2", "Pain", "Boulangerie", "1e1"), ("P3", "Beurre", "Crèmerie", "2E0")]
    )
    assert [row["problem"] for row in rows] == [None, "invalid list_price", "invalid list_price"]


def test_a_slice_is_typed_by_its_own_values_not_by_what_its_parent_holds():
    padding = [(" PAD ", "pad\u00a0", "pad", "1e0"), ("", "pad", "pad", " ")]
    rows = typed_products([("P1", "Lait", "Crèmerie", "1.5")], padding)
    assert rows == [{"product_code": "P1", "product_name": "Lait", "list_price": Decimal("1.5"), "problem": None}]
    rows = typed_products([(" P1", "Lait", "Crèmerie", "2e0")], padding)
    assert rows == [{"product_code": "P1", "product_name": "Lait", "list_price": None, "problem": "invalid list_price"}]
