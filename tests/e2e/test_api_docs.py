"""/api/v1/docs in a real Chromium: Swagger UI renders the operations from this site's own
files, under the site's Content-Security-Policy, with nothing fetched from elsewhere."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.test import override_settings
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.e2e.browser import new_browser
from tests.e2e.test_accessibility import LIVE_SERVER_SETTINGS

# Every file the page loaded, and any CSP violation the page saw.
_COLLECT = """
window.__violations = window.__violations || [];
return {
  urls: performance.getEntriesByType("resource").map((entry) => entry.name),
  violations: window.__violations,
};
"""
_LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) =>
  window.__violations.push(event.violatedDirective + " " + event.blockedURI));
"""


@pytest.mark.browser
@override_settings(**LIVE_SERVER_SETTINGS)
class ApiDocsTests(ChannelsLiveServerTestCase):
    def setUp(self) -> None:
        self.browser = new_browser()
        # Listen for CSP violations before any of the page's own scripts run.
        self.browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _LISTEN})

    def tearDown(self) -> None:
        self.browser.quit()

    def test_the_docs_render_offline_under_the_sites_csp(self) -> None:
        self.browser.get(f"{self.live_server_url}/api/v1/docs")
        WebDriverWait(self.browser, 20).until(
            lambda browser: browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
        )
        paths = {
            element.text for element in self.browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
        }
        assert {"/api/v1/requests", "/api/v1/categories", "/api/v1/figures"} <= {
            path.replace("\u200b", "") for path in paths
        }, paths
        seen = self.browser.execute_script(_COLLECT)
        own = urlsplit(self.live_server_url).netloc
        assert all(urlsplit(url).netloc == own for url in seen["urls"]), seen["urls"]
        assert seen["violations"] == [], seen["violations"]
