"""Association rules: exact thresholds, hand-worked values on a tiny basket set, the same
counts through PostgreSQL, the demo's planted affinities on top of product_rules, wide
wholesale baskets counted exactly while only pairs of frequent items are ever counted, and the
numpy count equal to the plain reference count on random, weighted and messy baskets."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from itertools import combinations
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from etl_helpers import db, marts, warehouse
from etl_helpers.marts import rules
from etl_helpers.sources import SourceOptions, demo_folder_name

# --------------------------------------------------------------------------- the hand-made set

# 50 baskets, worked out by hand:
#   items   pasta 25, sauce 20, cheese 15, bread 17, wine 7
#   pairs   pasta+sauce 14, pasta+cheese 13, sauce+cheese 10, bread+wine 7 (every other pair 0)
#   triple  pasta+sauce+cheese 10
HAND_BASKETS: list[frozenset[str]] = (
    [frozenset({"pasta", "sauce", "cheese"})] * 10
    + [frozenset({"pasta", "sauce"})] * 4
    + [frozenset({"pasta", "cheese"})] * 3
    + [frozenset({"pasta"})] * 8
    + [frozenset({"sauce"})] * 6
    + [frozenset({"cheese"})] * 2
    + [frozenset({"bread", "wine"})] * 7
    + [frozenset({"bread"})] * 10
)
# Thresholds chosen where float arithmetic lies: 0.14 * 50 == 7.000000000000001 and
# 0.56 * 25 == 14.000000000000002, while exactly they are 7 and 14.
MIN_SUPPORT, MIN_CONFIDENCE = 0.14, 0.56

# antecedent, consequent -> (count, antecedent count, consequent count, lift), all by hand
HAND_RULES = {
    ("bread", "wine"): None,                         # 7/17 < 0.56
    ("wine", "bread"): (7, 7, 17, Fraction(50, 17)),  # confidence 1
    ("pasta", "sauce"): (14, 25, 20, Fraction(7, 5)),  # confidence 14/25 = 0.56: EXACTLY the threshold
    ("sauce", "pasta"): (14, 20, 25, Fraction(7, 5)),
    ("pasta", "cheese"): None,                        # 13/25 = 0.52: just below
    ("cheese", "pasta"): (13, 15, 25, Fraction(26, 15)),
    ("sauce", "cheese"): None,                        # 10/20 = 0.5
    ("cheese", "sauce"): (10, 15, 20, Fraction(5, 3)),
    ("cheese + pasta", "sauce"): (10, 13, 20, Fraction(25, 13)),
    ("pasta + sauce", "cheese"): (10, 14, 15, Fraction(50, 21)),
    ("cheese + sauce", "pasta"): (10, 10, 25, Fraction(2)),
}
HAND_ORDER = [  # by lift, then confidence (sauce -> pasta 0.7 before pasta -> sauce 0.56)
    ("wine", "bread"), ("pasta + sauce", "cheese"), ("cheese + sauce", "pasta"), ("cheese + pasta", "sauce"),
    ("cheese", "pasta"), ("cheese", "sauce"), ("sauce", "pasta"), ("pasta", "sauce"),
]


def _as_dict(frame: pd.DataFrame) -> dict[tuple[str, str], tuple[int, int, int, float]]:
    return {(r.antecedent, r.consequent): (r.count, r.antecedent_count, r.consequent_count, r.lift)
            for r in frame.itertuples()}


# --------------------------------------------------------------------------- exact thresholds


def test_thresholds_are_exact_fractions_of_their_decimal_spelling():
    assert rules.exact(0.1) == Fraction(1, 10)
    assert rules.exact("0.56") == rules.exact(0.56) == rules.exact(Decimal("0.56")) == Fraction(14, 25)
    assert rules.min_count(0.14, 50) == 7          # float: ceil(7.000000000000001) == 8
    assert rules.min_count(0.07, 100) == 7
    assert rules.min_count(0.141, 50) == 8         # 7.05 -> 8
    assert rules.min_count(0, 50) == 1             # an itemset must occur at least once
    assert rules.passes_confidence(14, 25, 0.56)   # float: 14 >= 14.000000000000002 is False
    assert not rules.passes_confidence(13, 25, 0.56)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError):
            rules.exact(bad)
    with pytest.raises(ValueError):
        rules.association_rules({}, 10, max_len=1)


def test_apriori_candidates_join_and_prune():
    pairs = [("a", "b"), ("a", "c"), ("b", "c"), ("b", "d")]
    # (a, b, d) is joined from (a, b)... no: (a, b) and (a, c) give (a, b, c); (b, c) + (b, d) give
    # (b, c, d), pruned because (c, d) is not frequent.
    assert rules.apriori_candidates(pairs) == [("a", "b", "c")]
    assert rules.apriori_candidates([("a",), ("b",), ("c",)]) == [("a", "b"), ("a", "c"), ("b", "c")]


# --------------------------------------------------------------------------- pure Python


def test_counts_of_the_hand_made_baskets():
    counts = rules.count_itemsets(HAND_BASKETS, MIN_SUPPORT, max_len=3)
    assert counts.n_baskets == 50 and counts.min_count == 7
    assert counts.counts == {
        ("bread",): 17, ("cheese",): 15, ("pasta",): 25, ("sauce",): 20, ("wine",): 7,
        ("bread", "wine"): 7, ("cheese", "pasta"): 13, ("cheese", "sauce"): 10, ("pasta", "sauce"): 14,
        ("cheese", "pasta", "sauce"): 10,
    }


def test_rules_of_the_hand_made_baskets_match_the_hand_worked_values():
    counts = rules.count_itemsets(HAND_BASKETS, MIN_SUPPORT, max_len=3)
    result = rules.association_rules(counts, min_support=MIN_SUPPORT, min_confidence=MIN_CONFIDENCE, max_len=3)
    assert list(result.columns) == rules.RULE_COLUMNS
    found = _as_dict(result)
    expected = {k: v for k, v in HAND_RULES.items() if v is not None}
    assert set(found) == set(expected)
    for key, (count, antecedent_count, consequent_count, lift) in expected.items():
        row = result[(result.antecedent == key[0]) & (result.consequent == key[1])].iloc[0]
        assert (row["count"], row["antecedent_count"], row["consequent_count"]) == (
            count, antecedent_count, consequent_count), key
        assert row["support"] == float(Fraction(count, 50))
        assert row["confidence"] == float(Fraction(count, antecedent_count))
        assert row["lift"] == float(lift)
    # the confidence exactly at the threshold passes, the one just below does not
    assert ("pasta", "sauce") in found and found[("pasta", "sauce")][:2] == (14, 25)
    assert ("pasta", "cheese") not in found
    assert list(zip(result.antecedent, result.consequent)) == HAND_ORDER
    assert result["rank"].tolist() == list(range(1, 9))


def test_support_just_below_the_threshold_drops_the_itemset():
    # min_support 0.16 -> 8 baskets: wine (7) and bread+wine (7) are no longer frequent
    counts = rules.count_itemsets(HAND_BASKETS, 0.16, max_len=3)
    assert ("wine",) not in counts.counts and ("bread", "wine") not in counts.counts
    result = rules.association_rules(counts, min_support=0.16, min_confidence=MIN_CONFIDENCE)
    assert ("wine", "bread") not in _as_dict(result)
    # the same counts read with the old threshold keep it: association_rules filters by support too
    full = rules.count_itemsets(HAND_BASKETS, MIN_SUPPORT, max_len=3)
    assert ("wine", "bread") not in _as_dict(rules.association_rules(full, min_support=0.16,
                                                                      min_confidence=MIN_CONFIDENCE))


def test_max_len_two_keeps_pair_rules_only():
    counts = rules.count_itemsets(HAND_BASKETS, MIN_SUPPORT, max_len=2)
    assert max(len(k) for k in counts.counts) == 2
    result = rules.association_rules(counts, min_support=MIN_SUPPORT, min_confidence=MIN_CONFIDENCE, max_len=2)
    assert set(result.antecedent_size) == {1} and len(result) == 5


def test_rules_from_hand_written_counts_without_baskets():
    # the core only needs counts: {milk} 4, {tea} 2, {milk, tea} 2 in 8 baskets
    counts = {("milk",): 4, ("tea",): 2, ("milk", "tea"): 2}
    result = rules.association_rules(counts, 8, min_support=0.25, min_confidence=0.5)
    assert _as_dict(result) == {("milk", "tea"): (2, 4, 2, 2.0), ("tea", "milk"): (2, 2, 4, 2.0)}
    with pytest.raises(ValueError, match="lack a subset"):
        rules.association_rules({("milk", "tea"): 2}, 8, min_support=0.25, min_confidence=0.5)
    assert rules.association_rules({}, 8).empty


def test_rules_stay_exact_at_counts_beyond_a_floats_precision():
    """Thresholds compared in integers, and support, confidence and lift the correctly rounded
    quotients of their exact fractions, where counts pass 2**53 (no float product is exact there)."""
    n = 10**17 + 3
    antecedent = 25 * 10**16 + 1
    at_threshold = -(-56 * antecedent // 100)  # ceil(0.56 * antecedent): confidence exactly reaches 0.56
    for count, passes in ((at_threshold, True), (at_threshold - 1, False)):
        counts = {("a",): antecedent, ("b",): antecedent + 7, ("a", "b"): count}
        result = rules.association_rules(counts, n, min_support=0.001, min_confidence=0.56, max_len=2)
        row = result[result.antecedent == "a"]
        assert len(row) == passes
        if passes:
            assert row.iloc[0]["support"] == float(Fraction(count, n))
            assert row.iloc[0]["confidence"] == float(Fraction(count, antecedent))
            assert row.iloc[0]["lift"] == float(Fraction(count * n, antecedent * (antecedent + 7)))


def test_max_len_four_counts_quadruples():
    baskets = [frozenset("abcd")] * 3 + [frozenset("abc")] * 2 + [frozenset("d")] * 5
    counts = rules.count_itemsets(baskets, 0.3, max_len=4)
    assert counts.counts[("a", "b", "c", "d")] == 3
    result = rules.association_rules(counts, min_support=0.3, min_confidence=0.5, max_len=4)
    row = result[(result.antecedent == "a + b + c") & (result.consequent == "d")].iloc[0]
    assert (row["count"], row["antecedent_count"], row["confidence"]) == (3, 5, 0.6)
    assert row["lift"] == float(Fraction(3 * 10, 5 * 8))


def test_whole_months_of_a_window_and_its_edge_days():
    # a year ending on a month's last day is twelve whole months, no edge day
    assert marts.whole_months(date(2025, 12, 1), date(2026, 11, 30)) == (date(2025, 12, 1), date(2026, 12, 1))
    # mid-month at both ends: the months between, edges before and after
    assert marts.whole_months(date(2025, 11, 16), date(2026, 11, 15)) == (date(2025, 12, 1), date(2026, 11, 1))
    assert marts.whole_months(date(2024, 2, 1), date(2024, 2, 29)) == (date(2024, 2, 1), date(2024, 3, 1))
    # no whole month: an empty range after the window, every day is an edge day
    assert marts.whole_months(date(2026, 4, 5), date(2026, 5, 14)) == (date(2026, 5, 15), date(2026, 5, 15))
    assert marts.whole_months(date(2026, 5, 2), date(2026, 5, 30)) == (date(2026, 5, 31), date(2026, 5, 31))


# --------------------------------------------------------------------------- the same in PostgreSQL

HAND_RUN_DATE = date(2026, 3, 31)
DEMO_RUN_DATE = date(2026, 11, 30)  # the demo_warehouse fixture's run date
HAND_PRODUCTS = {  # code -> (name, category)
    "PASTA": ("Pasta", "Grocery"), "SAUCE": ("Sauce", "Grocery"), "CHEESE": ("Cheese", "Dairy"),
    "BREAD": ("Bread", "Bakery"), "WINE": ("Wine", "Drinks"),
}


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_hand_raw_folder(raw: Path) -> None:
    """The 50 hand-made baskets as tickets over March 2026, plus noise that must not count:
    a return line, a basket after the run date and one before the window."""
    start = HAND_RUN_DATE - timedelta(days=29)
    _write_csv(raw / "regions" / f"regions_{start - timedelta(days=400)}.csv",
               ["region_code", "region_name", "population"], [{"region_code": "R1", "region_name": "One",
                                                               "population": 1000}])
    _write_csv(raw / "stores" / f"stores_{start - timedelta(days=400)}.csv",
               ["store_code", "store_name", "banner", "city", "region_code"],
               [{"store_code": "S1", "store_name": "Store 1", "banner": "super", "city": "Lyon",
                 "region_code": "R1"}])
    _write_csv(raw / "products" / f"products_{start - timedelta(days=400)}.csv",
               ["product_code", "product_name", "category"],
               [{"product_code": c, "product_name": n, "category": k} for c, (n, k) in HAND_PRODUCTS.items()])
    _write_csv(raw / "customers" / f"customers_{start - timedelta(days=400)}.csv",
               ["customer_code", "has_loyalty_card"], [{"customer_code": "C1", "has_loyalty_card": "true"}])
    columns = ["ticket_id", "line_number", "sold_at", "store_code", "customer_code", "product_code",
               "quantity", "unit_price"]
    by_day: dict[date, list[dict]] = {}

    def ticket(day: date, number: int, items: list[str], customer: str = "", returns: tuple[str, ...] = ()):
        lines = by_day.setdefault(day, [])
        for n, item in enumerate([*sorted(items), *returns], start=1):
            lines.append({"ticket_id": f"T{day:%Y%m%d}-{number:03d}", "line_number": n,
                          "sold_at": f"{day}T10:{number % 60:02d}:00+01:00", "store_code": "S1",
                          "customer_code": customer, "product_code": item.upper(),
                          "quantity": -1 if n > len(items) else 1, "unit_price": "2.00"})

    for k, basket in enumerate(HAND_BASKETS):
        day = start + timedelta(days=k % 30)
        # every 5th basket belongs to the carded customer; one bread basket also returns a cheese
        returns = ("cheese",) if k == len(HAND_BASKETS) - 1 else ()
        ticket(day, k + 1, sorted(basket), "C1" if k % 5 == 0 else "", returns)
    ticket(HAND_RUN_DATE - timedelta(days=400), 1, ["pasta", "sauce", "cheese"])   # before the window
    ticket(HAND_RUN_DATE + timedelta(days=1), 1, ["pasta", "sauce", "cheese"])      # after the run date
    for day, lines in by_day.items():
        _write_csv(raw / "sales" / f"sales_{day}.csv", columns, lines)


@pytest.fixture
def hand_warehouse(settings, tmp_path):
    raw = tmp_path / "hand-raw"
    write_hand_raw_folder(raw)
    warehouse.build_warehouse(settings, HAND_RUN_DATE + timedelta(days=1), "canonical", SourceOptions(raw=raw))
    return settings


def test_sql_counts_equal_the_hand_worked_counts(hand_warehouse):
    with db.connect(hand_warehouse, autocommit=True) as conn:
        counts = rules.count_basket_itemsets(conn, HAND_RUN_DATE, level="product", window_days=365,
                                             min_support=MIN_SUPPORT, max_len=3)
        result = rules.product_rules(conn, HAND_RUN_DATE, window_days=365, min_support=MIN_SUPPORT,
                                     min_confidence=MIN_CONFIDENCE, max_len=3)
        # non-autocommit connection with an open transaction: temp tables are cleaned anyway
        with db.connect(hand_warehouse) as plain:
            plain.execute("select 1")
            again = rules.count_basket_itemsets(plain, HAND_RUN_DATE, min_support=MIN_SUPPORT)
            again_twice = rules.count_basket_itemsets(plain, HAND_RUN_DATE, min_support=MIN_SUPPORT)
    upper = {tuple(i.upper() for i in k): v for k, v in
             rules.count_itemsets(HAND_BASKETS, MIN_SUPPORT, max_len=3).counts.items()}
    assert counts.n_baskets == 50 and counts.min_count == 7
    assert counts.counts == upper
    # the candidates counted per size, as the pure count has them: 5 items, all frequent (wine
    # exactly 7); the 4 pairs that occur of the 10 possible; the one triple whose pairs are frequent
    assert counts.candidates == {1: 5, 2: 4, 3: 1}
    assert counts.candidates == rules.count_itemsets(HAND_BASKETS, MIN_SUPPORT, max_len=3).candidates
    assert again.counts == again_twice.counts == upper
    found = _as_dict(result)
    expected = {(a.upper(), c.upper()): v for (a, c), v in HAND_RULES.items() if v is not None}
    assert {k: v[:3] for k, v in found.items()} == {k: v[:3] for k, v in expected.items()}
    assert all(found[k][3] == float(v[3]) for k, v in expected.items())
    assert result.loc[result.antecedent == "PASTA", "antecedent_names"].tolist() == ["Pasta"]
    assert result.loc[result.consequent == "CHEESE", "consequent_name"].unique().tolist() == ["Cheese"]


def test_sql_window_and_levels(hand_warehouse):
    with db.connect(hand_warehouse, autocommit=True) as conn:
        short = rules.count_basket_itemsets(conn, HAND_RUN_DATE, window_days=10, min_support=0.01)
        later = rules.count_basket_itemsets(conn, HAND_RUN_DATE + timedelta(days=1), window_days=2,
                                            min_support=0.01)
        categories = rules.category_rules(conn, HAND_RUN_DATE, category_min_support=0.1, category_min_confidence=0.1)
    expected_short = sum(1 for k in range(50) if k % 30 >= 20)   # baskets on the last 10 days
    assert short.n_baskets == expected_short
    assert later.n_baskets == sum(1 for k in range(50) if k % 30 == 29) + 1
    # categories: pasta and sauce are both Grocery, so a basket holds Grocery once
    pairs = {(r.antecedent, r.consequent): r.count for r in categories.itertuples()}
    assert pairs[("Dairy", "Grocery")] == 10 + 3 + 0  # cheese with pasta or sauce
    assert pairs[("Drinks", "Bakery")] == 7


# --------------------------------------------------------------------------- the demo's planted affinities


def _raw_baskets(raw_dir: Path, run_date: date, level: str, window_days: int = 365) -> list[frozenset[str]]:
    frames = []
    for path in sorted((raw_dir / "sales").glob("sales_*.csv")):
        day = date.fromisoformat(path.stem.split("_")[1])
        if run_date - timedelta(days=window_days) < day <= run_date:
            frame = pd.read_csv(path, dtype=str, usecols=["ticket_id", "product_code", "quantity"])
            frame["sale_date"] = day
            frames.append(frame)
    lines = pd.concat(frames)
    lines = lines[lines["quantity"].astype(int) > 0]
    if level == "category":
        products = pd.read_csv(sorted((raw_dir / "products").glob("*.csv"))[-1], dtype=str)
        lines["product_code"] = lines["product_code"].map(products.set_index("product_code")["category"])
    return [frozenset(group) for _, group in lines.groupby(["sale_date", "ticket_id"])["product_code"]]


@pytest.mark.parametrize("level,min_support,min_confidence", [("product", 0.01, 0.2), ("category", 0.05, 0.3)])
def test_demo_rules_match_a_count_from_the_raw_files(demo_warehouse, level, min_support, min_confidence):
    run_date = DEMO_RUN_DATE
    baskets = _raw_baskets(demo_warehouse.raw_dir, run_date, level)
    expected = rules.count_itemsets(baskets, min_support, max_len=3)
    with db.connect(demo_warehouse, autocommit=True) as conn:
        counts = rules.count_basket_itemsets(conn, run_date, level=level, min_support=min_support, max_len=3)
        table = rules.basket_rules(conn, run_date, level=level, min_support=min_support,
                                   min_confidence=min_confidence, max_len=3)
    assert counts.n_baskets == expected.n_baskets == len(baskets)
    assert counts.counts == expected.counts
    assert any(len(k) == 3 for k in counts.counts)
    want = rules.association_rules(expected, min_support=min_support, min_confidence=min_confidence, max_len=3)
    pd.testing.assert_frame_equal(table, want)
    # spot-check a few rules against plain set counting
    for row in table.head(5).itertuples():
        lhs = frozenset(row.antecedent.split(rules.ITEM_SEPARATOR))
        both = sum(1 for b in baskets if lhs <= b and row.consequent in b)
        assert row.count == both and row.antecedent_count == sum(1 for b in baskets if lhs <= b)


def test_planted_affinities_top_the_product_rules_with_the_expected_lift(demo_warehouse):


    from etl_helpers.sources import demo

    with db.connect(demo_warehouse, autocommit=True) as conn:
        result = rules.product_rules(conn, DEMO_RUN_DATE)
    planted_pairs = {frozenset(p) for p in demo.PLANTED_PAIRS}
    triple = frozenset(demo.PLANTED_TRIPLE)
    planted_pairs |= {frozenset(p) for p in
                      [(a, b) for i, a in enumerate(demo.PLANTED_TRIPLE) for b in demo.PLANTED_TRIPLE[i + 1:]]}

    def items(row) -> frozenset[str]:
        return frozenset(row.antecedent.split(rules.ITEM_SEPARATOR)) | {row.consequent}

    singles = result[result.antecedent_size == 1]
    top_pairs = {items(r) for r in singles.head(2 * len(planted_pairs)).itertuples()}
    assert top_pairs == planted_pairs               # both directions of every planted pair come first
    top3 = {items(r) for r in result.head(3).itertuples()}
    assert top3 == {triple}                          # the three rules of the triple lead overall

    # expected lift from the generator's rates: a pair bought together at rate p, each item
    # alone at rate s: lift = p / (p + s)^2; the triple's X -> y: 1 / (t + s), t its mean rate
    s = demo.PLANTED_SINGLE_RATE
    season = (5 * 1.6 + 7) / 12                       # x1.6 from May to September
    t = demo.TRIPLE_RATE * season
    theory = {frozenset(p): r / (r + s) ** 2 for p, r in zip(demo.PLANTED_PAIRS, demo.PAIR_RATES)}
    for row in singles.itertuples():
        if items(row) in theory:
            assert row.lift == pytest.approx(theory[items(row)], rel=0.3), row
        if items(row) <= triple:
            assert row.lift == pytest.approx(t / (t + s) ** 2, rel=0.3), row
    for row in result[result.antecedent_size == 2].head(3).itertuples():
        assert row.lift == pytest.approx(1 / (t + s), rel=0.3), row
        assert row.confidence > 0.9


# --------------------------------------------------------------------------- wide wholesale baskets

WIDE_MIN_SUPPORT = "0.02"  # 19 of the window's 923 small-wholesale baskets: about 200 frequent products


def _brute_force_counts(baskets: list[frozenset[str]], min_support) -> dict[tuple[str, ...], int]:
    """Every frequent itemset of at most 3 items, counted without Apriori: every item and every
    pair of every basket; every triple of frequent items over all baskets at once (matrix
    products of the basket x item incidence; a triple with an infrequent item cannot be frequent).
    """
    threshold = rules.min_count(min_support, len(baskets))
    singles = Counter(item for basket in baskets for item in basket)
    pairs = Counter(pair for basket in baskets for pair in combinations(sorted(basket), 2))
    items = sorted(item for item, n in singles.items() if n >= threshold)
    incidence = np.array([[item in basket for item in items] for basket in baskets], dtype=np.float64)
    counts = {(item,): singles[item] for item in items}
    counts |= {pair: n for pair, n in pairs.items() if n >= threshold}
    for i, first in enumerate(items):
        with_first = incidence[incidence[:, i] == 1]
        together = with_first.T @ with_first  # baskets holding first, j and k (exact: small integers)
        for j, k in zip(*np.nonzero(np.triu(together >= threshold, 1))):
            if i < j:
                counts[(first, items[j], items[k])] = int(together[j, k])
    return counts


def test_wide_baskets_count_pairs_of_frequent_items_only_and_equal_a_brute_force_count(settings):
    options = SourceOptions(scale="small", seed=42, profile="wholesale")
    warehouse.build_warehouse(settings, DEMO_RUN_DATE, "demo", options)
    baskets = _raw_baskets(settings.raw_dir / "demo" / demo_folder_name(options), DEMO_RUN_DATE, "product")
    assert max(map(len, baskets)) >= 300 and sum(map(len, baskets)) >= 20 * len(baskets)  # wide baskets
    with db.connect(settings, autocommit=True) as conn:
        counts = rules.count_basket_itemsets(conn, DEMO_RUN_DATE, min_support=WIDE_MIN_SUPPORT, max_len=3)
        table = rules.basket_rules(conn, DEMO_RUN_DATE, min_support=WIDE_MIN_SUPPORT, min_confidence=0.5,
                                   max_len=3)
    brute = _brute_force_counts(baskets, WIDE_MIN_SUPPORT)
    assert counts.n_baskets == len(baskets)
    assert counts.counts == dict(sorted(brute.items()))
    assert any(len(k) == 3 for k in counts.counts) and any(len(k) == 2 for k in counts.counts)
    pd.testing.assert_frame_equal(table, rules.association_rules(
        brute, len(baskets), min_support=WIDE_MIN_SUPPORT, min_confidence=0.5, max_len=3))

    # only pairs of frequent products were counted: at most (f choose 2), far fewer than the
    # distinct pairs the window's baskets hold (what a pair aggregate would materialise)
    frequent = sum(len(k) == 1 for k in counts.counts)
    distinct_pairs = len({pair for basket in baskets for pair in combinations(sorted(basket), 2)})
    assert 0 < counts.candidates[2] <= frequent * (frequent - 1) // 2 < distinct_pairs // 10
    # triples: only candidates whose every pair is frequent, as the pure count has them
    assert counts.candidates == rules.count_itemsets(baskets, WIDE_MIN_SUPPORT, max_len=3).candidates


# --------------------------------------------------------------------------- the numpy count


def _random_baskets(seed: int, n: int = 400, items: int = 60, wide: int = 6) -> list[list[int]]:
    """Skewed baskets of small integer ids (a few popular ones), a handful of them very wide."""
    rng = np.random.default_rng(seed)
    popularity = 1 / np.arange(1, items + 1)
    popularity /= popularity.sum()
    sizes = np.r_[rng.integers(1, 8, n - wide), rng.integers(30, items, wide)]
    return [sorted(rng.choice(items, size=min(int(k), items), replace=False, p=popularity).tolist()) for k in sizes]


def _numpy_counts(baskets, min_support, max_len, weights=None) -> rules.ItemsetCounts:
    packed = rules.Baskets.of(baskets, weights)
    threshold = rules.min_count(min_support, packed.n_baskets)
    counts, candidates = rules.count_baskets(packed, threshold, max_len)
    return rules.ItemsetCounts(packed.n_baskets, counts, threshold, max_len, candidates)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("min_support,max_len", [("0.05", 2), ("0.04", 3), ("0.03", 4), (Fraction(1, 50), 3)])
def test_numpy_count_equals_the_reference_count(seed, min_support, max_len):
    baskets = _random_baskets(seed)
    expected = rules.count_itemsets(baskets, min_support, max_len=max_len)
    found = _numpy_counts(baskets, min_support, max_len)
    assert found.n_baskets == expected.n_baskets and found.min_count == expected.min_count
    assert found.counts == expected.counts
    assert found.candidates == expected.candidates
    assert any(len(k) == max_len for k in found.counts) or max_len > 3


def test_numpy_count_of_the_hand_made_baskets():
    codes = sorted({item for basket in HAND_BASKETS for item in basket})
    as_ids = [[codes.index(item) for item in basket] for basket in HAND_BASKETS]
    found = _numpy_counts(as_ids, MIN_SUPPORT, 3)
    expected = rules.count_itemsets(HAND_BASKETS, MIN_SUPPORT, max_len=3)
    assert {tuple(codes[i] for i in k): n for k, n in found.counts.items()} == expected.counts
    assert found.candidates == expected.candidates == {1: 5, 2: 4, 3: 1}


def test_weighted_baskets_count_as_their_copies():
    # category baskets come weighted (a set of categories and the baskets holding exactly it)
    distinct = _random_baskets(7, n=120)
    weights = np.random.default_rng(8).integers(1, 9, len(distinct)).tolist()
    copies = [basket for basket, weight in zip(distinct, weights) for _ in range(weight)]
    found = _numpy_counts(distinct, "0.03", 3, weights)
    expected = rules.count_itemsets(copies, "0.03", max_len=3)
    assert found.n_baskets == len(copies)
    assert found.counts == expected.counts and found.candidates == expected.candidates


def test_numpy_count_takes_unsorted_repeated_and_large_ids():
    baskets = _random_baskets(3, n=200)
    big = [[10**12 + 7 * item for item in basket] for basket in baskets]   # no direct table: a sort
    messy = rules.Baskets(np.array([item for basket in big for item in [*reversed(basket), basket[0]]]),
                          np.array([len(basket) + 1 for basket in big]), np.ones(len(big), np.int64), len(big))
    threshold = rules.min_count("0.04", len(big))
    counts, candidates = rules.count_baskets(messy, threshold, 3)
    expected = rules.count_itemsets(big, "0.04", max_len=3)
    assert counts == expected.counts and candidates == expected.candidates


def test_pairs_counted_in_chunks_add_up(monkeypatch):
    # the pair occurrences of wide baskets are generated a chunk at a time; a pair met in several
    # chunks adds up, through the direct table and through the sort (sparse codes)
    baskets = _random_baskets(11, n=300, items=200, wide=20)
    expected = rules.count_itemsets(baskets, "0.02", max_len=2)
    assert len(expected.counts) > 1000
    for chunk in (1, 37, 5000):
        monkeypatch.setattr(rules, "PAIR_CHUNK", chunk)
        found = _numpy_counts(baskets, "0.02", 2)
        assert found.counts == expected.counts and found.candidates == expected.candidates, chunk
    # hundreds of frequent items: a small chunk's pair codes are too sparse for a direct table
    baskets = _random_baskets(12, n=300, items=900, wide=2)
    expected = rules.count_itemsets(baskets, "0.005", max_len=2)
    assert sum(len(k) == 1 for k in expected.counts) > 300
    monkeypatch.setattr(rules, "PAIR_CHUNK", 37)
    found = _numpy_counts(baskets, "0.005", 2)
    assert found.counts == expected.counts and found.candidates == expected.candidates


def test_candidates_that_no_basket_holds_count_nothing():
    # three frequent pairs make the triple a candidate, but no basket holds three items: no basket
    # is left for the triples (and one item of a candidate is in no basket wide enough)
    baskets = [[1, 2]] * 2 + [[1, 3]] * 2 + [[2, 3]] * 2 + [[0, 7]] * 2
    for case in (baskets, [*baskets, [0, 1, 2]]):
        found = _numpy_counts(case, "0.2", 3)
        expected = rules.count_itemsets(case, "0.2", max_len=3)
        assert found.min_count == 2
        assert found.counts == expected.counts and found.candidates == expected.candidates
        assert not any(len(k) == 3 for k in found.counts) and found.candidates[3] == 0


def test_no_basket_no_frequent_item_and_empty_baskets():
    assert _numpy_counts([], "0.1", 3).counts == {}
    empty = rules.Baskets(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), 0)
    assert rules.count_baskets(empty, 1, 3) == ({}, {1: 0})
    # baskets with no item count in N (they lower every support) but hold nothing
    found = _numpy_counts([[1, 2], [1, 2], [], []], "0.5", 3)
    assert found.n_baskets == 4 and found.counts == {(1,): 2, (2,): 2, (1, 2): 2}
    assert _numpy_counts([[1, 2], [1, 2], [], []], "0.51", 3).counts == {}
    with pytest.raises(ValueError, match="lengths must add up"):
        rules.count_baskets(rules.Baskets(np.array([1, 2]), np.array([3]), np.array([1]), 1), 1, 2)


def test_basket_lists_parse_from_their_text():
    items, lengths = rules._parse_baskets(b"1,5,9;2,5;7")
    assert items.tolist() == [1, 5, 9, 2, 5, 7] and lengths.tolist() == [3, 2, 1]
    for bad in (b"1,,2", b"1;x", b"1,2;"):
        with pytest.raises(ValueError, match="unreadable basket list"):
            rules._parse_baskets(bad)


# --------------------------------------------------------------------------- the two rule tables


def test_product_and_category_rules_are_one_piece_with_their_own_parameter_names(monkeypatch):
    calls = []

    def fake_basket_rules(conn, run_date, **kwargs):
        calls.append(kwargs)
        return rules._empty_rules()

    monkeypatch.setattr(rules, "basket_rules", fake_basket_rules)
    monkeypatch.setattr(rules, "_with_product_names", lambda conn, frame: frame.assign(named=True))
    assert "named" in rules.product_rules(None, DEMO_RUN_DATE, min_support=0.02, max_len=2)
    assert "named" not in rules.category_rules(None, DEMO_RUN_DATE, category_min_confidence=0.4, window_days=30)
    assert calls == [
        {"level": "product", "window_days": rules.WINDOW_DAYS, "min_support": 0.02,
         "min_confidence": rules.MIN_CONFIDENCE, "max_len": 2},
        {"level": "category", "window_days": 30, "min_support": rules.CATEGORY_MIN_SUPPORT,
         "min_confidence": 0.4, "max_len": rules.DEFAULT_MAX_LEN},
    ]
    assert (rules.product_rules.__name__, rules.category_rules.__name__) == ("product_rules", "category_rules")
    with pytest.raises(TypeError, match="category_min_support"):
        rules.product_rules(None, DEMO_RUN_DATE, category_min_support=0.1)
    with pytest.raises(TypeError, match="'min_support'"):
        rules.category_rules(None, DEMO_RUN_DATE, min_support=0.1)
