"""Association rules over baskets (one ticket = one basket), as in R's ``arules``.

A rule ``X -> y`` has ONE item on the right-hand side and a non-empty left-hand side;
``max_len`` bounds the size of ``X + y`` (arules' ``maxlen``). For a window of ``N`` baskets:

- ``count``   = baskets holding every item of X and y; ``support = count / N``;
- ``confidence = count / count(X)``;  ``lift = confidence / (count(y) / N)``.

Thresholds are compared exactly, in integers and fractions, never in floats: an itemset is
frequent iff ``count >= min_support * N`` and a rule passes iff
``count(X + y) >= min_confidence * count(X)``, the thresholds being read from their decimal
spelling (``0.1`` is exactly one tenth, not the binary float nearest to it).

The window's baskets leave PostgreSQL once, as integer item ids: one COPY of
``sql/marts/fidelite_baskets.sql`` (a product basket per ticket from ``marts.agg_baskets``; the
day's sets of categories of ``marts.agg_category_sets_day``, weighted by their baskets), packed
server-side into a few text rows (a row per basket is a message per basket, several times
slower) and parsed by numpy. :func:`count_baskets` then counts by Apriori over the integer ids:
every item; pairs of frequent items only, from their occurrences in the baskets cut down to
their frequent items (so at most ``f * (f - 1) / 2`` pairs for ``f`` frequent items, and a wide
basket costs the pairs of its frequent items, never every pair of its lines); each larger level
only candidates whose every subset is frequent, looked up in the baskets of their prefix (a bit
matrix of items x baskets). Counts are integers and thresholds exact fractions, as above; how
many itemsets each level counted is ``ItemsetCounts.candidates``. The pure function
:func:`association_rules` turns the counts into rules (and :func:`count_itemsets` counts a small
in-memory basket list the simple way, the reference the tests compare with).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import seaborn as sns
from matplotlib.figure import Figure
from psycopg import sql

from etl_helpers import charts
from etl_helpers.marts.query import MARTS_SQL_DIR, read_sql_file
from etl_helpers.parameters import FIDELITE, PARAMETERS

log = logging.getLogger(__name__)
_DECLARED = PARAMETERS[FIDELITE]

LEVELS = ("product", "category")
ITEM_SEPARATOR = " + "
RULE_COLUMNS = [
    "rank",
    "antecedent",
    "consequent",
    "antecedent_size",
    "count",
    "antecedent_count",
    "consequent_count",
    "n_baskets",
    "support",
    "confidence",
    "lift",
]
PRODUCT_AGGREGATES = ("agg_baskets",)
CATEGORY_AGGREGATES = ("agg_category_sets_day",)
# The bound on the itemset search (a documented policy, see docs/marts_fidelite.md): itemsets
# of at most MAX_LEN items, and at most MAX_CANDIDATES candidate itemsets at any level. A
# search beyond them fails at once with a message naming the bound, instead of running for
# minutes (a minimum support of 0 with max_len 10 would enumerate every subset of every basket).
MAX_LEN = int(_DECLARED["max_len"].high)
MAX_CANDIDATES = 200_000
# The defaults of the search: those declared once in etl_helpers.parameters.
WINDOW_DAYS = int(_DECLARED["window_days"].default)
MIN_SUPPORT, MIN_CONFIDENCE = _DECLARED["min_support"].default, _DECLARED["min_confidence"].default
DEFAULT_MAX_LEN = int(_DECLARED["max_len"].default)
CATEGORY_MIN_SUPPORT = _DECLARED["category_min_support"].default
CATEGORY_MIN_CONFIDENCE = _DECLARED["category_min_confidence"].default
Itemset = tuple[str, ...]


# --------------------------------------------------------------------------- exact thresholds


def exact(value: float | int | str | Decimal | Fraction) -> Fraction:
    """A threshold as an exact fraction, read from its decimal spelling (``0.1`` -> 1/10)."""
    if isinstance(value, bool):
        raise TypeError("a threshold must be a number, not a boolean")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"threshold must be finite, got {value!r}")
        value = repr(value)  # shortest decimal that round-trips: what the user typed
    result = value if isinstance(value, Fraction) else Fraction(value)
    if not 0 <= result <= 1:
        raise ValueError(f"threshold must lie in [0, 1], got {value}")
    return result


def min_count(min_support: float | str | Decimal | Fraction, n_baskets: int) -> int:
    """The smallest basket count that meets ``min_support`` (at least 1): ceil(min_support * N)."""
    return max(1, math.ceil(exact(min_support) * n_baskets))


def passes_confidence(count: int, antecedent_count: int, min_confidence) -> bool:
    """``count(X + y) >= min_confidence * count(X)``, exactly: in integers, as
    ``count * q >= p * count(X)`` for ``min_confidence = p / q``."""
    confidence = exact(min_confidence)
    return count * confidence.denominator >= confidence.numerator * antecedent_count


# --------------------------------------------------------------------------- Apriori, pure Python


@dataclass(frozen=True)
class ItemsetCounts:
    """The frequent itemsets of a basket set: sorted item tuples -> baskets holding them."""

    n_baskets: int
    counts: dict[Itemset, int] = field(default_factory=dict)
    min_count: int = 1
    max_len: int = DEFAULT_MAX_LEN
    # itemset size -> how many distinct itemsets of that size were counted (frequent or not):
    # the work Apriori's pruning left; not part of the result, so equality ignores it
    candidates: dict[int, int] = field(default_factory=dict, compare=False)


def apriori_candidates(frequent: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Candidate (k+1)-itemsets from frequent k-itemsets: join on a common (k-1)-prefix,
    then prune every candidate with an infrequent k-subset. Items sort by code point."""
    level = sorted(set(frequent))
    known = set(level)
    candidates: list[Itemset] = []
    for i, left in enumerate(level):
        for right in level[i + 1 :]:
            if left[:-1] != right[:-1]:
                break  # sorted: no later itemset shares the prefix
            candidate = left + (right[-1],)
            if all(subset in known for subset in combinations(candidate, len(candidate) - 1)):
                candidates.append(candidate)
    return candidates


def count_itemsets(
    baskets: Iterable[Iterable[str]], min_support=MIN_SUPPORT, max_len: int = DEFAULT_MAX_LEN
) -> ItemsetCounts:
    """Frequent itemsets of an in-memory basket list (a reference for the SQL counting)."""
    _check_max_len(max_len)
    sets = [frozenset(b) for b in baskets]
    n = len(sets)
    threshold = min_count(min_support, n)
    counts: dict[Itemset, int] = {}
    singles: dict[Itemset, int] = {}
    for basket in sets:
        for item in basket:
            singles[(item,)] = singles.get((item,), 0) + 1
    level = {k: v for k, v in singles.items() if v >= threshold}
    counts.update(level)
    candidates = {1: len(singles)}
    frequent_items = {item for (item,) in level}
    kept = [sorted(basket & frequent_items) for basket in sets]
    size = 1
    while level and size < max_len:
        size += 1
        tally = dict.fromkeys(_bounded(apriori_candidates(level), size), 0)
        if not tally:
            break
        for items in kept:
            for combination in combinations(items, size):
                if combination in tally:
                    tally[combination] += 1
        candidates[size] = sum(v > 0 for v in tally.values())  # as in SQL: the candidates that occur
        level = {k: v for k, v in tally.items() if v >= threshold}
        counts.update(level)
    return ItemsetCounts(n, dict(sorted(counts.items())), threshold, max_len, candidates)


def association_rules(
    counts: ItemsetCounts | Mapping[Itemset, int],
    n_baskets: int | None = None,
    *,
    min_support=MIN_SUPPORT,
    min_confidence=MIN_CONFIDENCE,
    max_len: int = DEFAULT_MAX_LEN,
) -> pd.DataFrame:
    """Rules ``X -> y`` (one item on the right) from itemset counts, ranked by lift.

    ``counts`` maps sorted item tuples to the number of baskets holding them; it must hold
    every subset of each itemset it holds (Apriori's output does). Itemsets below
    ``min_support`` or longer than ``max_len`` are ignored; a rule is kept iff
    ``count >= min_confidence * antecedent_count`` exactly. ``rank`` orders by lift, then
    confidence, then count (higher first), then the item codes.
    """
    _check_max_len(max_len)
    if isinstance(counts, ItemsetCounts):
        n_baskets = counts.n_baskets if n_baskets is None else n_baskets
        counts = counts.counts
    if n_baskets is None or n_baskets <= 0:
        return _empty_rules()
    table = {tuple(sorted(k)): int(v) for k, v in counts.items()}
    threshold = min_count(min_support, n_baskets)  # frequent: count >= min_support * N, an integer
    confidence = exact(min_confidence)  # read once, not for every rule
    rows: list[dict[str, Any]] = []
    for itemset, count in table.items():
        if not 2 <= len(itemset) <= max_len or count < threshold:
            continue
        for consequent in itemset:
            antecedent = tuple(i for i in itemset if i != consequent)
            if antecedent not in table or (consequent,) not in table:
                raise ValueError(f"counts lack a subset of {itemset}: {antecedent} or {(consequent,)}")
            antecedent_count, consequent_count = table[antecedent], table[(consequent,)]
            if not passes_confidence(count, antecedent_count, confidence):
                continue
            # int / int is the correctly rounded quotient, as float(Fraction(...)) is
            rows.append(
                {
                    "antecedent_items": antecedent,
                    "consequent": consequent,
                    "antecedent_size": len(antecedent),
                    "count": count,
                    "antecedent_count": antecedent_count,
                    "consequent_count": consequent_count,
                    "n_baskets": n_baskets,
                    "support": count / n_baskets,
                    "confidence": count / antecedent_count,
                    "lift": count * n_baskets / (antecedent_count * consequent_count),
                    "_lift": Fraction(count * n_baskets, antecedent_count * consequent_count),
                    "_confidence": Fraction(count, antecedent_count),
                }
            )
    if not rows:
        return _empty_rules()
    rows.sort(key=lambda r: (-r["_lift"], -r["_confidence"], -r["count"], r["antecedent_items"], r["consequent"]))
    frame = pd.DataFrame(rows)
    frame["antecedent"] = frame["antecedent_items"].map(ITEM_SEPARATOR.join)
    frame["rank"] = range(1, len(frame) + 1)
    return frame[RULE_COLUMNS].reset_index(drop=True)


def _empty_rules() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="int64") for c in RULE_COLUMNS})
    for column in ("antecedent", "consequent"):
        frame[column] = frame[column].astype("str")
    for column in ("support", "confidence", "lift"):
        frame[column] = frame[column].astype("float64")
    return frame


def _check_max_len(max_len: int) -> None:
    if not isinstance(max_len, int) or max_len < 2:
        raise ValueError(f"max_len must be an integer >= 2 (a rule has two items at least), got {max_len!r}")
    if max_len > MAX_LEN:
        raise ValueError(
            f"max_len must be at most MAX_LEN = {MAX_LEN} (the bound on the itemset search), got {max_len}"
        )


def _bounded(candidates: list[tuple[Any, ...]], size: int) -> list[tuple[Any, ...]]:
    """The candidates of a level, refused beyond MAX_CANDIDATES (raise min_support)."""
    if len(candidates) > MAX_CANDIDATES:
        raise ValueError(
            f"{len(candidates)} candidate itemsets of {size} items exceed MAX_CANDIDATES = "
            f"{MAX_CANDIDATES} (the bound on the itemset search): raise min_support or lower max_len"
        )
    return candidates


# --------------------------------------------------------------------------- Apriori over integer ids


@dataclass(frozen=True)
class Baskets:
    """Weighted baskets of integer item ids, flat: ``items`` holds every basket's distinct ids one
    after the other (``lengths[b]`` of them for basket ``b``), ``weights[b]`` the baskets it stands
    for; ``n_baskets`` counts every basket, the empty ones too (they hold no item)."""

    items: np.ndarray
    lengths: np.ndarray
    weights: np.ndarray
    n_baskets: int

    @classmethod
    def of(cls, baskets: Iterable[Iterable[int]], weights: Iterable[int] | None = None) -> Baskets:
        """From a list of item id collections (one per basket), weight 1 unless given."""
        lists = [sorted(set(basket)) for basket in baskets]
        flat = np.fromiter((item for basket in lists for item in basket), dtype=np.int64)
        weight = np.ones(len(lists), np.int64) if weights is None else np.fromiter(weights, np.int64)
        if len(weight) != len(lists):
            raise ValueError("one weight per basket")
        return cls(flat, np.array([len(b) for b in lists], np.int64), weight, int(weight.sum()))


def count_baskets(baskets: Baskets, threshold: int, max_len: int) -> tuple[dict[tuple[int, ...], int], dict[int, int]]:
    """Apriori over weighted baskets of integer ids, in numpy: every itemset of at most
    ``max_len`` items held by at least ``threshold`` baskets (counts weighted), and per size how
    many distinct itemsets were counted (those that occur among the candidates: every item at
    size 1, pairs of frequent items at size 2, beyond, itemsets whose every subset is frequent).

    Pairs are counted from the occurrences of pairs of frequent items in the baskets (so a wide
    basket costs the pairs of its frequent items only); a larger candidate by intersecting the
    baskets of its prefix (a frequent itemset) and looking each candidate's last item up in a
    bit matrix of items x baskets. Counts are integers; no threshold is ever a float.
    """
    _check_max_len(max_len)
    items, basket_of, weights = _normalised(baskets)
    ids, dense = _dense_ids(items)
    unit = bool(np.all(weights == 1))
    singles = _weighted_count(dense, None if unit else weights[basket_of].astype(np.float64), len(ids))
    kept = np.flatnonzero(singles >= threshold)  # dense indices of the frequent items, in id order
    counts: dict[tuple[int, ...], int] = {(int(ids[i]),): int(singles[i]) for i in kept}
    counted = {1: len(ids)}
    if len(kept) < 2:
        return dict(sorted(counts.items())), counted
    # relabel the frequent items 0..f-1 (id order) and drop every other line
    position = np.full(len(ids), -1, np.int64)
    position[kept] = np.arange(len(kept))
    relabelled = position[dense]
    mask = relabelled >= 0
    lines, line_basket = relabelled[mask], basket_of[mask]
    labels = ids[kept]
    frequent: dict[tuple[int, ...], int]
    frequent, counted[2] = _count_pairs(lines, line_basket, weights, len(kept), threshold)
    size = 2
    while True:
        counts |= {tuple(int(labels[i]) for i in itemset): n for itemset, n in frequent.items()}
        if not frequent or size == max_len:
            break
        size += 1
        frequent, counted[size] = _count_extensions(lines, line_basket, weights, frequent, threshold, size)
    return dict(sorted(counts.items())), counted


def _normalised(baskets: Baskets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every line's item and basket index, the lines sorted by basket then item, repeats
    dropped (a basket holds an item once); and the weights as int64."""
    items = np.asarray(baskets.items, np.int64)
    lengths = np.asarray(baskets.lengths, np.int64)
    weights = np.asarray(baskets.weights, np.int64)
    if len(lengths) != len(weights) or int(lengths.sum()) != len(items):
        raise ValueError("baskets: lengths must add up to the items, one weight per basket")
    basket_of = np.repeat(np.arange(len(lengths)), lengths)
    step = np.diff(items)
    same_basket = np.diff(basket_of) == 0
    if np.any(step[same_basket] <= 0):  # not strictly increasing within a basket: sort, then dedupe
        order = np.lexsort((items, basket_of))
        items, basket_of = items[order], basket_of[order]
        keep = np.ones(len(items), bool)
        keep[1:] = (np.diff(items) != 0) | (np.diff(basket_of) != 0)
        items, basket_of = items[keep], basket_of[keep]
    return items, basket_of, weights


def _dense_ids(items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ids in order and each item's index among them (``np.unique``, by a direct
    table when the ids are small integers, as surrogate keys are: no sort)."""
    if len(items) and items.min() >= 0 and items.max() < 4 * len(items) + (1 << 16):
        present = np.bincount(items) > 0
        return np.flatnonzero(present), (np.cumsum(present) - 1)[items]
    return np.unique(items, return_inverse=True)


def _weighted_count(codes: np.ndarray, weights: np.ndarray | None, size: int) -> np.ndarray:
    """How many (weighted) times each code in [0, size) occurs, as int64 (exact: float64 sums of
    integer weights stay exact far beyond any basket count)."""
    if weights is None:
        return np.bincount(codes, minlength=size)
    return np.rint(np.bincount(codes, weights, minlength=size)).astype(np.int64)


_BIT = np.array([128 >> k for k in range(8)], np.uint8)  # basket b is bit _BIT[b % 8] of byte b // 8
PAIR_CHUNK = 1 << 22  # pair occurrences generated at once (a few arrays of this many int64)


def _count_pairs(
    lines: np.ndarray, line_basket: np.ndarray, weights: np.ndarray, f: int, threshold: int
) -> tuple[dict[tuple[int, ...], int], int]:
    """Every pair of the frequent items 0..f-1 that occurs: the frequent ones with their counts,
    and how many pairs occur. ``lines`` is sorted by basket, then item."""
    starts = np.flatnonzero(np.r_[True, np.diff(line_basket) != 0])
    ends = np.r_[starts[1:], len(lines)]
    end_of_line = np.repeat(ends, ends - starts)
    partners = end_of_line - np.arange(len(lines)) - 1  # larger items of the same basket
    unit = bool(np.all(weights == 1))
    line_weight = None if unit else weights[line_basket].astype(np.float64)
    with_partners = np.flatnonzero(partners > 0)
    found_codes, found_counts = [], []
    cumulative = np.cumsum(partners[with_partners])
    total = int(cumulative[-1]) if len(cumulative) else 0
    bounds = np.unique(np.searchsorted(cumulative, np.arange(PAIR_CHUNK, total, PAIR_CHUNK)))
    for chunk in np.split(with_partners, bounds):
        if not len(chunk):
            continue
        repeats = partners[chunk]
        left = np.repeat(chunk, repeats)
        offsets = np.arange(len(left)) - np.repeat(np.cumsum(repeats) - repeats, repeats)
        right = left + 1 + offsets
        codes = lines[left] * f + lines[right]
        chunk_weight = None if line_weight is None else line_weight[left]
        low, high = int(codes.min()), int(codes.max()) + 1
        if high - low <= 4 * len(codes) + (1 << 16):
            tally = _weighted_count(codes - low, chunk_weight, high - low)
            present = np.flatnonzero(tally)
            found_codes.append(present + low)
            found_counts.append(tally[present])
        else:
            distinct, inverse = np.unique(codes, return_inverse=True)
            found_codes.append(distinct)
            found_counts.append(_weighted_count(inverse, chunk_weight, len(distinct)))
    if not found_codes:
        return {}, 0
    codes, counts = np.concatenate(found_codes), np.concatenate(found_counts)
    if len(found_codes) > 1:  # a pair may occur in several chunks: add its counts up
        codes, inverse = np.unique(codes, return_inverse=True)
        counts = np.bincount(inverse, counts, minlength=len(codes))
        counts = np.rint(counts).astype(np.int64)
    kept = np.flatnonzero(counts >= threshold)
    first, second = np.divmod(codes[kept], f)
    return {(int(a), int(b)): int(n) for a, b, n in zip(first, second, counts[kept])}, len(codes)


def _count_extensions(
    lines: np.ndarray,
    line_basket: np.ndarray,
    weights: np.ndarray,
    frequent: Mapping[tuple[int, ...], int],
    threshold: int,
    size: int,
) -> tuple[dict[tuple[int, ...], int], int]:
    """The candidate itemsets of ``size`` items (every subset among ``frequent``), counted: the
    frequent ones with their counts, and how many occur. For each prefix (a frequent itemset of
    ``size - 1`` items) the baskets holding it, then each candidate's last item looked up there."""
    candidates = _bounded(apriori_candidates(frequent), size)
    if not candidates:
        return {}, 0
    # only the items of candidates matter; a basket must hold at least `size` of them
    useful = np.zeros(int(lines.max()) + 1, bool)
    useful[np.fromiter({item for candidate in candidates for item in candidate}, np.int64)] = True
    mask = useful[lines]
    lines, line_basket = lines[mask], line_basket[mask]
    per_basket = np.bincount(line_basket, minlength=len(weights))
    mask = per_basket[line_basket] >= size
    lines, line_basket = lines[mask], line_basket[mask]
    baskets, line_basket = np.unique(line_basket, return_inverse=True)
    basket_weight = weights[baskets]
    unit = bool(np.all(basket_weight == 1))
    n_items = len(useful)  # every candidate's items, held by a basket left or not
    # items x baskets, one bit per basket (8 baskets a byte), and each item's baskets
    bits = np.zeros((n_items, (len(baskets) + 7) // 8), np.uint8)
    np.bitwise_or.at(bits, (lines, line_basket >> 3), _BIT[line_basket & 7])
    order = np.argsort(lines, kind="stable")
    tid_bounds = np.searchsorted(lines[order], np.arange(n_items + 1))
    tids = line_basket[order]

    result: dict[tuple[int, ...], int] = {}
    occurring = 0
    by_prefix: dict[tuple[int, ...], list[int]] = {}
    for candidate in candidates:
        by_prefix.setdefault(candidate[:-1], []).append(candidate[-1])
    for prefix, lasts in by_prefix.items():
        rows = tids[tid_bounds[prefix[0]] : tid_bounds[prefix[0] + 1]]
        for item in prefix[1:]:
            rows = rows[(bits[item, rows >> 3] & _BIT[rows & 7]) != 0]
        if not len(rows):
            continue
        held = (bits[np.ix_(np.asarray(lasts, np.int64), rows >> 3)] & _BIT[rows & 7]) != 0
        tally = held.sum(axis=1) if unit else held.astype(np.int64) @ basket_weight[rows]
        occurring += int(np.count_nonzero(tally))
        for item, n in zip(lasts, tally.tolist()):
            if n >= threshold:
                result[(*prefix, item)] = int(n)
    return result, occurring


# --------------------------------------------------------------------------- the window's baskets


def _sql_text(name: str) -> sql.SQL:
    return sql.SQL((MARTS_SQL_DIR / f"{name}.sql").read_text(encoding="utf-8"))


def read_baskets(cur: psycopg.Cursor, params: dict) -> Baskets:
    """The window's weighted baskets (fidelite_baskets), streamed by one COPY: a row per basket
    weight, its baskets' ids as text (``1,5,9;2,5``), parsed by numpy. Rows of one basket each
    would cost PostgreSQL and psycopg a message per basket: several times slower."""
    query = (
        sql.SQL(
            "copy (select weight, count(*), string_agg(array_to_string(items, ','), ';') "
            "filter (where cardinality(items) > 0) from ("
        )
        + _sql_text("fidelite_baskets")
        + sql.SQL(") as baskets group by weight) to stdout")
    )
    data = bytearray()
    with cur.copy(query, params) as copy:
        for block in copy:
            data += block
    items, lengths, weights, n_baskets = [], [], [], 0
    for row in bytes(data).splitlines():
        weight_text, count_text, text = row.split(b"\t")
        weight, count = int(weight_text), int(count_text)
        n_baskets += weight * count
        if text != rb"\N":
            basket_items, basket_lengths = _parse_baskets(text)
            items.append(basket_items)
            lengths.append(basket_lengths)
            weights.append(np.full(len(basket_lengths), weight, np.int64))
    if not items:
        empty = np.zeros(0, np.int64)
        return Baskets(empty, empty, empty, n_baskets)
    return Baskets(np.concatenate(items), np.concatenate(lengths), np.concatenate(weights), n_baskets)


def _parse_baskets(text: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``b"1,5,9;2,5"`` -> items ``[1, 5, 9, 2, 5]`` and lengths ``[3, 2]``."""
    raw = np.frombuffer(text, np.uint8)
    separators = np.flatnonzero(raw == ord(";"))
    commas = np.flatnonzero(raw == ord(","))
    expected = len(separators) + len(commas) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # numpy's word for "not all parsed"
        try:
            items = np.fromstring(text.replace(b";", b",").decode("ascii"), dtype=np.int64, sep=",")
        except (DeprecationWarning, ValueError) as error:
            raise ValueError(f"unreadable basket list from the database: {error}") from None
    if len(items) != expected:
        raise ValueError(f"unreadable basket list from the database: {len(items)} ids for {expected}")
    ends = np.searchsorted(commas, separators) + np.arange(1, len(separators) + 1)
    return items, np.diff(np.r_[0, ends, expected])


def count_basket_itemsets(
    conn: psycopg.Connection,
    run_date: date,
    *,
    level: str = "product",
    window_days: int = WINDOW_DAYS,
    min_support=MIN_SUPPORT,
    max_len: int = DEFAULT_MAX_LEN,
) -> ItemsetCounts:
    """Frequent itemsets of the window's baskets (Apriori, :func:`count_baskets`).

    Baskets are the tickets of (run_date - window_days, run_date]; items are product codes or
    categories (``level``). The window's baskets leave PostgreSQL once, as integer item ids
    (:func:`read_baskets`); the frequent itemsets come back keyed by item codes in code-point
    order.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    _check_max_len(max_len)
    if not isinstance(window_days, int) or window_days < 1:
        raise ValueError(f"window_days must be a positive integer, got {window_days!r}")
    params = {"run_date": run_date, "window_days": window_days, "level": level}
    with conn.transaction(), conn.cursor() as cur:
        baskets = read_baskets(cur, params)
        threshold = min_count(min_support, baskets.n_baskets)
        by_id, candidates = count_baskets(baskets, threshold, max_len)
        log.info(
            "%s baskets: %d, frequent items: %d (count >= %d), itemsets counted per size: %s",
            level,
            baskets.n_baskets,
            sum(len(items) == 1 for items in by_id),
            threshold,
            candidates,
        )
        wanted = sorted({item for items in by_id for item in items})
        labels = dict(
            read_sql_file(conn, "fidelite_rule_items", level=level, item_ids=wanted)[["item_id", "item"]].itertuples(
                index=False, name=None
            )
        )
    counts = {tuple(sorted(labels[i] for i in ids)): n for ids, n in by_id.items()}
    return ItemsetCounts(baskets.n_baskets, dict(sorted(counts.items())), threshold, max_len, candidates)


# --------------------------------------------------------------------------- the mart tables


def basket_rules(
    conn: psycopg.Connection,
    run_date: date,
    *,
    level: str = "product",
    window_days: int = WINDOW_DAYS,
    min_support=MIN_SUPPORT,
    min_confidence=MIN_CONFIDENCE,
    max_len: int = DEFAULT_MAX_LEN,
) -> pd.DataFrame:
    """Association rules of the window's baskets at ``level`` (product codes or categories)."""
    counts = count_basket_itemsets(
        conn, run_date, level=level, window_days=window_days, min_support=min_support, max_len=max_len
    )
    return association_rules(counts, min_support=min_support, min_confidence=min_confidence, max_len=max_len)


def rules_table(level: str, support: str, confidence: str) -> Callable[..., pd.DataFrame]:
    """The ``<level>_rules`` table of the registry: :func:`basket_rules` at ``level``, its
    thresholds passed as the parameters named ``support`` and ``confidence`` (their defaults the
    declared ones); product rules get the products' names beside their codes."""

    def derive(
        conn: psycopg.Connection,
        run_date: date,
        *,
        window_days: int = WINDOW_DAYS,
        max_len: int = DEFAULT_MAX_LEN,
        **thresholds: Any,
    ) -> pd.DataFrame:
        unknown = sorted(set(thresholds) - {support, confidence})
        if unknown:
            raise TypeError(f"{level}_rules() got unexpected keyword arguments {unknown}")
        values = {name: thresholds.get(name, _DECLARED[name].default) for name in (support, confidence)}
        rules = basket_rules(
            conn,
            run_date,
            level=level,
            window_days=window_days,
            min_support=values[support],
            min_confidence=values[confidence],
            max_len=max_len,
        )
        return _with_product_names(conn, rules) if level == "product" else rules

    derive.__name__ = derive.__qualname__ = f"{level}_rules"
    derive.__doc__ = f"``{level}_rules``: :func:`basket_rules` over {level} items, thresholds {support}, {confidence}."
    return derive


def _with_product_names(conn: psycopg.Connection, rules: pd.DataFrame) -> pd.DataFrame:
    """Product rules with the products' names beside their codes."""
    names = read_sql_file(conn, "fidelite_rule_items", level="product", item_ids=None)
    lookup = dict(zip(names["item"], names["item_name"]))
    rules.insert(
        3,
        "antecedent_names",
        rules["antecedent"].map(
            lambda text: ITEM_SEPARATOR.join(lookup.get(code, code) for code in text.split(ITEM_SEPARATOR))
        ),
    )
    rules.insert(4, "consequent_name", rules["consequent"].map(lambda code: lookup.get(code, code)))
    return rules


product_rules = rules_table("product", "min_support", "min_confidence")
category_rules = rules_table("category", "category_min_support", "category_min_confidence")


# --------------------------------------------------------------------------- chart


def plot_top_rules(
    rules: pd.DataFrame,
    top_rules: int,
    title: str = "Top association rules by lift",
    currency: str = charts.DEFAULT_CURRENCY,
) -> Figure:
    """Horizontal bars of the ``top_rules`` rules' lift, labelled ``X -> y`` (names when present)."""
    head = rules.sort_values("rank").head(top_rules).copy()
    lhs = head["antecedent_names"] if "antecedent_names" in head else head["antecedent"]
    rhs = head["consequent_name"] if "consequent_name" in head else head["consequent"]
    head["rule"] = [f"{_short(a, 48)}  →  {_short(b, 30)}" for a, b in zip(lhs, rhs)]
    fig, axes = charts.figure(13, 0.4 * max(len(head), 2) + 1.2)
    ax = axes[0][0]
    if head.empty:
        ax.text(0.5, 0.5, "no rule passes the thresholds", ha="center", va="center")
        ax.set_axis_off()
    else:
        sns.barplot(data=head, y="rule", x="lift", color="#4C72B0", ax=ax)
        for patch, (_, row) in zip(ax.patches, head.iterrows()):
            ax.text(
                patch.get_width(),
                patch.get_y() + patch.get_height() / 2,
                f" conf {row['confidence']:.0%}, n={row['count']}",
                va="center",
                fontsize=8,
            )
        ax.set_xlim(0, head["lift"].max() * 1.25)
        ax.set_ylabel("")
        ax.set_xlabel("lift (1 = independent)")
        ax.axvline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_title(title)
    return fig


def plot_product_rules(rules: pd.DataFrame, top_rules: int, currency: str = charts.DEFAULT_CURRENCY) -> Figure:
    return plot_top_rules(rules, top_rules, "Top product rules by lift")


def plot_category_rules(rules: pd.DataFrame, top_rules: int, currency: str = charts.DEFAULT_CURRENCY) -> Figure:
    return plot_top_rules(rules, top_rules, "Top category rules by lift")


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
