"""Two-step sign-in in the browser: a new coordinator sets up an authenticator by typing
the key the page shows, keeps the recovery codes, and later signs in with one of them."""

from __future__ import annotations

import pytest
from channels.testing import ChannelsLiveServerTestCase
from selenium.webdriver.common.by import By

from mutualaid.aid.models import Community
from tests.conftest import PASSWORD, make_user
from tests.e2e.browser import new_browser, set_up_authenticator, wait_for_text


@pytest.mark.browser
class TwoStepSignInTests(ChannelsLiveServerTestCase):
    def setUp(self) -> None:
        community = Community.objects.create(name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005)
        make_user("newcomer", community, is_coordinator=True, is_staff=True)
        self.browser = new_browser()

    def tearDown(self) -> None:
        self.browser.quit()

    def password(self) -> None:
        browser = self.browser
        browser.get(f"{self.live_server_url}/accounts/login/")
        browser.find_element(By.NAME, "username").send_keys("newcomer")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()

    def test_a_new_coordinator_types_the_key_into_an_app_keeps_the_codes_and_uses_one_later(self) -> None:
        browser = self.browser
        self.password()
        wait_for_text(browser, "Set up two-step sign-in")
        field = browser.find_element(By.NAME, "otp_token")
        assert field.get_attribute("autocomplete") == "one-time-code"
        assert field.get_attribute("inputmode") == "numeric"
        codes = set_up_authenticator(browser)
        assert len(codes) == 10
        browser.find_element(By.LINK_TEXT, "I have kept them: continue").click()
        browser.get(f"{self.live_server_url}/coordinator/")
        wait_for_text(browser, "Dashboard")

        # Another day, without the phone: a recovery code, once.
        browser.delete_all_cookies()
        self.password()
        wait_for_text(browser, "Your one-time code")
        browser.find_element(By.XPATH, "//main//summary[contains(., 'No phone at hand')]").click()
        browser.find_element(By.NAME, "recovery_code").send_keys(codes[0])
        browser.find_element(By.XPATH, "//button[contains(., 'Sign in with a recovery code')]").click()
        wait_for_text(browser, "You used a recovery code: 9 left")
