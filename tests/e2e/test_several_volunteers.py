"""A task for several volunteers in two real browsers against daphne: the citizen's open page
says "2 of 3 volunteers found", and the third volunteer's acceptance shows there by itself."""

from __future__ import annotations

import datetime as dt

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.utils import timezone
from selenium.webdriver.common.by import By

from mutualaid.aid import services
from mutualaid.aid.models import Category, Community
from tests.conftest import KESSEL_LO, LADEUZEPLEIN, NAAMSESTRAAT, PASSWORD, make_user, make_volunteer
from tests.e2e.browser import log_in, new_browser, wait_for_text, wait_until_live_idle


@pytest.mark.browser
@pytest.mark.slow
class SeveralVolunteersInTheBrowserTests(ChannelsLiveServerTestCase):
    def setUp(self) -> None:
        community = Community.objects.create(name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005)
        lifting = Category.objects.create(community=community, slug="lifting", name="Lifting")
        self.citizen = make_user("maria", community, first_name="Maria", last_name="Peeters")
        self.wardrobe = services.help_request_create(
            community=community,
            requester=self.citizen,
            created_by=self.citizen,
            category=lifting,
            description="Carry a wardrobe up to the second floor.",
            urgency=1,
            location=NAAMSESTRAAT,
            time_windows=[(timezone.localdate() + dt.timedelta(days=2), 1)],
            people_needed=3,
        )
        helpers = [
            make_volunteer(name, community, [lifting], LADEUZEPLEIN if index % 2 else KESSEL_LO)
            for index, name in enumerate(["anna", "bram", "chloe"])
        ]
        self.proposals = [
            services.assignment_propose(help_request=self.wardrobe, volunteer=helper, km=1.0)
            for helper in helpers
        ]
        for proposal, helper in zip(self.proposals[:2], helpers[:2], strict=True):
            services.assignment_accept(assignment=proposal, volunteer=helper)
        self.citizen_browser = new_browser()
        self.volunteer_browser = new_browser()

    def tearDown(self) -> None:
        self.citizen_browser.quit()
        self.volunteer_browser.quit()

    def test_the_citizen_sees_two_of_three_found_then_the_third_accepting_live(self) -> None:
        citizen, volunteer = self.citizen_browser, self.volunteer_browser

        log_in(citizen, self.live_server_url, "maria", PASSWORD)
        citizen.get(f"{self.live_server_url}/requests/{self.wardrobe.pk}/")
        wait_for_text(citizen, "2 of 3 volunteers found")
        assert "Anna Volunteer is coming to help you" in citizen.page_source
        assert "Bram Volunteer is coming to help you" in citizen.page_source
        assert "Chloe" not in citizen.page_source
        wait_until_live_idle(citizen)
        citizen.execute_script("document.body.dataset.loadedOnce = 'yes';")  # gone if the page reloads

        log_in(volunteer, self.live_server_url, "chloe", PASSWORD)
        volunteer.get(f"{self.live_server_url}/volunteer/tasks/{self.proposals[2].pk}/")
        wait_for_text(volunteer, "2 of 3 volunteers found")
        wait_until_live_idle(volunteer)
        volunteer.find_element(By.XPATH, "//button[normalize-space()='Accept']").click()
        wait_for_text(volunteer, "3 of 3 volunteers found: Anna, Bram and you")

        # The citizen's open page changes by itself, without a reload.
        wait_for_text(citizen, "3 of 3 volunteers found")
        wait_for_text(citizen, "Chloe Volunteer is coming to help you")
        assert citizen.execute_script("return document.body.dataset.loadedOnce") == "yes"
        self.wardrobe.refresh_from_db()
        assert self.wardrobe.status == "accepted"
