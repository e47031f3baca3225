"""Association rules over baskets (one ticket = one basket), as in R's ``arules``.

A rule ``X -> y`` has ONE item on the right-hand side and a non-empty left-hand side;
``max_len`` bounds the size of ``X + y`` (arules' ``maxlen``). For a window of ``N`` baskets:

- ``count``   = baskets holding every item of X and y; ``support = count / N``;
- ``confidence = count / count(X)``;  ``lift = confidence / (count(y) / N)``.

Thresholds are compared exactly, in integers and fractions, never in floats: an itemset is
frequent iff ``count >= min_support * N`` and a rule passes iff
``count(X + y) >= min_confidence * count(X)``, the thresholds being read from their decimal
spelling (``0.1`` is exactly one tenth, not the binary float nearest to it).

Counting stays in PostgreSQL (Apriori, level by level, in temporary tables), and no level
counts an itemset before all its subsets are known to be frequent: nothing materialises every
pair of a wide basket. Single products are sums of the monthly aggregate
``marts.agg_items_month`` over the window's whole calendar months, plus the baskets of its
partial edge months (``marts.agg_baskets``); single categories are counted over the window's
baskets. Then the window's weighted baskets (an array of integer item ids and the baskets
holding exactly those: one per ticket for products, the day's sets of categories of
``marts.agg_category_sets_day`` for categories) are cut down to their frequent items and
identical ones are grouped into weighted patterns; pairs come from a self-join of the
patterns' items (so at most ``f * (f - 1) / 2`` pairs for ``f`` frequent items), and each
larger level only extends occurrences of frequent itemsets by candidates whose every subset
is frequent. Python only sees the counts of frequent itemsets (and how many candidates each
level counted, ``ItemsetCounts.candidates``); the pure function
:func:`association_rules` turns them into rules (and :func:`count_itemsets` counts a
small in-memory basket list the same way, for tests and examples).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import combinations
from typing import Any

import pandas as pd
import psycopg
import seaborn as sns
from matplotlib.figure import Figure
from psycopg import sql

from etl_helpers import charts, db
from etl_helpers.marts.query import MARTS_SQL_DIR, read_sql_file, window
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
PRODUCT_AGGREGATES = ("agg_baskets", "agg_items_month")
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
TEMP_TABLES = (
    "rules_baskets",
    "rules_patterns",
    "rules_lines",
    "rules_next",
    "rules_occurrences",
    "rules_candidates",
    "rules_frequent",
)

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
    result = Fraction(value)
    if not 0 <= result <= 1:
        raise ValueError(f"threshold must lie in [0, 1], got {value}")
    return result


def min_count(min_support: float | str | Decimal | Fraction, n_baskets: int) -> int:
    """The smallest basket count that meets ``min_support`` (at least 1): ceil(min_support * N)."""
    return max(1, math.ceil(exact(min_support) * n_baskets))


def is_frequent(count: int, n_baskets: int, min_support) -> bool:
    return count >= 1 and count >= exact(min_support) * n_baskets


def passes_confidence(count: int, antecedent_count: int, min_confidence) -> bool:
    """``count(X + y) >= min_confidence * count(X)``, exactly."""
    return count >= exact(min_confidence) * antecedent_count


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
    rows: list[dict[str, Any]] = []
    for itemset, count in table.items():
        if not 2 <= len(itemset) <= max_len or not is_frequent(count, n_baskets, min_support):
            continue
        for consequent in itemset:
            antecedent = tuple(i for i in itemset if i != consequent)
            if antecedent not in table or (consequent,) not in table:
                raise ValueError(f"counts lack a subset of {itemset}: {antecedent} or {(consequent,)}")
            antecedent_count, consequent_count = table[antecedent], table[(consequent,)]
            if not passes_confidence(count, antecedent_count, min_confidence):
                continue
            lift = Fraction(count * n_baskets, antecedent_count * consequent_count)
            rows.append(
                {
                    "antecedent_items": antecedent,
                    "consequent": consequent,
                    "antecedent_size": len(antecedent),
                    "count": count,
                    "antecedent_count": antecedent_count,
                    "consequent_count": consequent_count,
                    "n_baskets": n_baskets,
                    "support": float(Fraction(count, n_baskets)),
                    "confidence": float(Fraction(count, antecedent_count)),
                    "lift": float(lift),
                    "_lift": lift,
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


# --------------------------------------------------------------------------- Apriori in PostgreSQL


def _sql_text(name: str) -> sql.SQL:
    return sql.SQL((MARTS_SQL_DIR / f"{name}.sql").read_text(encoding="utf-8"))


def _drop_temp_tables(cur: psycopg.Cursor) -> None:
    for table in TEMP_TABLES:
        cur.execute(sql.SQL("drop table if exists {}").format(sql.Identifier("pg_temp", table)))


def _fill(cur: psycopg.Cursor, table: str, columns: str, query: sql.Composable, params: dict) -> None:
    """Create ``pg_temp.<table>`` and fill it from ``query`` (parameters bound)."""
    target = sql.Identifier("pg_temp", table)
    cur.execute(sql.SQL("create temporary table {} ({})").format(target, sql.SQL(columns)))
    cur.execute(sql.SQL("insert into {} ").format(target) + query, params)
    cur.execute(sql.SQL("analyze {}").format(target))


def _frequent_counts(cur: psycopg.Cursor, threshold: int) -> tuple[dict[tuple[int, ...], int], int]:
    """Count the itemsets of ``rules_next``; keep the frequent ones in ``rules_frequent`` too.
    Returns them and how many distinct itemsets were counted."""
    cur.execute("drop table if exists pg_temp.rules_frequent")
    cur.execute("create temporary table rules_frequent (items bigint[] primary key, n bigint not null)")
    counted = int(
        db.scalar(
            cur,
            "with counted as (select items, sum(weight) as n from pg_temp.rules_next group by items), "
            "kept as (insert into pg_temp.rules_frequent select items, n from counted where n >= %(n)s) "
            "select count(*) from counted",
            {"n": threshold},
        )
    )
    cur.execute("select items, n from pg_temp.rules_frequent")
    return {tuple(items): int(n) for items, n in cur.fetchall()}, counted


def count_basket_itemsets(
    conn: psycopg.Connection,
    run_date: date,
    *,
    level: str = "product",
    window_days: int = WINDOW_DAYS,
    min_support=MIN_SUPPORT,
    max_len: int = DEFAULT_MAX_LEN,
) -> ItemsetCounts:
    """Frequent itemsets of the window's baskets, counted in PostgreSQL (Apriori).

    Baskets are the tickets of (run_date - window_days, run_date]; items are product codes or
    categories (``level``). The database works on integer item ids; only the counts of
    frequent itemsets leave it, keyed by item codes in code-point order.

    Single products are counted from the monthly aggregate (whole months of the window) plus
    the baskets of its partial edge months, single categories over the window's baskets; pairs
    and larger itemsets by Apriori over the window's baskets cut down to their frequent items
    (a pair is counted only when both its items are frequent, a larger itemset only when every
    subset is frequent).
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    _check_max_len(max_len)
    if not isinstance(window_days, int) or window_days < 1:
        raise ValueError(f"window_days must be a positive integer, got {window_days!r}")
    params = {"run_date": run_date, "window_days": window_days, "level": level}
    with conn.transaction(), conn.cursor() as cur:
        _drop_temp_tables(cur)
        n_baskets = _fill_baskets(cur, params)
        threshold = min_count(min_support, n_baskets)
        if level == "product":
            singles = _product_items(cur, params)
        else:
            cur.execute("select item, sum(weight) from pg_temp.rules_baskets, unnest(items) as item group by item", {})
            singles = {(int(item),): int(n) for item, n in cur.fetchall()}
        by_id = {ids: n for ids, n in singles.items() if n >= threshold}
        candidates = {1: len(singles)}
        log.info("%s baskets: %d, frequent items: %d (count >= %d)", level, n_baskets, len(by_id), threshold)
        if len(by_id) > 1:
            frequent, counted = _apriori_over_baskets(cur, sorted(item for (item,) in by_id), threshold, max_len)
            by_id.update(frequent)
            candidates.update(counted)
        _drop_temp_tables(cur)
        labels = dict(
            read_sql_file(conn, "fidelite_rule_items", level=level)[["item_id", "item"]].itertuples(
                index=False, name=None
            )
        )
    counts = {tuple(sorted(labels[i] for i in ids)): n for ids, n in by_id.items()}
    return ItemsetCounts(n_baskets, dict(sorted(counts.items())), threshold, max_len, candidates)


def _product_items(cur: psycopg.Cursor, params: dict) -> dict[tuple[int, ...], int]:
    """Every product of the window's baskets with how many baskets hold it, read from the
    monthly aggregate (whole months) and agg_baskets (edge days)."""
    last_day = params["run_date"]
    first_day = last_day - timedelta(days=params["window_days"] - 1)
    bounds = window(first_day, last_day)
    months = pd.date_range(bounds["months_start"], bounds["months_end"], freq="MS", inclusive="left").date.tolist()
    bounds |= {"months": months}
    cur.execute(_sql_text("fidelite_itemset_product_items"), bounds)
    return {(int(item),): int(n) for item, n in cur.fetchall()}


def _fill_baskets(cur: psycopg.Cursor, params: dict) -> int:
    """``rules_baskets``: the window's baskets as weighted item sets (fidelite_baskets);
    returns how many baskets."""
    cur.execute("create temporary table rules_baskets (items bigint[] not null, weight bigint not null)")
    cur.execute(
        sql.SQL("insert into pg_temp.rules_baskets (items, weight) select items, weight from (")
        + _sql_text("fidelite_baskets")
        + sql.SQL(") as baskets"),
        params,
    )
    return int(db.scalar(cur, "select coalesce(sum(weight), 0) from pg_temp.rules_baskets"))


def _apriori_over_baskets(
    cur: psycopg.Cursor, kept: list[int], threshold: int, max_len: int
) -> tuple[dict[tuple[int, ...], int], dict[int, int]]:
    """Frequent itemsets of 2 to ``max_len`` items of ``rules_baskets``, made of ``kept`` items
    (every item of a frequent itemset must be among them), and per size how many distinct
    itemsets were counted (for pairs at most ``len(kept) choose 2``)."""
    # baskets reduced to the kept items, grouped: one pattern per distinct set, weighted by its
    # baskets (few patterns for broad items such as categories)
    cur.execute(
        "create temporary table rules_patterns "
        "(pattern_id bigint generated always as identity, items bigint[] not null, weight bigint not null)"
    )
    cur.execute(
        "insert into pg_temp.rules_patterns (items, weight) "
        "select kept, sum(weight) from (select array(select item from unnest(items) as item "
        "where item = any(%(kept)s) order by item) as kept, weight from pg_temp.rules_baskets "
        "where items && %(kept)s::bigint[]) as reduced "  # most baskets hold no kept item
        "where cardinality(kept) > 1 group by kept",
        {"kept": kept},
    )
    cur.execute("drop table pg_temp.rules_baskets")
    _fill(
        cur,
        "rules_lines",
        "pattern_id bigint not null, item bigint not null, weight bigint not null",
        sql.SQL("select pattern_id, item, weight from pg_temp.rules_patterns, unnest(items) as item"),
        {},
    )
    cur.execute("drop table pg_temp.rules_patterns")

    by_id: dict[tuple[int, ...], int] = {}
    counted: dict[int, int] = {}
    size = 1
    frequent: dict[tuple[int, ...], int] = {(item,): 0 for item in kept}
    while frequent and size < max_len:
        size += 1
        cur.execute(
            "create temporary table rules_next "
            "(pattern_id bigint not null, items bigint[] not null, weight bigint not null)"
        )
        if size == 2:
            cur.execute(sql.SQL("insert into pg_temp.rules_next ") + _sql_text("fidelite_itemset_pairs"))
        else:
            candidates = _bounded(apriori_candidates(frequent), size)
            cur.execute("create temporary table rules_candidates (items bigint[] primary key)")
            with cur.copy("copy pg_temp.rules_candidates (items) from stdin") as copy:
                copy.set_types(["int8[]"])
                for candidate in candidates:
                    copy.write_row([list(candidate)])
            cur.execute("analyze pg_temp.rules_candidates")
            cur.execute(sql.SQL("insert into pg_temp.rules_next ") + _sql_text("fidelite_itemset_extend"))
            cur.execute("drop table pg_temp.rules_candidates, pg_temp.rules_occurrences")
        frequent, counted[size] = _frequent_counts(cur, threshold)
        by_id.update(frequent)
        log.info("itemsets of %d: %d counted, %d frequent", size, counted[size], len(frequent))
        if frequent and size < max_len:
            # an item of no frequent itemset of this size is in no frequent larger one: never extend by it
            cur.execute(
                "delete from pg_temp.rules_lines where item <> all(%(items)s::bigint[])",
                {"items": sorted({item for items in frequent for item in items})},
            )
            _fill(
                cur,
                "rules_occurrences",
                "pattern_id bigint not null, items bigint[] not null, weight bigint not null",
                sql.SQL(
                    "select next.pattern_id, next.items, next.weight from pg_temp.rules_next as next "
                    "join pg_temp.rules_frequent as frequent on frequent.items = next.items"
                ),
                {},
            )
        cur.execute("drop table pg_temp.rules_next, pg_temp.rules_frequent")
    return by_id, counted


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


def product_rules(
    conn: psycopg.Connection,
    run_date: date,
    *,
    window_days: int = WINDOW_DAYS,
    min_support=MIN_SUPPORT,
    min_confidence=MIN_CONFIDENCE,
    max_len: int = DEFAULT_MAX_LEN,
) -> pd.DataFrame:
    """``product_rules``: rules between product codes, with the products' names beside them."""
    rules = basket_rules(
        conn,
        run_date,
        level="product",
        window_days=window_days,
        min_support=min_support,
        min_confidence=min_confidence,
        max_len=max_len,
    )
    names = read_sql_file(conn, "fidelite_rule_items", level="product")
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


def category_rules(
    conn: psycopg.Connection,
    run_date: date,
    *,
    window_days: int = WINDOW_DAYS,
    category_min_support=CATEGORY_MIN_SUPPORT,
    category_min_confidence=CATEGORY_MIN_CONFIDENCE,
    max_len: int = DEFAULT_MAX_LEN,
) -> pd.DataFrame:
    """``category_rules``: rules between product categories (a basket holds a category once)."""
    return basket_rules(
        conn,
        run_date,
        level="category",
        window_days=window_days,
        min_support=category_min_support,
        min_confidence=category_min_confidence,
        max_len=max_len,
    )


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
