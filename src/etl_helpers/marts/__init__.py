"""The marts, declared as data: every table once
(:data:`TABLES`), every chart once (:data:`CHARTS`), and one path to build them; their
parameters are declared once in :mod:`etl_helpers.parameters` (:data:`PARAMETERS`).

- :func:`compute` runs a table as of a run date (a ``datetime.date``): it checks once that the
  aggregates the table reads are current, then runs ``sql/marts/<sql>.sql`` (run date,
  parameters and window bounds bound) or the table's ``derive`` function;
- :func:`build` computes and writes ``<name>.csv`` and ``<name>.parquet`` sorted by its key;
- :func:`draw` draws a chart from its table; :func:`open_run` is what a notebook calls: it
  converts the run date once, picks the export folder and builds, exports and shows tables
  and charts (:class:`MartRun`).

Adding a table: write ``sql/marts/<mart>_<name>.sql`` (bound values ``%(run_date)s`` and the
parameters it lists), add one :class:`MartTable` to :data:`TABLES`, and its test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg

from etl_helpers import aggregates, charts, db
from etl_helpers.exports import SavedChart, save_chart, write_table
from etl_helpers.marts import fidelite, rules, ventes
from etl_helpers.marts.query import read_sql_file, whole_months, window
from etl_helpers.parameters import PARAMETERS, Parameter
from etl_helpers.settings import MART_NAMES, Settings, load_settings

__all__ = [
    "CHARTS",
    "PARAMETERS",
    "TABLES",
    "MartRun",
    "MartTable",
    "Parameter",
    "build",
    "compute",
    "draw",
    "open_run",
    "parameters",
    "scratch_dir",
    "whole_months",
    "window",
]

log = logging.getLogger(__name__)

FIDELITE, VENTE = MART_NAMES


# --------------------------------------------------------------------------- parameters


def parameters(mart: str, names: tuple[str, ...], given: dict[str, Any] | None = None) -> dict[str, Any]:
    """The values of the mart parameters ``names``: given ones checked against their bounds,
    the others their declared default."""
    declared = PARAMETERS[mart]
    given = given or {}
    unknown = set(given) - set(names)
    if unknown:
        raise TypeError(f"unknown parameter(s) {', '.join(sorted(unknown))}; this takes {', '.join(names) or 'none'}")
    return {
        name: declared[name].check(name, given[name]) if name in given else declared[name].default for name in names
    }


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class MartTable:
    """One exported table of a mart.

    Either ``sql`` (``sql/marts/<sql>.sql``, run with ``run_date``, the ``params`` and the
    ``bounds(run_date)`` bound) or ``derive(conn, run_date, *input_frames, **params)``.
    ``reads``: the aggregates it reads, checked current before it runs. ``inputs``: other
    tables passed to ``derive``. ``measure``: the column that says whether the window holds data.
    """

    name: str
    mart: str
    sort_by: tuple[str, ...]  # the table's key: a stable row order for byte-identical exports
    sql: str | None = None
    reads: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    derive: Callable[..., pd.DataFrame] | None = None
    bounds: Callable[[date], dict[str, date]] | None = None
    measure: str | None = None


_CUSTOMER_DAY = ("agg_customer_store_day",)
_CUSTOMER_DAY_AND_POINTS = ("agg_customer_store_day", "agg_loyalty_store_day")
_PRODUCT_REGION = ("agg_product_region_day", "agg_product_region_month")
_CUSTOMER_CATEGORY_MONTH = ("agg_customer_category_month",)


def _top_products(
    by: str,
    sort_by: tuple[str, ...],
    top_n: str = "group_top_n",
    bounds: Callable[[date], dict[str, date]] = ventes.trailing_year,
) -> MartTable:
    """A ``top_products_by_<by>`` table: the products ranked by net quantity, from the monthly
    product aggregate (``sql/marts/vente_top_products_by_<by>.sql``)."""
    name = f"top_products_by_{by}"
    return MartTable(name, VENTE, sort_by, sql=f"vente_{name}", reads=_PRODUCT_REGION, params=(top_n,), bounds=bounds)


TABLES: dict[str, MartTable] = {
    t.name: t
    for t in (
        # fact_fidelite_mart
        MartTable(
            "rfm_customers",
            FIDELITE,
            ("customer_code",),
            sql="fidelite_rfm_customers",
            reads=("agg_customer_store_day", "agg_customer_store_month"),
            params=("window_days",),
            measure="frequency",
        ),
        MartTable(
            "segments_by_store",
            FIDELITE,
            ("store_code", "segment_order"),
            inputs=("rfm_customers",),
            derive=fidelite.segments_table("store"),
            measure="customers",
        ),
        MartTable(
            "segments_by_region",
            FIDELITE,
            ("region_code", "segment_order"),
            inputs=("rfm_customers",),
            derive=fidelite.segments_table("region"),
            measure="customers",
        ),
        MartTable(
            "segments_by_brand",
            FIDELITE,
            ("banner", "segment_order"),
            inputs=("rfm_customers",),
            derive=fidelite.segments_table("brand"),
            measure="customers",
        ),
        MartTable(
            "loyalty_kpis",
            FIDELITE,
            ("store_code", "month"),
            sql="fidelite_loyalty_kpis",
            reads=_CUSTOMER_DAY_AND_POINTS,
            params=("kpi_months",),
            measure="net_sales",
        ),
        MartTable(
            "penetration_by_region",
            FIDELITE,
            ("region_code",),
            sql="fidelite_penetration_by_region",
            reads=_CUSTOMER_DAY,
            params=("window_days",),
            measure="active_members",
        ),
        MartTable(
            "top_loyal_clients_by_store",
            FIDELITE,
            ("store_code", "rank"),
            sql="fidelite_top_loyal_clients_by_store",
            reads=_CUSTOMER_DAY,
            params=("window_days", "top_n"),
        ),
        MartTable(
            "top_stores_by_loyal_customers",
            FIDELITE,
            ("rank",),
            sql="fidelite_top_stores_by_loyal_customers",
            reads=_CUSTOMER_DAY_AND_POINTS,
            params=("window_days",),
            measure="active_members",
        ),
        MartTable(
            "product_rules",
            FIDELITE,
            ("rank",),
            reads=rules.PRODUCT_AGGREGATES,
            derive=rules.product_rules,
            params=("window_days", "min_support", "min_confidence", "max_len"),
        ),
        MartTable(
            "category_rules",
            FIDELITE,
            ("rank",),
            reads=rules.CATEGORY_AGGREGATES,
            derive=rules.category_rules,
            params=("window_days", "category_min_support", "category_min_confidence", "max_len"),
        ),
        MartTable(
            "segment_category_affinity",
            FIDELITE,
            ("segment", "target_rank"),
            inputs=("rfm_customers",),
            reads=_CUSTOMER_CATEGORY_MONTH,
            derive=fidelite.segment_category_affinity,
            params=("window_days", "target_top_n"),
        ),
        MartTable(
            "category_correlation",
            FIDELITE,
            ("category", "other_category"),
            reads=_CUSTOMER_CATEGORY_MONTH,
            derive=fidelite.category_correlation,
            params=("window_days",),
        ),
        # fact_vente_mart
        _top_products("quantity", ("rank",), "top_n"),
        _top_products("category", ("category", "rank")),
        _top_products("region", ("region_code", "rank")),
        _top_products("year", ("year", "rank"), bounds=ventes.whole_history),
        MartTable(
            "sales_by_region_month",
            VENTE,
            ("month", "region_code"),
            sql="vente_sales_by_region_month",
            reads=("agg_sales_store_month",),
            measure="revenue",
        ),
        MartTable(
            "sales_by_store_month",
            VENTE,
            ("month", "store_code"),
            sql="vente_sales_by_store_month",
            reads=("agg_sales_store_month",),
            measure="revenue",
        ),
        MartTable(
            "sales_by_category_month",
            VENTE,
            ("month", "category"),
            sql="vente_sales_by_category_month",
            reads=("agg_category_day",),
            measure="revenue",
        ),
        MartTable(
            "sales_daily",
            VENTE,
            ("sale_date",),
            sql="vente_sales_daily",
            reads=("agg_sales_store_day",),
            params=("daily_days",),
            measure="revenue",
        ),
        MartTable(
            "sales_by_weekday_hour",
            VENTE,
            ("day_of_week", "hour"),
            sql="vente_sales_by_weekday_hour",
            reads=("agg_sales_hour_day",),
            measure="revenue",
        ),
        MartTable(
            "sales_period_comparison",
            VENTE,
            ("period", "dimension", "code"),
            sql="vente_sales_period_comparison",
            reads=("agg_sales_store_day",),
            measure="revenue",
        ),
    )
}


def _table(name: str) -> MartTable:
    if name not in TABLES:
        raise KeyError(f"unknown mart table {name!r}; one of {', '.join(TABLES)}")
    return TABLES[name]


def compute(
    conn: psycopg.Connection, name: str, run_date: date, *, inputs: dict[str, pd.DataFrame] | None = None, **params: Any
) -> pd.DataFrame:
    """Table ``name`` as of ``run_date``; ``params`` override the declared defaults, ``inputs``
    holds tables already computed (the others a derived table needs are computed)."""
    table = _table(name)
    if not isinstance(run_date, date):
        raise TypeError(f"run_date must be a datetime.date, got {type(run_date).__name__}")
    values = parameters(table.mart, table.params, params)
    inputs = inputs or {}
    frames = [inputs[i] if i in inputs else compute(conn, i, run_date) for i in table.inputs]
    if table.reads:
        aggregates.check_current(conn, table.reads)  # the one staleness check of a build
    if table.sql is not None:
        bounds = table.bounds(run_date) if table.bounds else {}
        return read_sql_file(conn, table.sql, run_date=run_date, **values, **bounds)
    assert table.derive is not None, name
    return table.derive(conn, run_date, *frames, **values)


def export(frame: pd.DataFrame, name: str, directory: Path) -> list[Path]:
    """Write ``<name>.csv`` and ``<name>.parquet`` into ``directory``, sorted by the table's key."""
    return write_table(frame, name, directory, sort_by=list(_table(name).sort_by))


def build(conn: psycopg.Connection, name: str, run_date: date, directory: Path, **params: Any) -> pd.DataFrame:
    """Compute table ``name`` as of ``run_date``, export it into ``directory``, and return it."""
    frame = compute(conn, name, run_date, **params)
    export(frame, name, directory)
    return frame


def is_empty(name: str, frame: pd.DataFrame) -> bool:
    """Whether the table holds no data for its window (no row, or its measure zero everywhere)."""
    measure = _table(name).measure
    return frame.empty or (measure is not None and measure in frame and not (frame[measure].fillna(0) != 0).any())


# --------------------------------------------------------------------------- charts


@dataclass(frozen=True)
class Chart:
    """A chart of a mart: drawn from ``table`` by ``draw(frame, currency=..., **params)``."""

    name: str
    mart: str
    table: str
    draw: Callable[..., Any]
    params: tuple[str, ...] = ()


CHARTS: dict[str, Chart] = {
    c.name: c
    for c in (
        Chart("segment_distribution", FIDELITE, "rfm_customers", fidelite.plot_segment_distribution),
        Chart("segments_by_region", FIDELITE, "segments_by_region", fidelite.plot_segments_by_region),
        Chart("segments_by_brand", FIDELITE, "segments_by_brand", fidelite.plot_segments_by_brand),
        Chart("loyalty_trend", FIDELITE, "loyalty_kpis", fidelite.plot_loyalty_trend),
        Chart("penetration_by_region", FIDELITE, "penetration_by_region", fidelite.plot_penetration),
        Chart("top_product_rules", FIDELITE, "product_rules", rules.plot_product_rules, ("top_rules",)),
        Chart("top_category_rules", FIDELITE, "category_rules", rules.plot_category_rules, ("top_rules",)),
        Chart("segment_category_affinity", FIDELITE, "segment_category_affinity", fidelite.plot_segment_affinity),
        Chart("category_correlation", FIDELITE, "category_correlation", fidelite.plot_category_correlation),
        Chart("top_products", VENTE, "top_products_by_quantity", ventes.plot_top_products),
        Chart("monthly_sales_by_region", VENTE, "sales_by_region_month", ventes.plot_monthly_sales_by_region),
        Chart("sales_daily", VENTE, "sales_daily", ventes.plot_sales_daily),
        Chart("sales_by_weekday_hour", VENTE, "sales_by_weekday_hour", ventes.plot_weekday_hour),
        Chart("sales_period_comparison", VENTE, "sales_period_comparison", ventes.plot_period_comparison),
    )
}


def draw(name: str, frame: pd.DataFrame, currency: str = charts.DEFAULT_CURRENCY, **params: Any):
    """Chart ``name`` drawn from its table's frame (a matplotlib Figure)."""
    if name not in CHARTS:
        raise KeyError(f"unknown mart chart {name!r}; one of {', '.join(CHARTS)}")
    chart = CHARTS[name]
    return chart.draw(frame, currency=charts.check_currency(currency), **parameters(chart.mart, chart.params, params))


# --------------------------------------------------------------------------- a notebook's run


def scratch_dir(mart: str, run_date: date, settings: Settings | None = None) -> Path:
    """``exports/scratch/<mart>/<date>/``: where a notebook run by hand writes (never a run's exports)."""
    return (settings or load_settings()).exports_dir / "scratch" / mart / run_date.isoformat()


@dataclass
class MartRun:
    """One notebook's work on a mart: its run date, parameters, currency and export folder.

    ``table(name)`` computes, exports and returns a table (warning when its window is empty);
    ``report(name)`` does the same and formats it for the report; ``chart(name)`` draws and
    saves a chart from its table; ``show(frame, name)`` formats any frame. Tables are computed
    once per run and reused (``compute(name)``: without exporting).
    """

    mart: str
    run_date: date
    directory: Path
    conn: psycopg.Connection
    currency: str = charts.DEFAULT_CURRENCY
    params: dict[str, Any] = field(default_factory=dict)
    is_scratch: bool = False
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    def compute(self, name: str) -> pd.DataFrame:
        if name not in self.frames:
            table = _table(name)
            inputs = {i: self.compute(i) for i in table.inputs}
            params = {k: v for k, v in self.params.items() if k in table.params}
            self.frames[name] = compute(self.conn, name, self.run_date, inputs=inputs, **params)
        return self.frames[name]

    def table(self, name: str) -> pd.DataFrame:
        frame = self.compute(name)
        export(frame, name, self.directory)
        if is_empty(name, frame):
            charts.display(
                charts.warn(f"{name}: no data in its window as of {self.run_date} (the tables and charts are empty)")
            )
        return frame

    def chart(self, name: str) -> SavedChart:
        chart = CHARTS[name]
        params = {k: v for k, v in self.params.items() if k in chart.params}
        figure = draw(name, self.compute(chart.table), self.currency, **params)
        return save_chart(figure, name, self.directory)

    def report(self, name: str, rows: int = charts.TABLE_ROWS, last: bool = False) -> charts.ReportTable:
        """:meth:`table` (computed, exported), formatted for the report (``last``: its last rows)."""
        return self.show(self.table(name), name, rows, last)

    def show(
        self, frame: pd.DataFrame, name: str | None = None, rows: int = charts.TABLE_ROWS, last: bool = False
    ) -> charts.ReportTable:
        """Any frame formatted for the report (``name``: the CSV file that holds the rest)."""
        return charts.show_table(frame, name, rows=rows, currency=self.currency, last=last)

    def close(self) -> None:
        self.conn.close()

    def _repr_markdown_(self) -> str:
        where = (
            f"**scratch folder** `{self.directory}` (a notebook run outside the pipeline: nothing here "
            "is a run's published export)"
            if self.is_scratch
            else f"`{self.directory}`"
        )
        params = ", ".join(f"`{k} = {v}`" for k, v in self.params.items()) or "none"
        return (
            f"**{self.mart}** as of **{self.run_date.isoformat()}** · amounts in {self.currency} · "
            f"parameters: {params}  \nwriting to {where}"
        )

    def __repr__(self) -> str:
        return self._repr_markdown_().replace("**", "").replace("`", "")


def open_run(
    mart: str,
    run_date: str,
    *,
    export_dir: str = "",
    currency: str = charts.DEFAULT_CURRENCY,
    settings: Settings | None = None,
    **params: Any,
) -> MartRun:
    """What a mart notebook calls first: the run date converted once (ISO text -> ``date``), the
    parameters checked, the export folder chosen (``export_dir`` when given, the scratch folder
    otherwise, said in the output), and a connection."""
    if mart not in PARAMETERS:
        raise ValueError(f"unknown mart {mart!r}; one of {', '.join(PARAMETERS)}")
    day = date.fromisoformat(run_date)
    unknown = sorted(set(params) - set(PARAMETERS[mart]))
    if unknown:
        raise TypeError(f"unknown {mart} parameter(s) {', '.join(unknown)}; one of {', '.join(PARAMETERS[mart])}")
    parameters(mart, tuple(params), params)  # checked before anything is written
    charts.check_currency(currency)
    settings = settings or load_settings()
    directory = Path(export_dir) if export_dir else scratch_dir(mart, day, settings)
    directory.mkdir(parents=True, exist_ok=True)
    if not export_dir:
        log.info("%s as of %s: writing to the scratch folder %s", mart, day, directory)
    return MartRun(
        mart, day, directory, db.connect(settings, autocommit=True), currency, dict(params), is_scratch=not export_dir
    )
