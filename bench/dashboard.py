"""The dashboard's benchmark: each page's render time and the app's peak memory on an exports folder.

    .venv/bin/python -m bench.dashboard --exports /path/to/exports   (or: make bench-dashboard DASHBOARD_EXPORTS_DIR=...)

Starts the app as ``make dashboard`` does (on a free port, over ``--exports``), opens each page
in Debian's chromium (headless, through Selenium and the system chromedriver) and times from
the navigation to the page's key figure shown with the script run finished (the app's
``data-test-script-state`` back to ``notRunning``). Each page is visited three times: ``cold``,
its address loaded in a fresh app (the tables no earlier page read are read from disk);
``warm``, loaded again (every read from the per-run cache); ``warm, in app``, by a click on its
sidebar link (no page reload, as a user moves between pages). The peak memory is the VmHWM of the
streamlit process and its children (``/proc/<pid>/status``), read after the last visit.
The app and the browser are stopped (by pid) at the end. Prints a table; ``--out`` writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil
from dashboard import harness

# page (its URL path) -> the label of the figure that says the page is there
PAGES = {"overview": "Net sales", "loyalty": "Carded customers", "affinity": "Rules shown",
         "sales": "Top product", "runs": "Runs recorded"}
# visit -> by a sidebar click (else the page's address loaded): a fresh app's first visits, then again
VISITS = {"cold": False, "warm": False, "warm, in app": True}
TIMEOUT = 300  # seconds a page may take before the benchmark gives up on it


def _shown(driver, label: str) -> bool:
    """The page's script run is over and its key figure is there."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        app = driver.find_element(By.CSS_SELECTOR, '[data-testid="stApp"]')
        if app.get_attribute("data-test-script-state") != "notRunning":
            return False
        return any(element.text.strip() == label
                   for element in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stMetricLabel"]'))
    except StaleElementReferenceException:
        return False


def time_page(driver, url: str, page: str, in_app: bool) -> float:
    """Seconds from the navigation to the page shown (its key figure, the script run over):
    the page's address loaded in the browser, or (``in_app``) its link in the sidebar clicked."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    link = (driver.find_element(By.XPATH, f'//a[@data-testid="stSidebarNavLink"][.//span[@label="{page.title()}"]]')
            if in_app else None)
    started = time.perf_counter()
    if link is not None:
        link.click()
    else:
        driver.get(f"{url}/{page}")
    WebDriverWait(driver, TIMEOUT, poll_frequency=0.05).until(lambda d: _shown(d, PAGES[page]))
    return time.perf_counter() - started


def _streamlit(make_pid: int) -> psutil.Process:
    for child in psutil.Process(make_pid).children(recursive=True):
        if "streamlit" in " ".join(child.cmdline()):
            return child
    raise RuntimeError("no streamlit process under make dashboard")


def peak_rss_mb(process: psutil.Process) -> float:
    """VmHWM (peak resident memory) of the process and its children, in MB."""
    total_kb = 0
    for each in (process, *process.children(recursive=True)):
        status = Path(f"/proc/{each.pid}/status").read_text()
        total_kb += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return total_kb / 1024


def measure(exports: Path) -> dict:
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-dashboard-{os.getpid()}.log"
    timings: dict[str, dict[str, float]] = {page: {} for page in PAGES}
    with harness.serve(exports, log, timeout=180) as (url, make_pid), harness.chromium() as driver:
        app = _streamlit(make_pid)
        for visit, in_app in VISITS.items():
            for page in PAGES:
                timings[page][visit] = round(time_page(driver, url, page, in_app), 2)
        memory = peak_rss_mb(app)
    log.unlink(missing_ok=True)
    return {
        "exports": str(exports),
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "seconds": timings,
        "peak_rss_mb": round(memory, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exports", type=Path, required=True, help="the exports folder the app reads")
    parser.add_argument("--out", type=Path, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    result = measure(args.exports.expanduser().resolve())
    print(f"{'page':<10}" + "".join(f"{visit:>14}" for visit in VISITS))
    for page, seconds in result["seconds"].items():
        print(f"{page:<10}" + "".join(f"{seconds[visit]:>13.2f}s" for visit in VISITS))
    print(f"peak RSS of the app: {result['peak_rss_mb']:.0f} MB; "
          f"{result['cpus']} CPUs, load average {result['load_average']}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
