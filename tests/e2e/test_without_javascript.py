"""Every flow works with JavaScript off: plain forms and redirects, news by reloading."""

from __future__ import annotations

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.test import override_settings
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from mutualaid.aid import services
from mutualaid.aid.models import Assignment, Category, Community, HelpRequest
from tests.conftest import KESSEL_LO, make_user, make_volunteer, post_request
from tests.e2e.browser import SignedInBrowsers, wait_for_text
from tests.e2e.test_accessibility import LIVE_SERVER_SETTINGS


def submit(driver) -> None:
    """The page's own form's button (not the header's log-out or language forms)."""
    driver.find_element(By.CSS_SELECTOR, "main form[method=post] button[type=submit]").click()


@pytest.mark.browser
@override_settings(**LIVE_SERVER_SETTINGS)
class WithoutJavaScriptTests(SignedInBrowsers, ChannelsLiveServerTestCase):
    javascript = False

    def setUp(self) -> None:
        self.community = Community.objects.create(
            name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005
        )
        self.shopping = Category.objects.create(community=self.community, slug="shopping", name="Shopping")
        self.pharmacy = Category.objects.create(community=self.community, slug="pharmacy", name="Pharmacy")
        self.coordinator = make_user("coordinator", self.community, is_coordinator=True, is_staff=True)
        self.citizen = make_user("maria", self.community, first_name="Maria", last_name="Peeters")
        self.volunteer = make_user("jan", self.community, first_name="Jan", last_name="Janssens")
        make_volunteer("an", self.community, [self.shopping], KESSEL_LO)  # another choice for the override

    def test_post_offer_intake_override_decline_accept_done_and_cancel_by_plain_forms(self) -> None:
        url = self.live_server_url

        # The citizen asks for help.
        citizen = self.browser_for("maria")
        citizen.get(f"{url}/requests/new/")
        Select(citizen.find_element(By.NAME, "category")).select_by_visible_text("Shopping")
        citizen.find_element(By.NAME, "description").send_keys("Bread, milk and apples, please.")
        citizen.find_element(By.NAME, "address").send_keys("Naamsestraat 12, 3000 Leuven")
        citizen.find_element(By.NAME, "any_time").click()
        submit(citizen)
        wait_for_text(citizen, "Your request is posted")
        posted = HelpRequest.objects.get(requester=self.citizen)
        assert citizen.current_url == f"{url}/requests/{posted.pk}/"
        assert posted.status == "open" and posted.neighbourhood == "Leuven centrum"
        # No script: the live indicator stays hidden rather than promising updates.
        assert not citizen.find_element(By.CSS_SELECTOR, "[data-live-status]").is_displayed()

        # The volunteer states their offer.
        volunteer = self.browser_for("jan")
        volunteer.get(f"{url}/volunteer/inbox/")  # no offer yet: redirected to the form
        assert volunteer.current_url == f"{url}/volunteer/offer/"
        for category in (self.shopping, self.pharmacy):
            volunteer.find_element(By.CSS_SELECTOR, f"input[name=skills][value='{category.pk}']").click()
        volunteer.find_element(By.NAME, "address").send_keys("Ladeuzeplein 5, 3000 Leuven")
        for slot in (0, 1, 2, 3, 4):  # Monday all day, Tuesday morning and afternoon
            volunteer.find_element(By.CSS_SELECTOR, f"input[name=availability][value='{slot}']").click()
        capacity = volunteer.find_element(By.NAME, "capacity")
        capacity.clear()
        capacity.send_keys("2")
        submit(volunteer)
        wait_for_text(volunteer, "Your offer is saved")
        assert volunteer.current_url == f"{url}/volunteer/inbox/"
        offer = self.volunteer.volunteer_offer
        assert offer.capacity == 2 and set(offer.availability) == {0, 1, 2, 3, 4}

        # A coordinator files a phoned-in request, then gives it to Jan by hand.
        coordinator = self.browser_for("coordinator")
        coordinator.get(f"{url}/coordinator/intake/")
        coordinator.find_element(By.NAME, "contact_name").send_keys("Mrs Maes")
        coordinator.find_element(By.NAME, "contact_phone").send_keys("016 23 45 67")
        coordinator.find_element(By.NAME, "address").send_keys("Naamsestraat 12, 3000 Leuven")
        Select(coordinator.find_element(By.NAME, "category")).select_by_visible_text("Pharmacy")
        coordinator.find_element(By.NAME, "description").send_keys("Pick up her prescription.")
        coordinator.find_element(By.NAME, "any_time").click()
        submit(coordinator)
        wait_for_text(coordinator, "filed for Mrs Maes")
        assert coordinator.current_url == f"{url}/coordinator/intake/"
        phoned = HelpRequest.objects.get(contact_name="Mrs Maes")
        coordinator.get(f"{url}/coordinator/requests/{phoned.pk}/")
        Select(coordinator.find_element(By.NAME, "volunteer")).select_by_value(str(self.volunteer.pk))
        coordinator.find_element(By.NAME, "reason").send_keys("Jan lives next to the pharmacy.")
        submit(coordinator)
        wait_for_text(coordinator, "Assigned to Jan")
        assert coordinator.current_url == f"{url}/coordinator/requests/{phoned.pk}/"
        override = Assignment.objects.get(help_request=phoned)
        assert (override.volunteer, override.status) == (self.volunteer, "proposed")
        # Matching proposes the citizen's request to Jan too (as a worker round would).
        matched = services.assignment_propose(help_request=posted, volunteer=self.volunteer, km=0.7)

        # Jan declines the phoned-in request and accepts the citizen's.
        volunteer.get(f"{url}/volunteer/inbox/")
        wait_for_text(volunteer, "(2)")
        volunteer.find_element(By.CSS_SELECTOR, f"[data-live-item='{override.pk}'] a.button").click()
        volunteer.find_element(By.NAME, "reason").send_keys("Not this week, sorry.")
        volunteer.find_element(
            By.CSS_SELECTOR, f"main form[action$='/tasks/{override.pk}/decline/'] button"
        ).click()
        wait_for_text(volunteer, "Declined. We will look for someone else.")
        assert volunteer.current_url == f"{url}/volunteer/inbox/"
        card = volunteer.find_element(By.CSS_SELECTOR, f"[data-live-item='{matched.pk}']")
        card.find_element(By.CSS_SELECTOR, "button[type=submit]").click()  # Accept
        wait_for_text(volunteer, "The requester now sees that you are coming")
        assert volunteer.current_url == f"{url}/volunteer/tasks/{matched.pk}/"
        assert "Naamsestraat 12" in volunteer.page_source  # the exact address once accepted

        # The citizen's page shows the news on reload (what the live update does with script).
        citizen.refresh()
        wait_for_text(citizen, "Jan Janssens is coming to help you")

        # Jan marks the task done, with the hours spent.
        volunteer.find_element(By.NAME, "hours_spent").send_keys("1.5")
        submit(volunteer)
        wait_for_text(volunteer, "Marked as done")
        assert volunteer.current_url == f"{url}/volunteer/tasks/{matched.pk}/"

        # The citizen cancels another request of theirs, with a reason.
        spare = post_request(self.citizen, self.community, self.pharmacy)
        citizen.get(f"{url}/requests/{spare.pk}/")
        citizen.find_element(By.NAME, "reason").send_keys("My son will go.")
        citizen.find_element(By.CSS_SELECTOR, "main form[method=get] button[type=submit]").click()
        wait_for_text(citizen, "Cancel this request?")  # asked first, what was typed kept
        submit(citizen)
        wait_for_text(citizen, "Your request is cancelled.")
        assert citizen.current_url == f"{url}/requests/{spare.pk}/"
        citizen.get(f"{url}/requests/")
        assert citizen.find_element(By.CSS_SELECTOR, f"[data-live-item='{posted.pk}-done']")

        for help_request in (posted, phoned, spare):
            help_request.refresh_from_db()
        matched.refresh_from_db()
        override.refresh_from_db()
        assert (posted.status, matched.status, float(matched.hours_spent)) == ("done", "done", 1.5)
        assert (override.status, phoned.status) == ("declined", "open")
        assert override.decline_reason == "Not this week, sorry."
        assert spare.status == "cancelled"
        assert spare.status_changes.filter(to_status="cancelled", reason="My son will go.").exists()

    def test_a_coordinator_finds_a_volunteer_and_records_their_checks_by_plain_forms(self) -> None:
        url = self.live_server_url
        not_a_volunteer = make_user("piet", self.community, phone="+32 470 99 88 00")
        coordinator = self.browser_for("coordinator")
        coordinator.get(f"{url}/coordinator/volunteers/")
        coordinator.find_element(By.NAME, "q").send_keys("0470 99 88")
        coordinator.find_element(By.CSS_SELECTOR, "main form[role=search] button[type=submit]").click()
        wait_for_text(coordinator, "1 volunteer matches")
        assert not_a_volunteer.display_name not in coordinator.find_element(By.TAG_NAME, "main").text
        coordinator.find_element(By.PARTIAL_LINK_TEXT, "Checks of").click()
        Select(coordinator.find_element(By.NAME, "kind")).select_by_value("criminal_record_2")
        submit(coordinator)  # no expiry date: refused next to the field
        wait_for_text(coordinator, "Give the date until which the extract is valid.")
        coordinator.find_element(By.NAME, "expires_on").send_keys(
            "12312099"
        )  # as Chromium (en-US) types a date
        submit(coordinator)
        wait_for_text(coordinator, "Recorded: Criminal-record extract (model 2)")
        assert "Not vetted" in coordinator.find_element(By.TAG_NAME, "main").text  # no ID seen yet

    def test_a_referrer_cancels_and_a_coordinator_reactivates_by_plain_forms(self) -> None:
        from mutualaid.partners import referrals
        from tests.partners.conftest import join, refer

        url = self.live_server_url
        practice = referrals.organisation_register(
            community=self.community, name="Huisartsen Centrum", coordinator=self.coordinator
        )
        referrer = join(practice, self.coordinator)
        referral = refer(referrer, self.shopping)

        # The referrer cancels their referral: a link to a question, then the question's form.
        browser = self.browser_for(referrer.username)
        browser.get(f"{url}/referrals/")
        browser.find_element(By.LINK_TEXT, f"Cancel #{referral.pk}").click()
        wait_for_text(browser, "Cancel this request?")
        browser.find_element(By.NAME, "reason").send_keys("Her son came home.")
        submit(browser)
        wait_for_text(browser, f"Request #{referral.pk} for Mrs Refsen is cancelled.")
        assert HelpRequest.objects.get(pk=referral.pk).status == "cancelled"

        # The coordinator deactivates the organisation, then reactivates it.
        coordinator = self.browser_for("coordinator")
        coordinator.get(f"{url}/coordinator/partners/{practice.pk}/")
        coordinator.find_element(
            By.XPATH, "//button[normalize-space()='Deactivate Huisartsen Centrum']"
        ).click()
        wait_for_text(coordinator, "Huisartsen Centrum is deactivated")
        coordinator.find_element(
            By.XPATH, "//button[normalize-space()='Reactivate Huisartsen Centrum']"
        ).click()
        wait_for_text(coordinator, "Huisartsen Centrum is active again")
        practice.refresh_from_db()
        referrer.referrer.refresh_from_db()
        assert practice.is_active and referrer.referrer.is_active
