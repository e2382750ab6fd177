"""A referrer's flow in a browser with JavaScript off: the coordinator registers a GP
practice and invites a referrer, who joins from the e-mail's link, files a request for a
neighbour with their consent, and follows it until a volunteer is coming."""

from __future__ import annotations

import re

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.test import override_settings
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from mutualaid.aid import services
from mutualaid.aid.models import Category, Community, HelpRequest
from notifications.models import OutgoingMessage
from tests.conftest import LADEUZEPLEIN, PASSWORD, make_user, make_volunteer
from tests.e2e.browser import SignedInBrowsers, log_in, set_up_authenticator, wait_for_text
from tests.e2e.test_accessibility import LIVE_SERVER_SETTINGS

REFERRER_PASSWORD = "the-gp-practice-password-3"


def submit(driver) -> None:
    driver.find_element(By.CSS_SELECTOR, "main form[method=post] button[type=submit]").click()


@pytest.mark.browser
@override_settings(**LIVE_SERVER_SETTINGS)
class ReferrerFlowTests(SignedInBrowsers, ChannelsLiveServerTestCase):
    javascript = False

    def setUp(self) -> None:
        self.community = Community.objects.create(
            name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005
        )
        self.shopping = Category.objects.create(community=self.community, slug="shopping", name="Shopping")
        make_user("coordinator", self.community, is_coordinator=True, is_staff=True)
        self.volunteer = make_volunteer("volunteer-vic", self.community, [self.shopping], LADEUZEPLEIN)

    def test_invited_referrer_joins_files_for_a_neighbour_and_follows_the_status(self) -> None:
        url = self.live_server_url

        # The coordinator registers the practice and invites its GP.
        coordinator = self.open_browser()
        log_in(coordinator, url, "coordinator", PASSWORD)
        coordinator.get(f"{url}/coordinator/partners/")
        coordinator.find_element(By.NAME, "name").send_keys("Huisartsenpraktijk Centrum")
        submit(coordinator)
        wait_for_text(coordinator, "Invite a referrer")
        coordinator.find_element(By.NAME, "email").send_keys("dr.janssens@example.org")
        submit(coordinator)
        wait_for_text(coordinator, "Invitation sent to dr.janssens@example.org")
        mail = OutgoingMessage.objects.get(to_address="dr.janssens@example.org")
        link = re.search(r"https?://\S+/referrals/join/\S+/", mail.body).group(0)
        path = link[link.index("/referrals/") :]

        # The GP opens the link, sets a name and password, and is signed in.
        referrer = self.open_browser()
        referrer.get(f"{url}{path}")
        wait_for_text(referrer, "Huisartsenpraktijk Centrum")
        referrer.find_element(By.NAME, "first_name").send_keys("Ann")
        referrer.find_element(By.NAME, "last_name").send_keys("Janssens")
        referrer.find_element(By.NAME, "password1").send_keys(REFERRER_PASSWORD)
        referrer.find_element(By.NAME, "password2").send_keys(REFERRER_PASSWORD)
        submit(referrer)
        wait_for_text(referrer, "Welcome")
        # Referrers see neighbours' details: they set up two-step sign-in before anything else.
        assert len(set_up_authenticator(referrer)) == 10
        referrer.find_element(By.LINK_TEXT, "I have kept them: continue").click()
        wait_for_text(referrer, "Ask for help for a neighbour")
        assert referrer.current_url == f"{url}/referrals/"

        # ...files a request for a neighbour: refused without the consent box, then filed.
        referrer.find_element(By.PARTIAL_LINK_TEXT, "Ask for help for a neighbour").click()
        referrer.find_element(By.NAME, "contact_name").send_keys("Mr Wouters")
        referrer.find_element(By.NAME, "contact_phone").send_keys("0470 55 66 77")
        referrer.find_element(By.NAME, "address").send_keys("Naamsestraat 12, 3000 Leuven")
        Select(referrer.find_element(By.NAME, "category")).select_by_visible_text("Shopping")
        referrer.find_element(By.NAME, "description").send_keys("Groceries: he cannot walk far.")
        referrer.find_element(By.NAME, "any_time").click()
        submit(referrer)
        wait_for_text(referrer, "Only with the neighbour's consent")
        assert not HelpRequest.objects.exists()
        referrer.find_element(By.NAME, "consent").click()
        submit(referrer)
        wait_for_text(referrer, "filed for Mr Wouters")
        filed = HelpRequest.objects.get()
        assert filed.referral.referrer.user.first_name == "Ann"
        assert "Looking for a volunteer" in referrer.find_element(By.TAG_NAME, "main").text

        # A volunteer accepts: the referrer sees it on reloading (no volunteer's name) and
        # receives an e-mail.
        assignment = services.assignment_propose(help_request=filed, volunteer=self.volunteer, km=0.5)
        services.assignment_accept(assignment=assignment, volunteer=self.volunteer)
        referrer.refresh()
        main = referrer.find_element(By.TAG_NAME, "main").text
        assert "A volunteer is coming" in main and "Volunteer-Vic" not in main
        assert OutgoingMessage.objects.filter(
            to_address="dr.janssens@example.org", subject__contains="arranged"
        ).exists()
