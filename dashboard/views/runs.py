"""Runs: the history (date, status, duration, rows loaded and rejected), a run's steps with
links that open their HTML reports, and its rejected rows by reason."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard import data, ui
from dashboard.data import ExportMissing, ExportRefused
from dashboard.layout import Run

REPORT_PARAM, RUN_PARAM = "report", "run"


def _seconds(run: Run) -> float | None:
    try:
        started, finished = datetime.fromisoformat(run.started_at), datetime.fromisoformat(run.finished_at)
    except (TypeError, ValueError):
        return None
    return (finished - started).total_seconds()


def history_table(runs: list[Run]) -> pd.DataFrame:
    return pd.DataFrame([{
        "run_date": run.run_date,
        "run_id": run.run_id,
        "status": run.status,
        "published": run.published,
        "source": run.source,
        "started_at": run.started_at,
        "duration_s": _seconds(run),
        "steps_succeeded": sum(s.get("status") == "succeeded" for s in run.steps),
        "steps_reused": sum(s.get("status") == "reused" for s in run.steps),  # results of an earlier run kept
        "steps": len(run.steps),
        "files_loaded": len(run.loads),
        "rows_loaded": sum(int(load.get("rows_loaded") or 0) for load in run.loads),
        "rows_rejected": sum(int(load.get("rows_rejected") or 0) for load in run.loads),
    } for run in runs])


def steps_table(run: Run) -> pd.DataFrame:
    return pd.DataFrame([{
        "notebook": step.get("notebook"),
        "mart": step.get("mart"),
        "status": step.get("status"),
        "seconds": step.get("seconds"),
        "error": step.get("error"),
        "report": (f"?{RUN_PARAM}={run.key}&{REPORT_PARAM}={step.get('notebook')}"
                   if step.get("html_report") else None),
    } for step in run.steps])


def _show_report(root, runs: list[Run]) -> None:
    key, notebook = st.query_params.get(RUN_PARAM), st.query_params.get(REPORT_PARAM)
    run = next((r for r in runs if r.key == key), None)
    step = next((s for s in (run.steps if run else []) if s.get("notebook") == notebook), None)
    if step is None or not step.get("html_report"):
        st.warning(f"No report {notebook!r} in run {key!r}.")
        return
    st.subheader(f"Report {notebook} · run {run.run_id} of {run.run_date}")
    try:
        path = data.verified_report(root, run, step["html_report"])
    except ExportRefused as refused:
        st.error(f"Refused: {refused}.", icon=":material/block:")
        return
    except ExportMissing as missing:
        st.info(f"Nothing to show: {missing}.")
        return
    st.iframe(path, height=900)


def render() -> None:
    chosen = ui.selection()
    root = chosen.root
    st.title("Runs")
    runs = data.run_history(root)
    if st.query_params.get(REPORT_PARAM):
        _show_report(root, runs)
        st.divider()

    history = history_table(runs)
    columns = st.columns(3)
    columns[0].metric("Runs recorded", ui.count(len(history)), border=True)
    columns[1].metric("Succeeded", ui.count((history["status"] == "succeeded").sum()), border=True)
    columns[2].metric("Failed", ui.count((history["status"] != "succeeded").sum()), border=True)
    st.subheader("History")
    ui.table(history, "run_history")

    st.subheader("A run's steps and reports")
    keys = [run.key for run in runs]
    default = next((i for i, r in enumerate(runs) if r.run_date == chosen.run.run_date and r.published), 0)
    key = st.selectbox("Run", keys, index=default, key="runs_run",
                       format_func=lambda k: f"{k} ({next(r.status for r in runs if r.key == k)})")
    run = runs[keys.index(key)]
    summary = history[history["run_id"].eq(run.run_id) & history["run_date"].eq(run.run_date)].iloc[0]
    columns = st.columns(3)
    columns[0].metric("Rows loaded", ui.count(summary["rows_loaded"]), border=True)
    columns[1].metric("Rows rejected", ui.count(summary["rows_rejected"]), border=True)
    columns[2].metric("Duration", "n/a" if pd.isna(summary["duration_s"]) else f"{summary['duration_s']:.0f} s",
                      border=True)
    if run.steps:
        st.caption("Each report opens in a new tab.")
        ui.table(steps_table(run), "run_steps", column_config={
            "report": st.column_config.LinkColumn("report", display_text="open report")})
    else:
        st.info("This run recorded no step.")

    st.subheader("Rejected rows by reason")
    if summary["rows_rejected"] == 0:
        st.info("This run rejected no row." if run.loads else
                "This run loaded no new file (every raw file was in the ledger already), so it rejected nothing.")
    else:
        reasons = data.rejects_by_reason(root, run.run_date)
        if reasons is None:
            st.info(f"{summary['rows_rejected']} rows were rejected, but their rejects files are not beside "
                    "this exports folder (data/processed/<date>/rejects/).")
        else:
            ui.table(reasons, "rejects_by_reason")
    if run.loads:
        loads = pd.DataFrame(run.loads)
        group = "entity" if "entity" in loads else None
        if group:
            st.subheader("Files loaded by entity")
            summary_loads = loads.groupby(group, as_index=False)[["rows_read", "rows_loaded", "rows_rejected"]].sum()
            ui.table(summary_loads, "loads_by_entity")


if __name__ == "__main__":  # run as a page of the app
    render()
