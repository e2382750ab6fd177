"""The dashboard map at a busy moment: open requests clustered where they crowd, all of them
in view, a legend that says what the marks mean, and each marker leading to its request."""

from __future__ import annotations

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.test import override_settings
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from selenium.webdriver.support.wait import WebDriverWait

from mutualaid.aid.models import Category, Community, Urgency
from mutualaid.aid.places import Location
from tests.conftest import NAAMSESTRAAT, PASSWORD, make_user, post_request
from tests.e2e.browser import TIMEOUT_SECONDS, log_in, new_browser, wait_for_text, wait_until_live_idle
from tests.e2e.test_accessibility import LIVE_SERVER_SETTINGS

WIJGMAAL = Location(50.9260, 4.6810, "Wijgmaalsesteenweg 10, 3018 Leuven", "Wijgmaal")
CROWDED = 15


def inside(inner: dict, outer: dict) -> bool:
    return (
        inner["x"] >= outer["x"]
        and inner["y"] >= outer["y"]
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"]
    )


@pytest.mark.browser
@override_settings(**LIVE_SERVER_SETTINGS)
class DashboardMapTests(ChannelsLiveServerTestCase):
    def setUp(self) -> None:
        community = Community.objects.create(name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005)
        shopping = Category.objects.create(community=community, slug="shopping", name="Shopping")
        make_user("coordinator", community, is_coordinator=True, is_staff=True)
        # No volunteers: every request stays open. Fifteen in the centre, one far to the north.
        for index in range(CROWDED):
            spot = Location(
                NAAMSESTRAAT.latitude + index * 0.0006,
                NAAMSESTRAAT.longitude,
                NAAMSESTRAAT.address,
                "Leuven centrum",
            )
            post_request(make_user(f"citizen{index}", community), community, shopping, location=spot)
        self.alone = post_request(
            make_user("far-away", community), community, shopping, location=WIJGMAAL, urgency=Urgency.TODAY
        )
        other = Community.objects.create(name="Herent", slug="herent", latitude=50.907, longitude=4.672)
        self.elsewhere = post_request(
            make_user("herent-citizen", other),
            other,
            Category.objects.create(community=other, slug="shopping", name="Shopping"),
        )
        self.browser = new_browser()

    def tearDown(self) -> None:
        self.browser.quit()

    def test_crowded_requests_cluster_all_are_in_view_and_a_marker_leads_to_its_request(self) -> None:
        browser = self.browser
        log_in(browser, self.live_server_url, "coordinator", PASSWORD)
        browser.get(f"{self.live_server_url}/coordinator/")
        wait_until_live_idle(browser)
        WebDriverWait(browser, TIMEOUT_SECONDS).until(
            lambda driver: driver.find_elements(By.CSS_SELECTOR, "#community-map .map-cluster")
        )
        clusters = browser.find_elements(By.CSS_SELECTOR, "#community-map .map-cluster")
        singles = browser.find_elements(By.CSS_SELECTOR, "#community-map .request-marker")
        # The crowd is one numbered circle (or a few), the lone request its own marker.
        assert sum(int(cluster.text) for cluster in clusters) + len(singles) == CROWDED + 1
        assert len(clusters) < CROWDED
        # Every open request in view: the marks lie inside the map's box.
        map_box = browser.find_element(By.ID, "community-map").rect
        assert all(inside(mark.rect, map_box) for mark in clusters + singles)
        # Only this community's requests: 16 here, Herent's is not on the map at all.
        assert str(self.elsewhere.pk) not in browser.execute_script(
            "return Object.keys(document.getElementById('community-map').requestMarkers).join(',')"
        ).split(",")
        # A legend says what the marks mean.
        legend = browser.find_element(By.CSS_SELECTOR, ".map-legend")
        assert legend.is_displayed() and "urgent" in legend.text and "close together" in legend.text

        (alone,) = [single for single in singles if f"#{self.alone.pk} " in single.get_attribute("title")]
        assert "urgency-3" in alone.get_attribute("class")
        alone.click()
        link = WebDriverWait(browser, TIMEOUT_SECONDS).until(
            lambda driver: driver.find_element(By.CSS_SELECTOR, "#community-map .leaflet-popup a")
        )
        link.click()
        wait_for_text(browser, f"#{self.alone.pk}")
        assert browser.current_url == f"{self.live_server_url}/coordinator/requests/{self.alone.pk}/"

    def test_a_cluster_opens_into_its_requests_when_clicked(self) -> None:
        browser = self.browser
        log_in(browser, self.live_server_url, "coordinator", PASSWORD)
        browser.get(f"{self.live_server_url}/coordinator/")
        wait_until_live_idle(browser)
        cluster = WebDriverWait(browser, TIMEOUT_SECONDS).until(
            lambda driver: driver.find_element(By.CSS_SELECTOR, "#community-map .map-cluster")
        )
        marks = "#community-map .map-cluster, #community-map .request-marker"
        marks_before = len(browser.find_elements(By.CSS_SELECTOR, marks))
        cluster.click()  # zooms in to the cluster's requests, which come apart
        WebDriverWait(browser, TIMEOUT_SECONDS).until(
            lambda driver: len(driver.find_elements(By.CSS_SELECTOR, marks)) > marks_before
        )

    def test_without_javascript_the_list_is_searched_filtered_and_paged_by_the_form(self) -> None:
        browser = new_browser(javascript=False)
        try:
            log_in(browser, self.live_server_url, "coordinator", PASSWORD)
            browser.get(f"{self.live_server_url}/coordinator/")
            browser.find_element(By.ID, "id_q").send_keys("far-away")  # the lone request's citizen
            Select(browser.find_element(By.ID, "id_urgency")).select_by_value(str(Urgency.TODAY))
            browser.find_element(By.CSS_SELECTOR, ".request-filters button[type=submit]").click()
            wait_for_text(browser, "1 request found.")
            rows = browser.find_elements(By.CSS_SELECTOR, ".request-list tbody tr")
            assert len(rows) == 1 and f"#{self.alone.pk} " in rows[0].text
            assert "q=far-away" in browser.current_url
        finally:
            browser.quit()

    def test_the_lists_filters_change_the_maps_markers(self) -> None:
        browser = self.browser
        log_in(browser, self.live_server_url, "coordinator", PASSWORD)
        browser.get(f"{self.live_server_url}/coordinator/")
        wait_until_live_idle(browser)
        Select(browser.find_element(By.ID, "id_urgency")).select_by_value(str(Urgency.TODAY))
        browser.find_element(By.CSS_SELECTOR, ".request-filters button[type=submit]").click()
        wait_for_text(browser, "1 request found.")
        wait_until_live_idle(browser)
        # Only the urgent one is drawn: the fifteen in the centre are filtered out of the map too.
        WebDriverWait(browser, TIMEOUT_SECONDS).until(
            lambda driver: (
                driver.execute_script(
                    "var map = document.getElementById('community-map');"
                    " return Object.keys(map.requestMarkers || {}).join(',')"
                )
                == str(self.alone.pk)
            )
        )
