"""The foundation's path, as people would do it, in two real browsers against daphne."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from matching.services import run_due_matching
from mutualaid.aid.models import Assignment, Category, Community, HelpRequest
from tests.conftest import LADEUZEPLEIN, PASSWORD, make_user, make_volunteer
from tests.e2e.browser import log_in, new_browser, wait_for_text, wait_until_live_idle


def wait_for_proposal(volunteer, timeout: float = 20) -> Assignment:
    """Matching runs off the request thread; run a worker round here too until it has."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_due_matching()
        assignment = Assignment.objects.filter(volunteer=volunteer).first()
        if assignment is not None:
            return assignment
        time.sleep(0.3)
    raise AssertionError("No proposal was made to the volunteer")


@pytest.mark.browser
class HelpFlowInTheBrowserTests(ChannelsLiveServerTestCase):
    def setUp(self) -> None:
        community = Community.objects.create(name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005)
        shopping = Category.objects.create(community=community, slug="shopping", name="Shopping")
        self.citizen = make_user("maria", community, first_name="Maria", last_name="Peeters")
        self.volunteer = make_volunteer("jan", community, [shopping], LADEUZEPLEIN)
        self.volunteer.first_name, self.volunteer.last_name = "Jan", "Janssens"
        self.volunteer.save()
        self.citizen_browser = new_browser()
        self.volunteer_browser = new_browser()

    def tearDown(self) -> None:
        self.citizen_browser.quit()
        self.volunteer_browser.quit()

    def test_citizen_posts_volunteer_accepts_and_citizen_sees_who_is_coming(self) -> None:
        citizen, volunteer = self.citizen_browser, self.volunteer_browser

        log_in(citizen, self.live_server_url, "maria", PASSWORD)
        citizen.get(f"{self.live_server_url}/requests/new/")
        Select(citizen.find_element(By.NAME, "category")).select_by_visible_text("Shopping")
        citizen.find_element(By.NAME, "description").send_keys("Bread, milk and apples, please.")
        citizen.find_element(By.NAME, "address").send_keys("Naamsestraat 12, 3000 Leuven")
        tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
        citizen.execute_script(
            "document.querySelector('[name=window_1_date]').value = arguments[0];", tomorrow
        )
        Select(citizen.find_element(By.NAME, "window_1_part")).select_by_value("0")
        citizen.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        wait_for_text(citizen, "Your request is posted")
        help_request = HelpRequest.objects.get(requester=self.citizen)
        assert help_request.neighbourhood == "Leuven centrum"

        wait_for_proposal(self.volunteer)
        log_in(volunteer, self.live_server_url, "jan", PASSWORD)
        volunteer.get(f"{self.live_server_url}/volunteer/inbox/")
        wait_for_text(volunteer, "Waiting for your answer (1)")
        wait_until_live_idle(volunteer)  # no refresh on its way to replace the button clicked below
        assert "Peeters" not in volunteer.page_source  # no name before accepting
        citizen.get(f"{self.live_server_url}/requests/{help_request.pk}/")
        wait_until_live_idle(citizen)
        citizen.execute_script("document.body.dataset.loadedOnce = 'yes';")  # gone if the page reloads

        volunteer.find_element(By.XPATH, "//button[normalize-space()='Accept']").click()
        wait_for_text(volunteer, "The requester now sees that you are coming")
        assert "Naamsestraat 12" in volunteer.page_source  # the exact address once accepted

        # The citizen's open page changes by itself, without a reload.
        wait_for_text(citizen, "Jan Janssens is coming to help you")
        assert citizen.execute_script("return document.body.dataset.loadedOnce") == "yes"
        help_request.refresh_from_db()
        assert help_request.status == "accepted"
