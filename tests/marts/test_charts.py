"""The shared chart and report helpers, and the chart defects fixed on the figures themselves:
each test renders the figure and measures where its texts land."""

from __future__ import annotations

import math
from datetime import date
from itertools import combinations

import matplotlib.dates as mdates
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from etl_helpers import charts, marts
from etl_helpers.marts import fidelite, ventes

REGIONS = [f"R{i:02d}" for i in range(1, 13)]


def _render(figure):
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return canvas.get_renderer()


def _overlapping(boxes) -> list:
    return [(a, b) for (a, box_a), (b, box_b) in combinations(boxes, 2) if box_a.overlaps(box_b)]


def test_segments_by_brand_legend_is_clear_of_the_axis_label():
    banners = ["hyper", "super", "proxi", "drive"]
    frame = pd.DataFrame([{"banner": b, "segment": s, "customers": 10 + i, "customer_share": 1 / 8}
                          for b in banners for i, s in enumerate(fidelite.SEGMENTS)])
    figure = marts.draw("segments_by_brand", frame)
    renderer = _render(figure)
    ax = figure.axes[0]
    label = ax.xaxis.label.get_window_extent(renderer)
    legend = ax.get_legend().get_window_extent(renderer)
    assert ax.xaxis.label.get_text() == "share of customers"
    assert not label.overlaps(legend)
    ticks = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
    assert not any(t.overlaps(legend) for t in ticks)


def _comparison(groups: int) -> pd.DataFrame:
    rows = []
    for period in ("month_to_date", "year_to_date"):
        for dimension, codes in (("region", REGIONS[:groups]), ("banner", ["hyper", "super", "proxi"])):
            for i, code in enumerate(codes):
                rows.append({"period": period, "dimension": dimension, "code": code,
                             "revenue": 100_000 + 1_000 * i, "previous_revenue": 95_000 + 900 * i,
                             "revenue_growth_pct": 5.26 + i / 10, "current_start": date(2026, 11, 1),
                             "current_end": date(2026, 11, 30), "previous_start": date(2025, 11, 1),
                             "previous_end": date(2025, 11, 30)})
    return pd.DataFrame(rows)


def test_sales_period_comparison_labels_do_not_collide_at_twelve_regions():
    figure = marts.draw("sales_period_comparison", _comparison(12))
    renderer = _render(figure)
    for ax in figure.axes:
        labels = [(t.get_text(), t.get_window_extent(renderer)) for t in ax.get_yticklabels() if t.get_text()]
        if "region" in ax.get_title():
            assert len(labels) == 12
            assert all("%" in text for text, _ in labels)  # each group shows its growth
        assert _overlapping(labels) == [], ax.get_title()


def test_monthly_sales_by_region_is_one_readable_panel_per_region_at_twelve_regions():
    months = pd.date_range("2025-12-01", "2026-11-01", freq="MS").date
    frame = pd.DataFrame([{"month": m, "region_name": r, "revenue": 1000.0 * (i + 1) + j,
                           "period_end": date(2026, 11, 30), "is_partial_month": m == months[-1]}
                          for i, r in enumerate(REGIONS) for j, m in enumerate(months)])
    figure = marts.draw("monthly_sales_by_region", frame)
    renderer = _render(figure)
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert len(panels) == 12
    assert sorted(ax.get_title() for ax in panels) == REGIONS
    assert all(len(ax.get_lines()) == 1 for ax in panels)     # one line a panel: no tangle of colours
    titles = [(ax.get_title(), ax.title.get_window_extent(renderer)) for ax in panels]
    assert _overlapping(titles) == []


def test_monthly_panels_label_a_few_months_by_name_without_overlap_over_two_years():
    months = pd.date_range("2024-12-01", "2026-11-01", freq="MS").date
    frame = pd.DataFrame([{"month": m, "region_name": r, "revenue": 1000.0 + j, "period_end": date(2026, 11, 30),
                           "is_partial_month": m == months[-1]} for r in REGIONS[:5] for j, m in enumerate(months)])
    figure = marts.draw("monthly_sales_by_region", frame)
    _render(figure)
    bottom = [ax for ax in figure.axes if ax.get_visible() and any(t.get_text() for t in ax.get_xticklabels())]
    assert bottom, "no panel labels its months"
    for ax in bottom:
        labels = [t for t in ax.get_xticklabels() if t.get_text()]
        assert [t.get_text() for t in labels] == ["Dec 2024", "Mar 2025", "Jun 2025", "Sep 2025", "Dec 2025",
                                                  "Mar 2026", "Jun 2026", "Sep 2026"]
        # labels slanted 45 degrees are parallel strips: apart when their ticks are more than a line apart across
        across = [step * math.sin(math.radians(labels[0].get_rotation())) for step in
                  pd.Series([ax.transData.transform((tick, 0))[0] for tick in ax.get_xticks()]).diff().dropna()]
        assert min(across) > labels[0].get_fontsize() * figure.dpi / 72
        low, high = ax.get_xlim()  # every month plotted lies within the axis
        assert low <= mdates.date2num(pd.Timestamp(months[0])) and mdates.date2num(pd.Timestamp(months[-1])) <= high


def test_amounts_are_labelled_in_the_currency_of_the_source():
    frame = pd.DataFrame({"sale_date": pd.date_range("2026-11-01", "2026-11-07").date,
                          "revenue": [1200.0, 800, 0, 950, 1100, 1500, 400], "is_weekend": [False] * 5 + [True] * 2,
                          "revenue_7d_avg": [900.0] * 7})
    for currency, symbol, other in (("USD", "$", "€"), ("EUR", "€", "$")):
        figure = marts.draw("sales_daily", frame, currency=currency)
        _render(figure)
        ticks = [t.get_text() for t in figure.axes[0].get_yticklabels() if t.get_text()]
        assert ticks and all(symbol in t and other not in t for t in ticks), ticks
    assert charts.currency_for("superstore") == "USD"
    assert charts.currency_for("demo") == charts.currency_for("canonical") == "EUR"
    with pytest.raises(ValueError, match="currency"):
        marts.draw("sales_daily", frame, currency="GBP")


def test_report_tables_are_formatted_for_people():
    frame = pd.DataFrame({"region_code": [f"R{i}" for i in range(25)], "revenue": [1234.5] * 25,
                          "customer_share": [0.823447] * 25, "revenue_growth_pct": [None] + [3.14159] * 24})
    table = charts.show_table(frame, "sales_by_region", rows=20)
    html = table._repr_html_()
    assert "82.3 %" in html and "0.823447" not in html
    assert "1\u202f234.50 €" in html
    assert "NaN" not in html and "nan" not in html
    assert "… 5 more in sales_by_region.csv" in html
    assert html.count("<tr") == 21                           # the header and 20 rows
    assert "<th class=\"row_heading" not in html and "blank level0" not in html  # no index
    assert "$1,234.50" in charts.show_table(frame.head(1), currency="USD")._repr_html_()
    numbers = charts.show_table(pd.DataFrame({"quantity": [659.0, 1077.0], "lift": [3.456789, 1.5]}))._repr_html_()
    assert ">659<" in numbers and ">3.4568<" in numbers and ">1.5<" in numbers and "659.000000" not in numbers
    latest = charts.show_table(frame, "sales_by_region", rows=3, last=True)
    assert latest.shown()["region_code"].tolist() == ["R22", "R23", "R24"]
    assert "… 22 earlier rows in sales_by_region.csv" in latest._repr_html_()


def test_weekday_hour_chart_names_the_currency():
    frame = pd.DataFrame([{"day_of_week": d, "weekday": f"d{d}", "hour": h, "revenue": 10.0,
                           "revenue_per_day": 1.0} for d in range(1, 8) for h in range(24)])
    figure = ventes.plot_weekday_hour(frame, currency="USD")
    assert any("$ per day" in ax.get_ylabel() for ax in figure.axes)
