"""Screenshots of the coordinators' dashboard at crisis size, for docs/coordinators.md.

    DATABASE_URL=sqlite:///crisis.sqlite3 .venv/bin/python manage.py migrate
    DATABASE_URL=sqlite:///crisis.sqlite3 .venv/bin/python manage.py load_crisis_demo
    DATABASE_URL=sqlite:///crisis.sqlite3 MAP_TILE_URL= .venv/bin/daphne -p 8000 mutualaid.asgi:application &
    .venv/bin/python scripts/dashboard_screenshots.py --base-url http://127.0.0.1:8000

Signs in as the demo coordinator in headless Chromium (the browser tests' set-up) and saves
two PNGs into docs/images/: the request list searched and filtered, and the clustered map
with its legend. Without map tiles (MAP_TILE_URL empty) the map shows the marks only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

from tests.e2e.browser import log_in, new_browser  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", default="coordinator")
    parser.add_argument("--password", default="leuven-helpt")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "images")
    arguments = parser.parse_args()
    arguments.output.mkdir(parents=True, exist_ok=True)
    browser = new_browser()
    try:
        browser.set_window_size(1100, 2600)  # tall: an element's screenshot stops at the window's edge
        log_in(browser, arguments.base_url, arguments.username, arguments.password)
        # A caller phones about their request: found by part of their number, urgent ones first.
        browser.get(f"{arguments.base_url}/coordinator/?q=0470+1&sort=urgency&waiting=1h")
        section = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=requests-heading]")
        browser.execute_script(
            "arguments[0].querySelectorAll('tbody tr').forEach((row, i) => { if (i >= 6) row.remove(); });",
            section,
        )
        section.screenshot(str(arguments.output / "dashboard-crisis-requests.png"))
        browser.get(f"{arguments.base_url}/coordinator/")
        WebDriverWait(browser, 30).until(
            lambda driver: driver.find_elements(By.CSS_SELECTOR, "#community-map .map-cluster")
        )
        time.sleep(1)  # chunked loading and the fitting animation settle
        map_section = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=map-heading]")
        browser.execute_script("arguments[0].scrollIntoView();", map_section)
        map_section.screenshot(str(arguments.output / "dashboard-crisis-map.png"))
    finally:
        browser.quit()
    for name in ("dashboard-crisis-requests.png", "dashboard-crisis-map.png"):
        path = arguments.output / name
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1000} kB")


if __name__ == "__main__":
    main()
