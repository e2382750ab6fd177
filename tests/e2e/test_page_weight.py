"""Low bandwidth: the citizen's pages, as a slow phone fetches them, stay under 200 kB each.

Measured in Chromium with the browser cache off (every page loads as on a first visit),
from the Resource Timing API: the page itself plus every file it loads. The address form's
map (Leaflet) loads only when the person presses "Show the map"; that state is weighed too.
Map tiles are off in tests (MAP_TILE_URL=""); see docs/accessibility.md for what they add.
"""

from __future__ import annotations

import gzip
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.test import override_settings
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from mutualaid.aid.models import Category, Community
from tests.conftest import PASSWORD, make_user, post_request
from tests.e2e.browser import log_in, new_browser, wait_until_live_idle
from tests.e2e.test_accessibility import LIVE_SERVER_SETTINGS

BUDGET_BYTES = 200 * 1000
FONT_SUFFIXES = (".woff", ".woff2", ".ttf", ".otf", ".eot")

_MEASURE = """
const entries = [
  ...performance.getEntriesByType("navigation"),
  ...performance.getEntriesByType("resource"),
];
const loadable = "script[src], link[href]:not([rel=alternate]):not([rel=canonical]), img[src], "
  + "iframe[src], source[src], video[src], audio[src], object[data], embed[src]";
return {
  entries: entries.map((entry) => ({
    url: entry.name,
    transfer: entry.transferSize,
    body: entry.encodedBodySize,
    type: entry.initiatorType || "navigation",
  })),
  referenced: Array.from(document.querySelectorAll(loadable), (element) =>
    element.src || element.href || element.data),
  fontFaces: document.fonts.size,
};
"""
# Done loading: the document and every image (Leaflet adds some) are complete.
_LOADED = "return document.readyState === 'complete' && Array.from(document.images).every((i) => i.complete);"


@pytest.mark.browser
@override_settings(**LIVE_SERVER_SETTINGS)
class PageWeightTests(ChannelsLiveServerTestCase):
    def setUp(self) -> None:
        community = Community.objects.create(name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005)
        shopping = Category.objects.create(community=community, slug="shopping", name="Shopping")
        Category.objects.create(community=community, slug="pharmacy", name="Pharmacy")
        self.citizen = make_user("maria", community, first_name="Maria", last_name="Peeters")
        self.help_request = post_request(self.citizen, community, shopping)
        self.browser = new_browser()
        # No cache: each page is weighed as a first visit, with all its files.
        self.browser.execute_cdp_cmd("Network.enable", {})
        self.browser.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})

    def tearDown(self) -> None:
        self.browser.quit()

    def compressed_size(self, url: str, transfer: int, body: int) -> int:
        """What production sends for a static file: WhiteNoise's gzip copy (brotli is smaller)."""
        if urlsplit(url).path.startswith("/static/"):
            with urlopen(url, timeout=10) as response:  # the live server, on loopback
                return transfer - body + len(gzip.compress(response.read(), compresslevel=9))
        return transfer

    def weigh(self, path: str, *, then_click: str | None = None) -> dict:
        self.browser.get(f"{self.live_server_url}{path}")
        if then_click:
            self.browser.find_element(By.CSS_SELECTOR, then_click).click()
            WebDriverWait(self.browser, 10).until(
                lambda browser: browser.find_elements(By.CSS_SELECTOR, ".leaflet-container")
            )
        # Late requests count too: the live-update socket's first fetch, Leaflet's images.
        if self.browser.find_elements(By.CSS_SELECTOR, "[data-live-region]") and self.browser.find_elements(
            By.CSS_SELECTOR, "[data-live-status]"
        ):
            wait_until_live_idle(self.browser)
        WebDriverWait(self.browser, 10).until(lambda browser: browser.execute_script(_LOADED))
        return self.browser.execute_script(_MEASURE)

    def test_citizen_pages_are_light_same_origin_and_without_web_fonts(self) -> None:
        browser, base = self.browser, self.live_server_url
        measured = {"login": self.weigh("/accounts/login/")}
        log_in(browser, base, "maria", PASSWORD)
        for page, path in [
            ("home", "/"),
            ("my requests", "/requests/"),
            ("new request", "/requests/new/"),
            ("request detail", f"/requests/{self.help_request.pk}/"),
        ]:
            measured[page] = self.weigh(path)
        # The map loads only when asked for; weighed too, as the heaviest a citizen can make it.
        measured["new request, map shown"] = self.weigh("/requests/new/", then_click="[data-map-open]")

        own_host = urlsplit(base).netloc
        rows, problems = [], []
        for page, result in measured.items():
            total = sum(entry["transfer"] for entry in result["entries"])
            compressed = sum(
                self.compressed_size(entry["url"], entry["transfer"], entry["body"])
                for entry in result["entries"]
            )
            rows.append((page, len(result["entries"]), total, compressed))
            if total >= BUDGET_BYTES:
                problems.append(f"{page}: {total / 1000:.1f} kB, over {BUDGET_BYTES / 1000:.0f} kB")
            for url in [entry["url"] for entry in result["entries"]] + result["referenced"]:
                if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != own_host:
                    problems.append(f"{page}: loads {url} from another host")
                if urlsplit(url).path.lower().endswith(FONT_SUFFIXES):
                    problems.append(f"{page}: loads a web font, {url}")
            if result["fontFaces"]:
                problems.append(f"{page}: declares {result['fontFaces']} web font(s)")
            if any(entry["transfer"] == 0 for entry in result["entries"]):
                problems.append(f"{page}: a file came from a cache; the figure would be too low")

        print("\nCitizen pages, cold cache: kB as the test server sends them (uncompressed; the")
        print("budget applies to this), and with static files gzipped as WhiteNoise serves them:")
        print(f"{'page':<24}{'requests':>9}{'kB':>9}{'gzip kB':>9}")
        for page, requests, total, compressed in rows:
            print(f"{page:<24}{requests:>9}{total / 1000:>9.1f}{compressed / 1000:>9.1f}")
        assert not problems, "\n".join(problems)
