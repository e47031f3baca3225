"""Affinity: association rules filtered by support, confidence and lift, "what goes with X",
the segment x category heatmap and the category correlation (fact_fidelite_mart)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import ui
from dashboard.layout import LOYALTY_MART

RULES = {"products": "product_rules", "categories": "category_rules"}
ITEM = {"products": "product", "categories": "category"}
ANY = "(any item)"


def items_of(rules: pd.DataFrame) -> dict[str, str]:
    """Every item of the rules -> its label (``code · name`` for products)."""
    names: dict[str, str] = {}
    if "consequent_name" in rules:
        names = dict(zip(rules["consequent"], rules["consequent_name"]))
    codes = set(rules["consequent"]) | {i for a in rules["antecedent"] for i in a.split(" + ")}
    return {c: f"{c} · {names[c]}" if c in names else c for c in sorted(codes)}


def filter_rules(rules: pd.DataFrame, min_support: float, min_confidence: float, min_lift: float,
                 item: str | None) -> pd.DataFrame:
    """The exported rules at or above the thresholds; with ``item``, those whose left-hand side holds it."""
    kept = rules[(rules["support"] >= min_support) & (rules["confidence"] >= min_confidence)
                 & (rules["lift"] >= min_lift)]
    if item:
        kept = kept[kept["antecedent"].map(lambda a: item in a.split(" + "))]
    return kept.sort_values("rank")


def _heatmap(frame: pd.DataFrame, x: str, y: str, value: str, title: str, mid: float, fmt: str,
             domain: list[float] | None = None, rows: list[str] | None = None) -> alt.LayerChart:
    """A diverging heatmap (blue below ``mid``, red above), as the reports' ``vlag`` ones."""
    scale = alt.Scale(scheme="redblue", reverse=True, domainMid=mid, **({"domain": domain} if domain else {}))
    labels = alt.Axis(labelAngle=-45, labelLimit=200, labelOverlap=False)
    base = alt.Chart(frame).encode(x=alt.X(f"{x}:N", title=None, axis=labels),
                                   y=alt.Y(f"{y}:N", title=None, sort=rows or "ascending"))
    return (base.mark_rect().encode(color=alt.Color(f"{value}:Q", scale=scale, title=title),
                                    tooltip=[y, x, alt.Tooltip(f"{value}:Q", format=fmt)])
            + base.mark_text(fontSize=10).encode(text=alt.Text(f"{value}:Q", format=fmt)))


def render() -> None:
    chosen = ui.selection()
    st.title(f"Affinity · {chosen.run.run_date}")

    st.subheader("Association rules")
    kind = st.radio("Rules over", list(RULES), horizontal=True, key="affinity_kind")
    name = RULES[kind]
    rules = ui.load(LOYALTY_MART, name)
    if rules is not None and rules.empty:
        st.info(f"The run found no {kind} rule above its thresholds in its window "
                "(too few baskets, or min_support / min_confidence set high).")
    elif rules is not None:
        columns = st.columns(3)
        min_support = columns[0].slider("Minimum support", 0.0, float(rules["support"].max()), 0.0,
                                        step=0.001, format="%.3f", key=f"affinity_support_{kind}")
        min_confidence = columns[1].slider("Minimum confidence", 0.0, 1.0, 0.0, step=0.01,
                                           key=f"affinity_confidence_{kind}")
        min_lift = columns[2].slider("Minimum lift", 0.0, float(rules["lift"].max()), 0.0, step=0.1,
                                     key=f"affinity_lift_{kind}")
        labels = items_of(rules)
        picked = st.selectbox(f"What goes with… (a {ITEM[kind]})", [ANY, *labels],
                              format_func=lambda i: labels.get(i, i), key=f"affinity_item_{kind}")
        shown = filter_rules(rules, min_support, min_confidence, min_lift, None if picked == ANY else picked)
        left, right = st.columns(2)
        left.metric("Rules shown", ui.count(len(shown)), border=True, help=f"of {len(rules)} exported rules")
        right.metric("Highest lift", "n/a" if shown.empty else f"{shown['lift'].max():.2f}", border=True)
        if shown.empty:
            st.info("No exported rule passes these thresholds: lower a slider or pick another item.")
        else:
            named = "consequent_name" in shown  # product rules read better by name
            head = shown.head(15).assign(rule=lambda f: (f["antecedent_names"] + " → " + f["consequent_name"])
                                         if named else (f["antecedent"] + " → " + f["consequent"]))
            ui.chart(alt.Chart(head).mark_bar(color=ui.BLUE).encode(
                x=alt.X("lift:Q", title="lift (1 = independent)"),
                y=alt.Y("rule:N", sort=alt.EncodingSortField("rank"), title=None, axis=alt.Axis(labelLimit=420)),
                tooltip=["rule", "count", alt.Tooltip("support:Q", format=".3f"),
                         alt.Tooltip("confidence:Q", format=".2f"), alt.Tooltip("lift:Q", format=".2f")],
            ).properties(title=f"Top {len(head)} {kind} rules by lift"))
        ui.table(shown, name)

    st.subheader("Category affinity by segment")
    affinity = ui.load_rows(LOYALTY_MART, "segment_category_affinity", "segment spend by category")
    if affinity is not None:
        ui.chart(_heatmap(affinity, "category", "segment", "affinity_index", "affinity index", 100, ".0f",
                          rows=list(ui.SEGMENTS))
                 .properties(title="Category affinity by segment (100 = all segmented customers)"))
        ui.table(affinity, "segment_category_affinity")

    st.subheader("Category correlation")
    correlation = ui.load_rows(LOYALTY_MART, "category_correlation", "category purchase days")
    if correlation is not None:
        customers = int(correlation["customers"].iloc[0])
        ui.chart(_heatmap(correlation, "other_category", "category", "spearman_rho", "Spearman", 0, ".2f", [-1, 1])
                 .properties(title=f"Co-purchase of categories (purchase days, {customers} customers)"))
        ui.table(correlation, "category_correlation")


if __name__ == "__main__":  # run as a page of the app
    render()
