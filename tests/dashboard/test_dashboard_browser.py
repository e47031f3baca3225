"""The dashboard in a real browser: ``make dashboard`` serves the exports of two demo runs,
Debian's chromium (headless, through Selenium and the system chromedriver) opens every page,
reads key numbers, changes a filter and the run date, and saves a screenshot of each page
under tests/artifacts/."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import RUN_DATES
from dashboard import harness

from etl_helpers.settings import PROJECT_ROOT

ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
LATEST, EARLIER = RUN_DATES[-1], RUN_DATES[0]
WAIT = 90  # seconds a page may take to show what is expected on a busy machine


def number(text: str) -> float:
    return float(re.sub(r"[^0-9.\-]", "", text.replace("\u2212", "-")))


@pytest.fixture(scope="module")
def dashboard_url(published_exports, tmp_path_factory):
    """``make dashboard`` on a free port over the demo exports; stopped by its pid at the end."""
    log = tmp_path_factory.mktemp("dashboard-log") / "dashboard.log"
    with harness.serve(published_exports, log, timeout=120) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium through the system chromedriver; quit at the end."""
    missing = [p for p in (harness.CHROMIUM, harness.CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: the browser test needs Debian's chromium and its driver "
                    "(apt-get install chromium chromium-driver; .ci/run installs them)")
    with harness.chromium() as driver:
        yield driver


def _metrics(driver) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    shown = {}
    for metric in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stMetric"]'):
        label = metric.find_elements(By.CSS_SELECTOR, '[data-testid="stMetricLabel"]')
        value = metric.find_elements(By.CSS_SELECTOR, '[data-testid="stMetricValue"]')
        if label and value:
            shown[label[0].text.strip()] = value[0].text.strip()
    return shown


def _until(driver, condition, what: str):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    def check(d):
        try:
            return condition(d)
        except (StaleElementReferenceException, KeyError, ValueError):
            return False
    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.5).until(check)
    except Exception as error:
        raise AssertionError(f"the page never showed {what}; it showed {_metrics(driver)}") from error


def _metric_is(driver, label: str, expected: float, tolerance: float = 0.005):
    _until(driver, lambda d: abs(number(_metrics(d)[label]) - expected) <= tolerance, f"{label} = {expected}")


def _open(driver, url: str, page: str) -> None:
    driver.get(f"{url}/{'' if page == 'overview' else page}")  # the default page is the root
    _until(driver, lambda d: len(_metrics(d)) > 0 and not d.find_elements(
        "css selector", '[data-testid="stStatusWidget"]'), f"the {page} page")


def _screenshot(driver, page: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"dashboard-{page}.png"))


def _click_text(driver, text: str, scope: str = "") -> None:
    from selenium.webdriver.common.by import By

    element = _until(driver, lambda d: d.find_element(By.XPATH, f"{scope}//label[.//p[normalize-space()='{text}']]"),
                     f"a choice '{text}'")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def _total(exports: Path, period: str, run_date: str = LATEST) -> pd.Series:
    comparison = pd.read_parquet(exports / "fact_vente_mart" / run_date / "sales_period_comparison.parquet")
    return comparison[(comparison["period"] == period) & (comparison["dimension"] == "total")].iloc[0]


def _downloaded_rows_are(driver, folder: Path, name: str, rows: int) -> None:
    """A table's download button gives its CSV (made on the click): the rows shown, a header first."""
    from selenium.webdriver.common.by import By

    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
    button = driver.find_element(By.XPATH, f"//button[.//p[normalize-space()='Download {name}.csv']]")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    saved = _until(driver, lambda d: next(folder.glob(f"{name}_*.csv"), None), f"the {name} download")
    _until(driver, lambda d: len(pd.read_csv(saved)) == rows, f"{rows} rows in {saved.name}")


def test_every_page_in_a_real_browser(browser, dashboard_url, published_exports, tmp_path):
    from selenium.webdriver.common.by import By

    driver, exports = browser, published_exports

    # Overview: the headline of the latest run, then another period, then another run date.
    _open(driver, dashboard_url, "overview")
    _metric_is(driver, "Net sales", _total(exports, "month_to_date")["revenue"], 0.5)
    _metric_is(driver, "Average basket", _total(exports, "month_to_date")["avg_basket"])
    _metric_is(driver, "Tickets", _total(exports, "month_to_date")["tickets"], 0)
    _screenshot(driver, "overview")
    _click_text(driver, "Year to date")
    _metric_is(driver, "Net sales", _total(exports, "year_to_date")["revenue"], 0.5)
    picker = driver.find_element(By.CSS_SELECTOR, '[data-testid="stSidebar"] [data-testid="stSelectbox"]')
    picker.click()
    option = _until(driver, lambda d: next(o for o in d.find_elements(By.CSS_SELECTOR, '[role="option"]')
                                           if o.text.strip() == EARLIER), f"the run date {EARLIER} in the picker")
    option.click()
    _metric_is(driver, "Net sales", _total(exports, "year_to_date", EARLIER)["revenue"], 0.5)

    # Loyalty: customers of the run, then of one region.
    rfm = pd.read_parquet(exports / "fact_fidelite_mart" / LATEST / "rfm_customers.parquet")
    _open(driver, dashboard_url, "loyalty")
    _metric_is(driver, "Carded customers", len(rfm), 0)
    _metric_is(driver, "Champions", (rfm["segment"] == "champions").sum(), 0)
    _screenshot(driver, "loyalty")
    _downloaded_rows_are(driver, tmp_path, "rfm_customers", len(rfm))

    # Affinity: the exported rules, and their best lift.
    rules = pd.read_parquet(exports / "fact_fidelite_mart" / LATEST / "product_rules.parquet")
    _open(driver, dashboard_url, "affinity")
    _metric_is(driver, "Rules shown", len(rules), 0)
    _metric_is(driver, "Highest lift", rules["lift"].max())
    _click_text(driver, "categories")
    categories = pd.read_parquet(exports / "fact_fidelite_mart" / LATEST / "category_rules.parquet")
    _metric_is(driver, "Rules shown", len(categories), 0)
    _screenshot(driver, "affinity")

    # Sales: the top product of the trailing year, then of one region.
    top = pd.read_parquet(exports / "fact_vente_mart" / LATEST / "top_products_by_quantity.parquet")
    first = top.sort_values("rank").iloc[0]
    _open(driver, dashboard_url, "sales")
    _until(driver, lambda d: _metrics(d)["Top product"].startswith(first["product_code"]), "the top product")
    _metric_is(driver, "Its net quantity", first["quantity"], 0)
    _metric_is(driver, "Net sales, month to date", _total(exports, "month_to_date")["revenue"], 0.5)
    _screenshot(driver, "sales")
    by_region = pd.read_parquet(exports / "fact_vente_mart" / LATEST / "top_products_by_region.parquet")
    leader = by_region[(by_region["region_name"] == sorted(by_region["region_name"].unique())[0])
                       & (by_region["rank"] == 1)].iloc[0]
    _click_text(driver, "one region")
    _until(driver, lambda d: _metrics(d)["Top product"].startswith(leader["product_code"]), "the region's top product")

    # Runs: both runs, and the rows the latest loaded.
    import json

    manifest = json.loads((exports / "pipeline" / LATEST / "manifest.json").read_text())
    _open(driver, dashboard_url, "runs")
    _metric_is(driver, "Runs recorded", 2, 0)
    _metric_is(driver, "Rows loaded", sum(load["rows_loaded"] for load in manifest["loads"]), 0)
    _screenshot(driver, "runs")

    # A report link opens the step's HTML report in the page.
    driver.get(f"{dashboard_url}/runs?run={LATEST}/{manifest['run_id']}&report=51_vente_geo_time")
    _until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "iframe"), "the report")
    _screenshot(driver, "report")
