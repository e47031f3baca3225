"""The demo's wholesale profile: wide order lines, a large skewed catalogue, returns and
anonymous tickets, deterministic for a seed, at any scale (file-level checks, no database).

The small version is tested here. At ``small`` (about 1,900 tickets over two years) the
basket-size tail reaches several hundred lines; tickets of 1,000 lines and more appear at
the benchmark's size (``medium`` over a year, about 0.5 M lines and 18,000 tickets), which
``test_the_size_distribution_has_the_documented_mean_and_tail`` checks on the distribution
itself, without writing half a million lines.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from etl_helpers.contract import MAX_POINTS, MAX_QUANTITY, list_raw_files, raw_path
from etl_helpers.settings import Settings
from etl_helpers.sources import SourceOptions, demo, demo_folder_name, prepare_raw

RUN_DATE = date(2026, 11, 30)
START = date(2024, 12, 1)
WHOLESALE = demo.PROFILES["wholesale"]


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def wholesale(tmp_path_factory) -> dict:
    """The small wholesale demo over the default two-year window, generated once."""
    raw = tmp_path_factory.mktemp("wholesale") / "raw"
    summary = demo.generate(raw, RUN_DATE, scale="small", seed=42, profile="wholesale")
    sales = pd.concat([_read(p) for p in sorted((raw / "sales").glob("sales_*.csv"))], ignore_index=True)
    sales["quantity"] = sales["quantity"].astype(int)
    sales["amount"] = sales["amount"].astype(float)
    loyalty = pd.concat([_read(p) for p in sorted((raw / "loyalty").glob("loyalty_*.csv"))], ignore_index=True)
    return {"raw": raw, "summary": summary, "sales": sales, "loyalty": loyalty,
            "products": _read(raw_path(raw, "products", START)),
            "customers": _read(raw_path(raw, "customers", START))}


@pytest.fixture(scope="module")
def lines_per_ticket(wholesale) -> pd.Series:
    return wholesale["sales"].groupby("ticket_id").size()


def test_the_folder_is_a_contract_folder(wholesale):
    raw, summary = wholesale["raw"], wholesale["summary"]
    assert summary["profile"] == "wholesale"
    assert summary["files_written"] == 4 + 1 + 2 * 730 and summary["files_skipped"] == 0
    assert len(list_raw_files(raw, RUN_DATE)) == summary["files_written"]
    assert summary["rows"]["sales"] == len(wholesale["sales"])


def test_tickets_average_about_25_lines_with_a_heavy_tail(lines_per_ticket):
    assert 20 <= lines_per_ticket.mean() <= 30
    assert lines_per_ticket.median() <= 15                  # most orders are short ...
    assert lines_per_ticket.max() >= 300                    # ... a few are very wide
    assert (lines_per_ticket >= 100).mean() > 0.02
    assert lines_per_ticket.min() >= 1


def test_one_line_per_product_and_line_numbers_without_gaps(wholesale):
    per_ticket = wholesale["sales"].groupby("ticket_id").agg(
        n=("line_number", "size"), top=("line_number", lambda s: s.astype(int).max()),
        products=("product_code", "nunique"))
    assert (per_ticket.n == per_ticket.top).all()
    assert (per_ticket.products == per_ticket.n).all()


def test_a_few_thousand_products_with_skewed_popularity(wholesale):
    products, sales = wholesale["products"], wholesale["sales"]
    assert len(products) == WHOLESALE.min_products and products.product_code.is_unique
    assert set(sales.product_code) <= set(products.product_code)
    counts = sales.product_code.value_counts()
    assert len(counts) > 0.9 * len(products)                 # the long tail does sell
    top_fifth = counts.iloc[: len(products) // 5].sum() / counts.sum()
    assert 0.5 < top_fifth < 0.8                             # skewed ...
    assert counts.iloc[0] / counts.sum() < 0.02              # ... but no product in every basket


def test_returns_and_anonymous_tickets_are_present(wholesale):
    sales = wholesale["sales"]
    returns = sales[sales.quantity < 0]
    assert 0.01 < len(returns) / len(sales) < 0.03
    assert (returns.amount < 0).all()
    tickets = sales.groupby("ticket_id").customer_code.first()
    assert 0.1 < (tickets == "").mean() < 0.3


def test_values_stay_within_the_contract(wholesale):
    sales, loyalty = wholesale["sales"], wholesale["loyalty"]
    assert (sales.quantity != 0).all() and (sales.quantity.abs() <= MAX_QUANTITY).all()
    assert sales.quantity.max() > 6                           # wholesale quantities: cases, pallets
    assert loyalty.points_earned.astype(int).between(0, MAX_POINTS).all()
    carded = set(wholesale["customers"].customer_code[wholesale["customers"].has_loyalty_card == "true"])
    assert set(loyalty.customer_code) <= carded


def test_the_size_distribution_has_the_documented_mean_and_tail():
    p = demo._basket_size_p(WHOLESALE)
    sizes = np.arange(1, WHOLESALE.basket_max + 1)
    assert len(p) == WHOLESALE.basket_max and np.isclose(p.sum(), 1.0) and (p >= 0).all()
    assert 24 <= float(np.sum(sizes * p)) <= 26.5
    assert 1e-4 < p[999:].sum() < 5e-4                        # P(size >= 1000)
    # the benchmark's size, ~18,000 tickets: several of them reach 1,000 lines
    drawn = 1 + np.random.default_rng(42).choice(WHOLESALE.basket_max, size=18_000, p=p)
    assert drawn.max() >= 1_000 and 22 <= drawn.mean() <= 28


def test_every_basket_gets_exactly_its_size_in_distinct_products():
    ref = demo._reference("small", 42, "wholesale")
    sizes = np.array([1, 2, 25, 400, WHOLESALE.basket_max, 3])
    ticket, product = demo._distinct_popular_products(ref, np.random.default_rng(7), sizes)
    assert np.bincount(ticket, minlength=len(sizes)).tolist() == sizes.tolist()
    pairs = pd.DataFrame({"ticket": ticket, "product": product})
    assert not pairs.duplicated().any()
    assert set(product) <= set(ref.pop_index)                  # planted products come as bundles only


def test_same_seed_gives_byte_identical_files_whatever_the_run_date(wholesale, tmp_path):
    raw = tmp_path / "raw"
    demo.generate(raw, date(2026, 6, 3), history_days=5, profile="wholesale")
    for entity in ("sales", "loyalty"):
        for path in (raw / entity).iterdir():
            assert path.read_bytes() == (wholesale["raw"] / entity / path.name).read_bytes(), path.name
    start = date(2026, 5, 30)
    for entity in ("regions", "products", "customers"):
        assert raw_path(raw, entity, start).read_bytes() == raw_path(wholesale["raw"], entity, START).read_bytes()


def test_the_profile_changes_the_data_and_a_bad_profile_writes_nothing(wholesale, tmp_path):
    demo.generate(tmp_path / "retail", RUN_DATE, history_days=1)
    assert (raw_path(tmp_path / "retail", "sales", RUN_DATE).read_bytes()
            != raw_path(wholesale["raw"], "sales", RUN_DATE).read_bytes())
    with pytest.raises(ValueError, match="profile"):
        demo.generate(tmp_path / "bad", RUN_DATE, history_days=1, profile="bulk")
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("scale", ["medium", "large"])
def test_every_scale_takes_the_profile(tmp_path, scale):
    summary = demo.generate(tmp_path, RUN_DATE - timedelta(days=1), scale=scale, history_days=1,
                            profile="wholesale")
    sales = _read(raw_path(tmp_path, "sales", RUN_DATE - timedelta(days=1)))
    products = _read(raw_path(tmp_path, "products", RUN_DATE - timedelta(days=1)))
    assert summary["rows"]["sales"] == len(sales) > 0
    assert len(products) == max(demo.SCALES[scale].products, WHOLESALE.min_products)
    assert sales.groupby("ticket_id").size().mean() > 10


def test_prepare_raw_keeps_each_profile_in_its_own_folder(wholesale, tmp_path):
    retail = SourceOptions(scale="small", seed=42)
    wide = SourceOptions(scale="small", seed=42, profile="wholesale")
    assert demo_folder_name(retail) == "small-seed42"          # existing folders keep their name
    assert demo_folder_name(wide) == "small-seed42-wholesale"
    settings = Settings(root=tmp_path, workdir=tmp_path)
    expected = tmp_path / "data" / "raw" / "demo" / "small-seed42-wholesale"
    shutil.copytree(wholesale["raw"], expected)                # two years already there
    next_day = RUN_DATE + timedelta(days=1)
    assert prepare_raw("demo", settings, next_day, wide) == expected
    alone = tmp_path / "alone"                                 # the new day, generated directly
    demo.generate(alone, next_day, history_days=1, profile="wholesale")
    for entity in ("sales", "loyalty"):
        assert raw_path(expected, entity, next_day).read_bytes() == raw_path(alone, entity, next_day).read_bytes()


@pytest.mark.parametrize("other", [{"profile": "wholesale"}, {"seed": 7}, {"scale": "medium"}])
def test_a_folder_of_other_demo_data_is_refused_before_any_write(tmp_path, other):
    demo.generate(tmp_path, date(2026, 1, 10), history_days=2)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(ValueError, match="holds other demo data"):
        demo.generate(tmp_path, date(2026, 1, 11), history_days=3, **other)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
