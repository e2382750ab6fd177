"""A team of coordinators in the browser: one takes a call and writes notes, the other sees
it live; safeguarding from a citizen's report to a suspension, with JavaScript off."""

from __future__ import annotations

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.test import override_settings
from django.utils import timezone
from selenium.webdriver.common.by import By

from mutualaid.aid import services
from mutualaid.aid.models import Category, Community, ConcernReport, HelpRequest, TeamNote, VolunteerOffer
from tests.conftest import LADEUZEPLEIN, NAAMSESTRAAT, make_user, make_volunteer, post_request
from tests.e2e.browser import SignedInBrowsers, wait_for_element_text, wait_for_text, wait_until_live_idle
from tests.e2e.test_accessibility import LIVE_SERVER_SETTINGS


def press(driver, label: str) -> None:
    """The button of the main content reading `label`."""
    for button in driver.find_elements(By.CSS_SELECTOR, "main button"):
        if button.text.strip() == label:
            button.click()
            return
    raise AssertionError(f"No button {label!r} on {driver.current_url}")


@pytest.mark.browser
@override_settings(**LIVE_SERVER_SETTINGS)
class TeamworkInTheBrowserTests(SignedInBrowsers, ChannelsLiveServerTestCase):
    def setUp(self) -> None:
        self.community = Community.objects.create(
            name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005
        )
        self.shopping = Category.objects.create(community=self.community, slug="shopping", name="Shopping")
        self.an = make_user("an", self.community, first_name="An", last_name="Janssens", is_coordinator=True)
        self.els = make_user(
            "els", self.community, first_name="Els", last_name="Peeters", is_coordinator=True
        )

    def test_a_call_taken_and_a_note_written_by_one_coordinator_show_live_on_the_others_page(self) -> None:
        caller = services.help_request_create(
            community=self.community,
            requester=None,
            created_by=self.an,
            category=self.shopping,
            description="Bread and soup.",
            urgency=2,
            location=NAAMSESTRAAT,
            any_time=True,
            contact_name="Mrs Maes",
            contact_phone="016 23 45 67",
        )
        page = f"{self.live_server_url}/coordinator/requests/{caller.pk}/"
        # Els watches the request page and the dashboard (live); An works with JavaScript off.
        els = self.browser_for("els")
        els.get(page)
        wait_until_live_idle(els)
        assert "Nobody is calling this person now." in els.find_element(By.TAG_NAME, "main").text
        an = self.browser_for("an", javascript=False)
        an.get(page)

        press(an, "I'll call back")
        wait_for_text(an, "You have taken this call (call-back)")
        since = timezone.localtime(HelpRequest.objects.get(pk=caller.pk).call_taken_at).strftime("%H:%M")
        wait_for_element_text(els, "[data-call-taken]", f"Taken by An Janssens (since {since}): call-back")
        # Els cannot take it any more: her page offers no button to.
        assert not [
            b for b in els.find_elements(By.CSS_SELECTOR, "main button") if b.text == "I'll call back"
        ]

        an.find_element(By.ID, "id_text").send_keys("Her daughter visits on Fridays.")
        press(an, "Add the note")
        wait_for_text(an, "Note added for the team.")
        wait_for_text(els, "Her daughter visits on Fridays.")

        an.find_element(By.NAME, "outcome").send_keys("She is glad someone comes tomorrow.")
        press(an, "Called")
        wait_for_text(an, "Noted: the call is made")
        wait_for_text(els, "Called: She is glad someone comes tomorrow.")
        wait_for_text(els, "Nobody is calling this person now.")
        assert TeamNote.objects.filter(help_request=caller).count() == 2

    def test_the_dashboard_row_says_who_has_the_call(self) -> None:
        citizen = make_user("maria", self.community, first_name="Maria", last_name="Claes")
        help_request = post_request(citizen, self.community, self.shopping)
        els = self.browser_for("els")
        els.get(f"{self.live_server_url}/coordinator/")
        wait_until_live_idle(els)
        an = self.browser_for("an", javascript=False)
        an.get(f"{self.live_server_url}/coordinator/requests/{help_request.pk}/")
        press(an, "I'll follow up")
        wait_for_text(an, "You have taken this call (follow-up)")
        since = timezone.localtime(HelpRequest.objects.get(pk=help_request.pk).call_taken_at).strftime(
            "%H:%M"
        )
        wait_for_element_text(els, "[data-call-taken]", f"Taken by An Janssens (since {since})")

    def test_a_concern_reported_leads_to_a_suspension_all_with_javascript_off(self) -> None:
        citizen = make_user("maria", self.community, first_name="Maria", last_name="Claes")
        volunteer = make_volunteer("jan", self.community, [self.shopping], LADEUZEPLEIN)
        volunteer.first_name, volunteer.last_name = "Jan", "Smets"
        volunteer.save()
        help_request = post_request(citizen, self.community, self.shopping)
        task = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.5)
        services.assignment_accept(assignment=task, volunteer=volunteer)

        # The citizen tells the coordinators, from her request's page.
        maria = self.browser_for("maria", javascript=False)
        maria.get(f"{self.live_server_url}/requests/{help_request.pk}/")
        maria.find_element(By.LINK_TEXT, "Report a concern about the volunteer").click()
        maria.find_element(By.NAME, "text").send_keys("He asked to borrow money.")
        press(maria, "Send to the coordinators")
        wait_for_text(maria, "Thank you for telling us.")
        assert ConcernReport.objects.get().person == volunteer

        # A coordinator reads it and suspends him, with a reason.
        an = self.browser_for("an", javascript=False)
        an.get(f"{self.live_server_url}/coordinator/")
        an.find_element(By.LINK_TEXT, "Safeguarding").click()
        wait_for_text(an, "He asked to borrow money.")
        an.find_element(By.PARTIAL_LINK_TEXT, "Suspend Jan Smets").click()
        an.find_element(By.NAME, "reason").send_keys("Money asked from a requester; looking into it.")
        press(an, "Suspend this volunteer")
        wait_for_text(an, "Jan Smets is suspended")
        press(an, "Mark as dealt with")
        wait_for_text(an, "Marked as dealt with.")

        # The volunteer is told, without the reason or who reported him, and cannot open the task.
        jan = self.browser_for("jan", javascript=False)
        jan.get(f"{self.live_server_url}/volunteer/inbox/")
        wait_for_text(jan, "suspended your volunteering")
        text = jan.find_element(By.TAG_NAME, "main").text
        assert "borrow money" not in text and "Maria" not in text and "looking into it" not in text
        jan.get(f"{self.live_server_url}/volunteer/tasks/{task.pk}/")
        wait_for_text(jan, "Your volunteering is suspended")
        assert help_request.address not in jan.find_element(By.TAG_NAME, "main").text

        # Lifted: he is a volunteer like any other again.
        an.get(f"{self.live_server_url}/coordinator/concerns/")
        press(an, "Lift the suspension of Jan Smets")
        wait_for_text(an, "The suspension of Jan Smets is lifted.")
        assert not VolunteerOffer.objects.get(volunteer=volunteer).is_suspended
