"""The address form's map: hidden until asked for, then a click sets the coordinates."""

from __future__ import annotations

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.test import override_settings
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from mutualaid.aid.geocoding import describe_point
from mutualaid.aid.models import Category, Community
from tests.conftest import PASSWORD, make_user
from tests.e2e.browser import log_in, new_browser
from tests.e2e.test_accessibility import LIVE_SERVER_SETTINGS


@pytest.mark.browser
@override_settings(**LIVE_SERVER_SETTINGS)
class MapPickerTests(ChannelsLiveServerTestCase):
    def setUp(self) -> None:
        community = Community.objects.create(name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005)
        Category.objects.create(community=community, slug="shopping", name="Shopping")
        make_user("maria", community)
        self.browser = new_browser()

    def tearDown(self) -> None:
        self.browser.quit()

    def test_the_map_loads_on_demand_and_a_click_fills_in_the_coordinates(self) -> None:
        browser = self.browser
        log_in(browser, self.live_server_url, "maria", PASSWORD)
        browser.get(f"{self.live_server_url}/requests/new/")
        loaded = browser.execute_script("return typeof L !== 'undefined'")
        assert not loaded, "Leaflet loaded before anyone asked for the map"
        map_area = browser.find_element(By.CSS_SELECTOR, "[data-map-picker]")
        assert not map_area.is_displayed()

        browser.find_element(By.CSS_SELECTOR, "[data-map-open]").click()
        WebDriverWait(browser, 10).until(
            lambda _: map_area.is_displayed() and "leaflet-container" in map_area.get_attribute("class")
        )
        assert browser.switch_to.active_element == map_area, "focus was lost when the button disappeared"
        assert not browser.find_element(By.CSS_SELECTOR, "[data-map-open]").is_displayed()
        ActionChains(browser).move_to_element_with_offset(map_area, 40, 30).click().perform()

        latitude = browser.find_element(By.NAME, "latitude").get_attribute("value")
        longitude = browser.find_element(By.NAME, "longitude").get_attribute("value")
        assert 50.8 < float(latitude) < 50.95 and 4.6 < float(longitude) < 4.8, (latitude, longitude)
        # ...and the page says in words where that is, from the same street table.
        said = browser.find_element(By.CSS_SELECTOR, "[data-map-place]")
        WebDriverWait(browser, 10).until(lambda _: said.is_displayed())
        expected = describe_point(float(latitude), float(longitude))
        assert expected and said.text == f"The point you picked is {expected}.", said.text
