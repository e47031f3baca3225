"""The dashboard's entry point: ``make dashboard`` (or ``streamlit run dashboard/app.py``).

Reads the published exports of the runs (``$DASHBOARD_EXPORTS_DIR``, else the project's
``exports/``), never the database. The sidebar's run-date picker lists the dates whose
published run succeeded, newest first; every page shows that run.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import data, layout, ui  # noqa: E402

PAGES = [
    st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", url_path="overview", default=True),
    st.Page("views/loyalty.py", title="Loyalty", icon=":material/loyalty:", url_path="loyalty"),
    st.Page("views/affinity.py", title="Affinity", icon=":material/shopping_basket:", url_path="affinity"),
    st.Page("views/sales.py", title="Sales", icon=":material/storefront:", url_path="sales"),
    st.Page("views/runs.py", title="Runs", icon=":material/history:", url_path="runs"),
]


def main() -> None:
    st.set_page_config(page_title="Loyalty & sales dashboard", page_icon=":material/dashboard:", layout="wide")
    page = st.navigation(PAGES)
    root = layout.exports_dir()
    succeeded = data.succeeded_runs(root)
    if not succeeded:
        st.title("Loyalty & sales dashboard")
        st.info(f"No successful run is published in `{root}` yet. Make one with `make run` "
                "(or `python run_pipeline.py --date YYYY-MM-DD`), then reload this page. "
                f"To read another exports folder, start the dashboard with {layout.EXPORTS_ENV}=/path/to/exports.")
        return
    dates = [run.run_date for run in succeeded]
    wanted = st.query_params.get("date")
    chosen_date = st.sidebar.selectbox(
        "Run date", dates, index=dates.index(wanted) if wanted in dates else 0, key="run_date",
        help="The dates whose published run succeeded, newest first")
    index = dates.index(chosen_date)
    run = succeeded[index]
    st.session_state[ui.SELECTION_KEY] = data.Selection(
        root=root, run=run, previous=succeeded[index + 1] if index + 1 < len(succeeded) else None)
    st.sidebar.caption(f"Run {run.run_id} · source {run.source or 'unknown'} · {run.currency}  \n"
                       f"Exports: `{root}`")
    page.run()


main()
