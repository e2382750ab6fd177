"""A person turns on text messages on My account, in a real browser, and a proposal then
reaches them by text."""

from __future__ import annotations

import pytest
from channels.testing import ChannelsLiveServerTestCase
from selenium.webdriver.common.by import By

from mutualaid.accounts.models import User
from mutualaid.aid import services
from mutualaid.aid.models import Category, Community
from notifications.models import OutgoingMessage
from tests.conftest import LADEUZEPLEIN, PASSWORD, make_volunteer, post_request
from tests.e2e.browser import log_in, new_browser, wait_for_text


@pytest.mark.browser
class ChannelChoiceInTheBrowserTests(ChannelsLiveServerTestCase):
    def setUp(self) -> None:
        community = Community.objects.create(name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005)
        self.shopping = Category.objects.create(community=community, slug="shopping", name="Shopping")
        self.community = community
        self.volunteer = make_volunteer("jan", community, [self.shopping], LADEUZEPLEIN)
        self.volunteer.phone = ""
        self.volunteer.preferred_language = "en"
        self.volunteer.save()
        self.browser = new_browser()

    def tearDown(self) -> None:
        self.browser.quit()

    def test_a_volunteer_turns_on_texts_on_my_account_and_gets_the_next_proposal_by_text(self) -> None:
        browser = self.browser
        log_in(browser, self.live_server_url, "jan", PASSWORD)
        browser.get(f"{self.live_server_url}/accounts/me/")
        browser.find_element(By.NAME, "sms_notifications").click()
        browser.find_element(By.NAME, "sms_notifications").find_element(By.XPATH, "ancestor::form").submit()
        # Without a mobile number the choice is refused next to the field.
        wait_for_text(browser, "Give a mobile number first")
        phone = browser.find_element(By.NAME, "phone")
        phone.clear()
        phone.send_keys("0470 55 66 77")
        sms = browser.find_element(By.NAME, "sms_notifications")
        if not sms.is_selected():
            sms.click()
        phone.submit()
        wait_for_text(browser, "Your details are saved")
        assert browser.find_element(By.NAME, "sms_notifications").is_selected()
        # Shown back as Belgians write it; stored in E.164.
        assert browser.find_element(By.NAME, "phone").get_attribute("value") == "0470 55 66 77"

        volunteer = User.objects.get(pk=self.volunteer.pk)
        assert volunteer.sms_notifications and volunteer.phone.as_e164 == "+32470556677"
        citizen = User.objects.create_user("maria", password=PASSWORD, community=self.community)
        help_request = post_request(citizen, self.community, self.shopping)
        services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.5)
        text = OutgoingMessage.objects.get(channel=OutgoingMessage.Channel.SMS)
        assert text.to_address == "+32470556677" and "YES" in text.body
