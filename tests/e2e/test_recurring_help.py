"""Weekly help in two real browsers: the citizen asks for it, the volunteer accepts every
week, and the next week's occurrence shows them already coming."""

from __future__ import annotations

import datetime as dt

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.test import override_settings
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from mutualaid.aid.models import Category, Community, HelpSeries
from mutualaid.aid.services.series import file_due_occurrences
from tests.conftest import LADEUZEPLEIN, PASSWORD, make_user, make_volunteer
from tests.e2e.browser import log_in, new_browser, wait_for_text, wait_until_live_idle
from tests.e2e.test_accessibility import LIVE_SERVER_SETTINGS
from tests.e2e.test_help_flow import wait_for_proposal
from tests.e2e.test_without_javascript import submit


@pytest.mark.browser
@pytest.mark.slow
class RecurringHelpInTheBrowserTests(ChannelsLiveServerTestCase):
    def setUp(self) -> None:
        community = Community.objects.create(name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005)
        shopping = Category.objects.create(community=community, slug="shopping", name="Shopping")
        self.citizen = make_user("maria", community, first_name="Maria", last_name="Peeters")
        self.volunteer = make_volunteer("jan", community, [shopping], LADEUZEPLEIN, capacity=2)
        self.volunteer.first_name, self.volunteer.last_name = "Jan", "Janssens"
        self.volunteer.save()
        self.citizen_browser = new_browser()
        self.volunteer_browser = new_browser()

    def tearDown(self) -> None:
        self.citizen_browser.quit()
        self.volunteer_browser.quit()

    def test_citizen_asks_weekly_help_volunteer_accepts_every_week_and_comes_next_week(self) -> None:
        citizen, volunteer = self.citizen_browser, self.volunteer_browser
        first_day = timezone.localdate() + dt.timedelta(days=1)

        log_in(citizen, self.live_server_url, "maria", PASSWORD)
        citizen.get(f"{self.live_server_url}/requests/new/")
        Select(citizen.find_element(By.NAME, "category")).select_by_visible_text("Shopping")
        citizen.find_element(By.NAME, "description").send_keys("The weekly shopping, please.")
        citizen.find_element(By.NAME, "address").send_keys("Naamsestraat 12, 3000 Leuven")
        Select(citizen.find_element(By.NAME, "repeat")).select_by_visible_text("Every week")
        citizen.execute_script(
            "document.querySelector('[name=repeat_starts]').value = arguments[0];", first_day.isoformat()
        )
        Select(citizen.find_element(By.NAME, "repeat_part")).select_by_value("0")
        citizen.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        wait_for_text(citizen, "Your repeated request is posted")
        series = HelpSeries.objects.get(requester=self.citizen)
        assert series.rule == "FREQ=WEEKLY"
        assert "Repeated help" in citizen.page_source

        proposal = wait_for_proposal(self.volunteer)
        log_in(volunteer, self.live_server_url, "jan", PASSWORD)
        volunteer.get(f"{self.live_server_url}/volunteer/tasks/{proposal.pk}/")
        wait_until_live_idle(volunteer)
        volunteer.find_element(By.CSS_SELECTOR, "[data-accept-every-week]").click()
        wait_for_text(volunteer, "You are the volunteer of the coming days too")
        wait_for_text(volunteer, "Give back all")

        # A week on, the worker files the next day: already theirs, not sent to matching.
        assert file_due_occurrences(timezone.localdate() + dt.timedelta(days=7)) == 1
        following = series.occurrences.get(series_date=first_day + dt.timedelta(days=7))
        assert following.status == "accepted"
        citizen.get(f"{self.live_server_url}/requests/{following.pk}/")
        wait_for_text(citizen, "Jan Janssens is coming to help you")
        wait_for_text(citizen, "Jan Janssens comes every time.")


@pytest.mark.browser
@pytest.mark.slow
@override_settings(**LIVE_SERVER_SETTINGS)
class RecurringHelpWithoutJavaScriptTests(ChannelsLiveServerTestCase):
    def setUp(self) -> None:
        community = Community.objects.create(name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005)
        Category.objects.create(community=community, slug="shopping", name="Shopping")
        self.citizen = make_user("maria", community, first_name="Maria", last_name="Peeters")
        self.browser = new_browser(javascript=False)

    def tearDown(self) -> None:
        self.browser.quit()

    def test_weekly_help_is_asked_refused_at_the_field_paused_and_cancelled_by_plain_forms(self) -> None:
        citizen = self.browser
        first_day = timezone.localdate() + dt.timedelta(days=1)
        log_in(citizen, self.live_server_url, "maria", PASSWORD)
        citizen.get(f"{self.live_server_url}/requests/new/")
        Select(citizen.find_element(By.NAME, "category")).select_by_visible_text("Shopping")
        citizen.find_element(By.NAME, "description").send_keys("The weekly shopping, please.")
        citizen.find_element(By.NAME, "address").send_keys("Naamsestraat 12, 3000 Leuven")
        Select(citizen.find_element(By.NAME, "repeat")).select_by_visible_text("Every week")
        citizen.find_element(By.NAME, "repeat_starts").send_keys(first_day.strftime("%m%d%Y"))
        Select(citizen.find_element(By.NAME, "repeat_part")).select_by_value("0")
        citizen.find_element(By.NAME, "repeat_until").send_keys(
            (first_day - dt.timedelta(days=1)).strftime("%m%d%Y")
        )  # as Chromium (en-US) types a date
        submit(citizen)
        wait_for_text(citizen, "The last day cannot be before the first.")
        assert not HelpSeries.objects.exists()
        citizen.find_element(By.NAME, "repeat_until").clear()
        submit(citizen)
        wait_for_text(citizen, "Your repeated request is posted")
        series = HelpSeries.objects.get()

        citizen.find_element(By.NAME, "paused_until").send_keys(
            (first_day + dt.timedelta(days=10)).strftime("%m%d%Y")
        )
        citizen.find_element(By.XPATH, "//button[normalize-space()='Pause']").click()
        wait_for_text(citizen, "Paused: no help until")
        series.refresh_from_db()
        assert series.paused_until == first_day + dt.timedelta(days=10)

        citizen.find_element(By.LINK_TEXT, "Cancel every coming day").click()
        wait_for_text(citizen, "Cancel the repeated help?")
        citizen.find_element(By.XPATH, "//button[normalize-space()='Yes, cancel every coming day']").click()
        wait_for_text(citizen, "The repeated help is cancelled")
        series.refresh_from_db()
        assert not series.active
