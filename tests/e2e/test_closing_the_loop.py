"""After the task, in a browser with JavaScript off: the volunteer records what the shopping
cost when marking it done, and the citizen confirms paying it back and says thank you."""

from __future__ import annotations

from decimal import Decimal

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.test import override_settings
from selenium.webdriver.common.by import By

from mutualaid.aid import services
from mutualaid.aid.models import Category, Community, TaskExpense, TaskFeedback
from tests.conftest import LADEUZEPLEIN, make_user, make_volunteer, post_request
from tests.e2e.browser import SignedInBrowsers, wait_for_text
from tests.e2e.test_accessibility import LIVE_SERVER_SETTINGS


@pytest.mark.browser
@override_settings(**LIVE_SERVER_SETTINGS)
class ClosingTheLoopTests(SignedInBrowsers, ChannelsLiveServerTestCase):
    javascript = False

    def setUp(self) -> None:
        community = Community.objects.create(name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005)
        shopping = Category.objects.create(
            community=community, slug="shopping", name="Shopping", carries_expenses=True
        )
        self.citizen = make_user("maria", community, first_name="Maria", last_name="Peeters")
        self.volunteer = make_volunteer("jan", community, [shopping], LADEUZEPLEIN)
        self.help_request = post_request(self.citizen, community, shopping)
        self.task = services.assignment_propose(
            help_request=self.help_request, volunteer=self.volunteer, km=1
        )
        services.assignment_accept(assignment=self.task, volunteer=self.volunteer)

    def test_the_volunteer_records_the_cost_and_the_citizen_confirms_and_thanks(self) -> None:
        url = self.live_server_url
        volunteer = self.browser_for("jan")
        volunteer.get(f"{url}/volunteer/tasks/{self.task.pk}/")
        # Over the cap (€50): refused at the field, the task not done.
        volunteer.find_element(By.NAME, "amount").send_keys("75,00")
        volunteer.find_element(By.CSS_SELECTOR, "form[action$='/done/'] button[type=submit]").click()
        wait_for_text(volunteer, "At most")
        amount = volunteer.find_element(By.NAME, "amount")
        assert amount.get_attribute("aria-invalid") == "true"
        amount.clear()
        amount.send_keys("12,50")
        volunteer.find_element(By.NAME, "receipt_note").send_keys("Receipt in the bag")
        volunteer.find_element(By.CSS_SELECTOR, "form[action$='/done/'] button[type=submit]").click()
        wait_for_text(volunteer, "Marked as done")
        assert TaskExpense.objects.get().amount == Decimal("12.50")

        citizen = self.browser_for("maria")
        citizen.get(f"{url}/requests/{self.help_request.pk}/")
        assert "12.50" in citizen.find_element(By.CSS_SELECTOR, "[data-expense-amount]").text
        citizen.find_element(By.CSS_SELECTOR, "form[action$='/expense/repaid/'] button").click()
        wait_for_text(citizen, "Paid back to the volunteer.")
        citizen.find_element(By.NAME, "message").send_keys("Thank you, Jan!")
        citizen.find_element(By.CSS_SELECTOR, "form[action$='/thanks/'] button[type=submit]").click()
        wait_for_text(citizen, "Your thanks are passed on")
        assert TaskExpense.objects.get().status == "repaid"
        assert TaskFeedback.objects.get().message == "Thank you, Jan!"
        # Answered: no second answer is offered.
        assert not citizen.find_elements(By.CSS_SELECTOR, "form[action$='/not-helped/'], [formaction]")

        volunteer.get(f"{url}/volunteer/tasks/{self.task.pk}/")
        wait_for_text(volunteer, "Thank you, Jan!")
