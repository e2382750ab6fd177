"""An urgent request asked of three volunteers at once, in two real browsers against daphne:
each sees that others are asked too; the first to accept takes it, and the other's open
page says so by itself, with no button left to accept."""

from __future__ import annotations

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.test import override_settings
from selenium.webdriver.common.by import By

from matching.services import propose_assignments
from mutualaid.aid import services
from mutualaid.aid.models import Assignment, Category, Community, Urgency
from tests.conftest import KESSEL_LO, LADEUZEPLEIN, NAAMSESTRAAT, make_user, make_volunteer
from tests.e2e.browser import SignedInBrowsers, wait_for_text, wait_until_live_idle
from tests.e2e.test_accessibility import LIVE_SERVER_SETTINGS

ACCEPT = "//main//button[normalize-space()='Accept']"


@pytest.mark.browser
@override_settings(**LIVE_SERVER_SETTINGS, MATCHING_URGENT_ASK_AT_ONCE=3)
class UrgentAsksInTheBrowserTests(SignedInBrowsers, ChannelsLiveServerTestCase):
    def setUp(self) -> None:
        community = Community.objects.create(name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005)
        pharmacy = Category.objects.create(community=community, slug="pharmacy", name="Pharmacy")
        citizen = make_user("maria", community, first_name="Maria", last_name="Peeters")
        self.medicine = services.help_request_create(
            community=community,
            requester=citizen,
            created_by=citizen,
            category=pharmacy,
            description="Medicine from the pharmacy today, please.",
            urgency=Urgency.TODAY,
            location=NAAMSESTRAAT,
            any_time=True,
        )
        for name, where in (("anna", LADEUZEPLEIN), ("bram", KESSEL_LO), ("chloe", KESSEL_LO)):
            make_volunteer(name, community, [pharmacy], where)
        propose_assignments(community=community)
        self.asks = {
            ask.volunteer.username: ask
            for ask in Assignment.objects.filter(help_request=self.medicine).select_related("volunteer")
        }

    def task_page(self, username: str):
        browser = self.browser_for(username)
        browser.get(f"{self.live_server_url}/volunteer/tasks/{self.asks[username].pk}/")
        wait_for_text(browser, "2 other volunteers are asked too: the first to accept takes it.")
        wait_until_live_idle(browser)
        return browser

    def test_the_first_to_accept_takes_it_and_the_others_open_page_says_so_by_itself(self) -> None:
        assert sorted(self.asks) == ["anna", "bram", "chloe"]
        bram = self.task_page("bram")
        bram.execute_script("document.body.dataset.loadedOnce = 'yes';")  # gone if the page reloads
        anna = self.task_page("anna")

        anna.find_element(By.XPATH, ACCEPT).click()
        wait_for_text(anna, "Accepted")

        wait_for_text(bram, "Another volunteer accepted first")
        assert bram.execute_script("return document.body.dataset.loadedOnce") == "yes"
        assert bram.find_elements(By.XPATH, ACCEPT) == []
        statuses = {
            name: ask.status
            for name, ask in ((name, Assignment.objects.get(pk=a.pk)) for name, a in self.asks.items())
        }
        assert statuses == {"anna": "accepted", "bram": "cancelled", "chloe": "cancelled"}
