"""WCAG 2.2 AA on every main page, as every role, in every language: axe-core in Chromium.

Each page is also checked for what axe-core does not test: that it reflows at 320 CSS px
without sideways scrolling (1.4.10) and that every control shows its keyboard focus
(2.4.7) in tab order (2.4.3). A second test makes sure live updates are announced
politely and never move the focus.

Run it with `.venv/bin/python -m pytest -m browser tests/e2e/test_accessibility.py -s`
(after `npm ci`, which installs the pinned axe-core). The summary line it prints is the
figure quoted in docs/accessibility.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
from decimal import Decimal
from pathlib import Path

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.test import override_settings
from django.utils import timezone
from PIL import Image
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from mutualaid.aid import services
from mutualaid.aid.models import Assignment, Category, Community
from mutualaid.aid.services.series import assignment_accept_every_week, help_series_create
from mutualaid.partners import referrals
from notifications.management.commands.generate_vapid_keys import new_vapid_keys
from notifications.models import OutgoingMessage
from tests.conftest import (
    KESSEL_LO,
    LADEUZEPLEIN,
    NAAMSESTRAAT,
    PASSWORD,
    make_user,
    make_volunteer,
    post_request,
)
from tests.e2e.axe import axe_check
from tests.e2e.browser import (
    log_in,
    new_browser,
    wait_for_text,
    wait_until_live_idle,
)

LANGUAGES = ["nl", "fr", "en"]
# A11Y_SCREENSHOTS=/some/folder also saves a screenshot of every page visited.
SCREENSHOTS = Path(os.environ["A11Y_SCREENSHOTS"]) if os.environ.get("A11Y_SCREENSHOTS") else None
# A desktop, and the narrowest phone WCAG 1.4.10 (reflow) asks for.
WIDTHS = [1280, 320]
ROLES = {
    "anonymous": None,
    "citizen": "maria",
    "volunteer": "jan",
    # With no proposal, the inbox says why and what would help.
    "idle volunteer": "an",
    "coordinator": "coordinator",
    "referrer": "dr.janssens@example.org",
    # Signed in with the password only: the second step's page.
    "coordinator before the code": "coordinator",
}

# The live server is forked when the class starts: the settings it must run with (no map
# tiles from the internet, the offline gazetteer, no matching worker of its own) are
# overridden for the whole class, before the fork.
# With push set up, My account shows its notifications section, which is checked too.
_VAPID_PUBLIC_KEY, _VAPID_PRIVATE_KEY = new_vapid_keys()


def small_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 32), "#7a1f5c").save(buffer, format="PNG")
    return buffer.getvalue()


LOGO = small_png()
LIVE_SERVER_SETTINGS = {
    "MAP_TILE_URL": "",
    "GEOCODER": "offline",
    "MATCHING_WORKER": "external",
    "VAPID_PUBLIC_KEY": _VAPID_PUBLIC_KEY,
    "VAPID_PRIVATE_KEY": _VAPID_PRIVATE_KEY,
}


def describe(item: dict) -> str:
    return f"{item['id']} ({item['impact']}) {item['help']} -> {', '.join(item['targets'])}"


# WCAG 2.4.7 (focus visible) and 2.4.3 (focus order), which axe-core does not test: every
# control that takes the focus shows a ring (an outline of 2 px or more, or a box shadow)
# when focused by keyboard, and no positive tabindex reorders the page.
_FOCUS_CHECK = """
const controls = Array.from(document.querySelectorAll(
  'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])'
)).filter((element) => !element.disabled && element.getClientRects().length);
const problems = [];
const name = (element) => element.tagName.toLowerCase()
  + (element.id ? "#" + element.id : "")
  + (element.getAttribute("name") ? "[name=" + element.getAttribute("name") + "]" : "")
  + (element.getAttribute("href") ? "[href=" + element.getAttribute("href") + "]" : "")
  + " '" + (element.textContent || element.value || "").trim().slice(0, 30) + "'";
for (const element of controls) {
  if (element.tabIndex > 0) { problems.push("positive tabindex: " + name(element)); }
  element.focus({preventScroll: true});
  if (document.activeElement !== element) { continue; }
  const style = getComputedStyle(element);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  const ring = outline || style.boxShadow !== "none";
  if (!element.matches(":focus-visible") || !ring) { problems.push("no visible focus: " + name(element)); }
}
document.activeElement.blur();
return problems;
"""


def focus_problems(driver) -> list[str]:
    # A key press first: browsers show the focus ring after keyboard use, as for its users.
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.SHIFT)
    return driver.execute_script(_FOCUS_CHECK)


def submit_main_form(driver) -> None:
    """Submits the page's main form as it is and waits for the answer (with its errors)."""
    driver.find_element(By.CSS_SELECTOR, "main form[method=post] button[type=submit]").click()
    WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "main .errorlist"))


def empty_every_field(driver) -> None:
    """Clears a prefilled form (the volunteer's saved offer) so that submitting it fails."""
    driver.execute_script(
        """
        document.querySelectorAll("main form[method=post] input, main form[method=post] textarea")
          .forEach((field) => {
            if (field.type === "checkbox") { field.checked = false; }
            else if (field.type !== "hidden") { field.value = ""; }
          });
        """
    )


@pytest.mark.browser
# The coordinators' sweep (every page x 3 languages x 2 widths) ran past the 300 s default on
# a machine 4-5x slower than usual (2026-12-05); a hung browser is still stopped.
@pytest.mark.timeout(900)
@override_settings(**LIVE_SERVER_SETTINGS)
class AccessibilitySweepTests(ChannelsLiveServerTestCase):
    def setUp(self) -> None:
        # With a look of its own (name, logo, colour, hours): axe checks them on every page.
        community = Community.objects.create(
            name="Leuven",
            slug="leuven",
            latitude=50.8798,
            longitude=4.7005,
            service_name="Leuven Helpt",
            accent_colour="#7a1f5c",
            logo=LOGO,
            logo_content_type="image/png",
            contact_phone="016 27 20 00",
            help_line_days="weekdays",
            help_line_opens=dt.time(9),
            help_line_closes=dt.time(17),
        )
        self.community = community
        shopping = Category.objects.create(
            community=community, slug="shopping", name="Shopping", carries_expenses=True
        )
        pharmacy = Category.objects.create(
            community=community, slug="pharmacy", name="Pharmacy", carries_expenses=True
        )
        Category.objects.create(community=community, slug="lift", name="A lift", requires_vetting=True)
        self.coordinator = make_user(
            "coordinator", community, is_coordinator=True, is_staff=True, email="coordinator@example.org"
        )
        self.citizen = make_user(
            "maria", community, first_name="Maria", last_name="Peeters", phone="+32 470 11 22 33"
        )
        self.volunteer = make_volunteer("jan", community, [shopping, pharmacy], LADEUZEPLEIN, capacity=6)
        self.volunteer.first_name, self.volunteer.email = "Jan", "jan@example.org"
        self.volunteer.save()
        make_volunteer("an", community, [shopping], KESSEL_LO)
        services.volunteer_check_record(
            volunteer=self.volunteer,
            coordinator=self.coordinator,
            kind="criminal_record_2",
            checked_on=timezone.localdate(),
            expires_on=timezone.localdate() + dt.timedelta(days=365),
        )

        # The citizen: one request still open, one accepted, one done.
        self.open_request = post_request(self.citizen, community, shopping)
        self.accepted_request = post_request(self.citizen, community, pharmacy)
        self.accepted_task = services.assignment_propose(
            help_request=self.accepted_request, volunteer=self.volunteer, km=0.7
        )
        services.assignment_accept(assignment=self.accepted_task, volunteer=self.volunteer)
        done_request = post_request(self.citizen, community, shopping)
        done_task = services.assignment_propose(help_request=done_request, volunteer=self.volunteer, km=0.7)
        services.assignment_accept(assignment=done_task, volunteer=self.volunteer)
        services.assignment_complete(assignment=done_task, volunteer=self.volunteer, hours_spent=1.5)
        # The volunteer paid for the shopping: the citizen is asked to confirm paying it back.
        services.expense_record(
            assignment=done_task, volunteer=self.volunteer, amount=Decimal("12.50"), receipt_note="In the bag"
        )
        self.done_request, self.done_task = done_request, done_task
        # ...and one whose every chosen time passed with no one found.
        self.expired_request = post_request(self.citizen, community, pharmacy)
        services.help_request_expire_if_time_passed(
            help_request=self.expired_request, now=timezone.now() + dt.timedelta(days=2)
        )

        # Weekly shopping, which the volunteer accepted every week.
        self.weekly_series = help_series_create(
            community=community,
            requester=self.citizen,
            created_by=self.citizen,
            category=shopping,
            description="The weekly shopping.",
            location=NAAMSESTRAAT,
            every_weeks=1,
            starts=timezone.localdate() + dt.timedelta(days=1),
            part_of_day=0,
            until=timezone.localdate() + dt.timedelta(days=60),
        )
        self.weekly_request = self.weekly_series.occurrences.get()
        self.weekly_task = services.assignment_propose(
            help_request=self.weekly_request, volunteer=self.volunteer, km=0.7
        )
        assignment_accept_every_week(assignment=self.weekly_task, volunteer=self.volunteer)
        # A task for two: Jan is coming, a second volunteer is still looked for.
        self.team_request = services.help_request_create(
            community=community,
            requester=self.citizen,
            created_by=self.citizen,
            category=shopping,
            description="Carry a wardrobe upstairs.",
            urgency=1,
            location=NAAMSESTRAAT,
            any_time=True,
            people_needed=2,
        )
        self.team_task = services.assignment_propose(
            help_request=self.team_request, volunteer=self.volunteer, km=0.9
        )
        services.assignment_accept(assignment=self.team_task, volunteer=self.volunteer)

        # Someone who phoned in: their request is proposed to the volunteer.
        self.phone_request = services.help_request_create(
            community=community,
            requester=None,
            created_by=self.coordinator,
            category=shopping,
            description="Bread and soup for the week.",
            urgency=1,
            location=NAAMSESTRAAT,
            any_time=True,
            contact_name="Mrs Maes",
            contact_phone="016 23 45 67",
        )
        self.proposed_task = services.assignment_propose(
            help_request=self.phone_request, volunteer=self.volunteer, km=1.2
        )
        # Another caller cancelled: on the call-back list.
        cancelled = services.help_request_create(
            community=community,
            requester=None,
            created_by=self.coordinator,
            category=pharmacy,
            description="A prescription.",
            urgency=1,
            location=NAAMSESTRAAT,
            any_time=True,
            contact_name="Mr Claes",
            contact_phone="016 98 76 54",
        )
        services.help_request_cancel(help_request=cancelled, actor=self.coordinator, reason="not needed")
        # A caller whose help did not come: on the dashboard's follow-ups.
        not_helped = services.help_request_create(
            community=community,
            requester=None,
            created_by=self.coordinator,
            category=shopping,
            description="Milk and bread.",
            urgency=1,
            location=NAAMSESTRAAT,
            any_time=True,
            contact_name="Mr Peeters",
            contact_phone="016 11 11 11",
        )
        not_helped_task = services.assignment_propose(help_request=not_helped, volunteer=self.volunteer, km=1)
        services.assignment_accept(assignment=not_helped_task, volunteer=self.volunteer)
        services.assignment_complete(assignment=not_helped_task, volunteer=self.volunteer)
        services.task_report_not_helped(
            help_request=not_helped, actor=self.coordinator, message="Nobody came."
        )
        services.coordinator_message_send(
            coordinator=self.coordinator,
            community=community,
            subject="Thank you",
            body="Thank you for helping this week.",
            volunteer=self.volunteer,
        )
        # The team at work: notes, calls taken (by this coordinator and by a colleague), a
        # concern reported and a volunteer suspended.
        colleague = make_user("els", community, first_name="Els", is_coordinator=True, is_staff=True)
        services.team_note_add(
            help_request=self.phone_request, coordinator=colleague, text="Hard of hearing."
        )
        services.call_take(help_request=self.phone_request, coordinator=self.coordinator)
        services.call_take(help_request=self.accepted_request, coordinator=colleague, kind="follow_up")
        services.concern_report_file(
            reporter=self.citizen, help_request=self.accepted_request, about="volunteer", text="He was rude."
        )
        self.suspended = make_volunteer("piet", community, [shopping], KESSEL_LO)
        services.volunteer_suspend(
            offer=self.suspended.volunteer_offer, coordinator=self.coordinator, reason="Checking references."
        )
        # Sign-ups closed to the waiting list for a moment: one volunteer waits on it.
        services.community_set_volunteer_waiting_list(
            community=community, coordinator=self.coordinator, on=True
        )
        make_volunteer("wim", community, [shopping], KESSEL_LO)
        services.community_set_volunteer_waiting_list(
            community=community, coordinator=self.coordinator, on=False
        )

        # A GP practice: a referrer who referred a neighbour, and an invitation not yet accepted.
        self.practice = referrals.organisation_register(
            community=community, name="Huisartsenpraktijk Centrum", coordinator=self.coordinator
        )
        referrer = referrals.invitation_accept(
            invitation=referrals.invitation_find(self.invite("dr.janssens@example.org")),
            first_name="Ann",
            last_name="Janssens",
            password=PASSWORD,
            language="nl",
        )
        self.referral = referrals.referral_create(
            referrer=referrer.referrer,
            consent=True,
            contact_name="Mr Wouters",
            contact_phone="0470 55 66 77",
            category=shopping,
            description="Groceries, he cannot walk far.",
            urgency=2,
            location=NAAMSESTRAAT,
            any_time=True,
        )
        self.invitation_token = self.invite("nurse@example.org")
        # A referrer who left (the practice's page offers to reactivate them), and an
        # organisation that stopped (its page offers to reactivate it).
        former = referrals.invitation_accept(
            invitation=referrals.invitation_find(self.invite("former@example.org")),
            first_name="Bart",
            last_name="Peeters",
            password=PASSWORD,
            language="nl",
        )
        referrals.referrer_deactivate(referrer=former.referrer, actor=self.coordinator)
        self.stopped = referrals.organisation_register(
            community=community, name="Thuiszorg Oost", coordinator=self.coordinator
        )
        referrals.organisation_deactivate(organisation=self.stopped, actor=self.coordinator)

    def invite(self, email: str) -> str:
        referrals.referrer_invite(
            organisation=self.practice, email=email, invited_by=self.coordinator, language="en"
        )
        body = OutgoingMessage.objects.filter(to_address=email).latest("pk").body
        return body.split("/referrals/join/")[1].split("/")[0]

    def pages_of(self, role: str) -> list[tuple[str, str, object]]:
        """(page name, path, what to do on the page before checking it) per role."""
        transparency = ("transparency", f"/communities/{self.community.slug}/transparency/", None)
        account = ("account", "/accounts/me/", None)
        if role == "anonymous":
            return [
                ("home", "/", None),
                ("login", "/accounts/login/", None),
                ("login with errors", "/accounts/login/", submit_main_form),
                ("signup", "/accounts/signup/", None),
                ("signup with errors", "/accounts/signup/", submit_main_form),
                ("password reset", "/accounts/password_reset/", None),
                ("password reset with errors", "/accounts/password_reset/", submit_main_form),
                transparency,
                ("joining as a referrer", f"/referrals/join/{self.invitation_token}/", None),
                (
                    "joining as a referrer with errors",
                    f"/referrals/join/{self.invitation_token}/",
                    submit_main_form,
                ),
                ("an invitation that no longer works", "/referrals/join/not-a-token/", None),
            ]
        if role == "citizen":
            return [
                ("home", "/", None),
                ("my requests", "/requests/", None),
                ("new request", "/requests/new/", None),
                ("new request with errors", "/requests/new/", submit_main_form),
                ("request detail (open)", f"/requests/{self.open_request.pk}/", None),
                ("request detail (accepted)", f"/requests/{self.accepted_request.pk}/", None),
                ("cancelling a request", f"/requests/{self.accepted_request.pk}/cancel/", None),
                ("changing a request", f"/requests/{self.open_request.pk}/edit/", None),
                ("request detail (time passed)", f"/requests/{self.expired_request.pk}/", None),
                ("request detail (done, an expense to confirm)", f"/requests/{self.done_request.pk}/", None),
                ("request detail (weekly)", f"/requests/{self.weekly_request.pk}/", None),
                ("cancelling weekly help", f"/requests/{self.weekly_request.pk}/series/cancel/", None),
                ("request detail (1 of 2 volunteers found)", f"/requests/{self.team_request.pk}/", None),
                ("new times for a request", f"/requests/{self.expired_request.pk}/edit/", None),
                ("report a concern", f"/requests/{self.accepted_request.pk}/concern/", None),
                (
                    "report a concern with errors",
                    f"/requests/{self.accepted_request.pk}/concern/",
                    submit_main_form,
                ),
                account,
                ("password change", "/accounts/password_change/", None),
                transparency,
            ]
        if role == "volunteer":
            return [
                ("home", "/", None),
                ("inbox", "/volunteer/inbox/", None),
                ("offer form", "/volunteer/offer/", None),
                (
                    "offer form with errors",
                    "/volunteer/offer/",
                    lambda driver: (empty_every_field(driver), submit_main_form(driver)),
                ),
                ("task detail (proposed)", f"/volunteer/tasks/{self.proposed_task.pk}/", None),
                ("task detail (accepted)", f"/volunteer/tasks/{self.accepted_task.pk}/", None),
                ("task detail (done, with an expense)", f"/volunteer/tasks/{self.done_task.pk}/", None),
                ("task detail (every week)", f"/volunteer/tasks/{self.weekly_task.pk}/", None),
                ("task detail (one of a team)", f"/volunteer/tasks/{self.team_task.pk}/", None),
                ("report a concern", f"/volunteer/tasks/{self.accepted_task.pk}/concern/", None),
                account,
            ]
        if role == "idle volunteer":
            return [("inbox (why no proposal)", "/volunteer/inbox/", None)]
        if role == "coordinator before the code":
            return [
                ("one-time code", "/accounts/two-factor/verify/", None),
                ("one-time code with errors", "/accounts/two-factor/verify/", submit_main_form),
            ]
        if role == "referrer":
            return [
                ("home", "/", None),
                ("referrals", "/referrals/", None),
                ("new referral", "/referrals/new/", None),
                ("new referral with errors", "/referrals/new/", submit_main_form),
                ("cancelling a referral", f"/referrals/{self.referral.pk}/cancel/", None),
                account,
            ]
        assert role == "coordinator"
        return [
            ("home", "/", None),
            ("dashboard", "/coordinator/", None),
            # Searched, all statuses, and two filters it cannot read: the fields marked.
            ("dashboard filtered, with errors", "/coordinator/?q=0470&status=all&urgency=9&page=0", None),
            ("intake", "/coordinator/intake/", None),
            ("intake with errors", "/coordinator/intake/", submit_main_form),
            ("call-back list", "/coordinator/callbacks/", None),
            ("coordinator request (open)", f"/coordinator/requests/{self.open_request.pk}/", None),
            ("coordinator request (accepted)", f"/coordinator/requests/{self.accepted_request.pk}/", None),
            ("coordinator request (phoned in)", f"/coordinator/requests/{self.phone_request.pk}/", None),
            (
                "coordinator request (done, an expense)",
                f"/coordinator/requests/{self.done_request.pk}/",
                None,
            ),
            ("coordinator request (weekly)", f"/coordinator/requests/{self.weekly_request.pk}/", None),
            ("coordinator request (1 of 2 found)", f"/coordinator/requests/{self.team_request.pk}/", None),
            ("messages", "/coordinator/messages/", None),
            ("messages with errors", "/coordinator/messages/", submit_main_form),
            ("our look", "/coordinator/identity/", None),
            (
                "our look with errors",
                "/coordinator/identity/",
                lambda driver: (
                    driver.execute_script("document.querySelector('[name=help_line_closes]').value = '';"),
                    submit_main_form(driver),
                ),
            ),
            ("volunteers", "/coordinator/volunteers/", None),
            ("volunteers found by phone", "/coordinator/volunteers/?q=0470", None),
            ("waiting list of volunteers", "/coordinator/volunteers/waiting-list/", None),
            ("checks of a volunteer", f"/coordinator/volunteers/{self.volunteer.pk}/checks/", None),
            (
                "checks of a volunteer with errors",
                f"/coordinator/volunteers/{self.volunteer.pk}/checks/",
                lambda driver: (empty_every_field(driver), submit_main_form(driver)),
            ),
            ("partner organisations", "/coordinator/partners/", None),
            ("partner organisation", f"/coordinator/partners/{self.practice.pk}/", None),
            (
                "partner organisation with errors",
                f"/coordinator/partners/{self.practice.pk}/",
                submit_main_form,
            ),
            ("a deactivated partner organisation", f"/coordinator/partners/{self.stopped.pk}/", None),
            ("safeguarding", "/coordinator/concerns/", None),
            ("suspending a volunteer", f"/coordinator/volunteers/{self.volunteer.pk}/suspend/", None),
            (
                "suspending a volunteer with errors",
                f"/coordinator/volunteers/{self.volunteer.pk}/suspend/",
                submit_main_form,
            ),
            ("a suspended volunteer", f"/coordinator/volunteers/{self.suspended.pk}/suspend/", None),
            ("two-step sign-in of the team", "/coordinator/two-factor/", None),
            ("setting up two-step sign-in", "/accounts/two-factor/enrol/", None),
            ("setting up two-step sign-in with errors", "/accounts/two-factor/enrol/", submit_main_form),
            ("recovery codes", "/accounts/two-factor/recovery-codes/", None),
            transparency,
        ]

    def sweep(self, role: str, username: str | None) -> tuple[int, list[str], set[str]]:
        visits, found, undecided = 0, [], set()
        driver = new_browser()
        try:
            if username:
                log_in(
                    driver,
                    self.live_server_url,
                    username,
                    PASSWORD,
                    second_step=role != "coordinator before the code",
                )
            else:
                driver.get(self.live_server_url)
            for width in WIDTHS:
                driver.set_window_size(width, 1000)
                for language in LANGUAGES:
                    driver.add_cookie({"name": "django_language", "value": language, "path": "/"})
                    for page, path, prepare in self.pages_of(role):
                        visits += 1
                        where = f"{language} · {width} px · {role} · {page}"
                        problems, incomplete = self.check(driver, path, prepare, language)
                        found += [f"{where}: {problem}" for problem in problems]
                        undecided.update(f"{role} · {page}: {item}" for item in incomplete)
        finally:
            driver.quit()
        return visits, found, undecided

    def check(self, driver, path: str, prepare, language: str) -> tuple[list[str], list[str]]:
        """The page's problems (axe violations, reflow, focus), and what axe left undecided."""
        driver.get(f"{self.live_server_url}{path}")
        if prepare is not None:
            prepare(driver)
        self.wait_for_live_status(driver)
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
        if SCREENSHOTS:  # for the checks a person does: focus, charts, maps
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = "".join(character if character.isalnum() else "-" for character in driver.current_url)
            width = driver.execute_script("return window.innerWidth;")
            driver.save_screenshot(str(SCREENSHOTS / f"{language}-{width}-{name[-60:]}.png"))
        results = axe_check(driver)
        problems = [describe(item) for item in results["violations"]]
        # WCAG 1.4.10: at 320 CSS px nothing but a table's or map's own scroll box scrolls sideways.
        scroll_width, width = driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];"
        )
        if scroll_width > width:
            problems.append(f"the page scrolls sideways: {scroll_width} px of content in {width} px")
        problems += focus_problems(driver)
        return problems, [describe(item) for item in results["incomplete"]]

    @staticmethod
    def wait_for_live_status(driver) -> None:
        """On pages with live updates, check them as they look once the socket is up."""
        if not driver.find_elements(By.CSS_SELECTOR, "[data-live-region]"):
            return
        # If the socket is slow, axe checks the page as it is: the indicator is not under test here.
        with contextlib.suppress(TimeoutException):
            WebDriverWait(driver, 5).until(
                lambda d: d.execute_script(
                    "const s = document.querySelector('[data-live-status]'); return s && !s.hidden;"
                )
            )

    # One test per role, so each stays well within the per-test timeout on a loaded machine.
    def sweep_role(self, role: str) -> None:
        visits, found, undecided = self.sweep(role, ROLES[role])
        if undecided:
            print("\naxe-core could not decide (checked by hand):\n" + "\n".join(sorted(undecided)))
        print(
            f"\naxe-core sweep as {role}: {visits} page visits ({len(self.pages_of(role))} pages"
            f" x {len(LANGUAGES)} languages x {len(WIDTHS)} widths), {len(found)} violations"
        )
        assert not found, "WCAG 2.2 A/AA problems (axe-core, reflow, focus):\n" + "\n".join(found)

    def test_every_main_page_passes_axe_for_anonymous_visitors_in_every_language(self) -> None:
        self.sweep_role("anonymous")

    def test_every_main_page_passes_axe_for_citizens_in_every_language(self) -> None:
        self.sweep_role("citizen")

    def test_every_main_page_passes_axe_for_volunteers_in_every_language(self) -> None:
        self.sweep_role("volunteer")

    def test_the_idle_inbox_passes_axe_in_every_language(self) -> None:
        self.sweep_role("idle volunteer")

    def test_every_main_page_passes_axe_for_coordinators_in_every_language(self) -> None:
        self.sweep_role("coordinator")

    def test_every_main_page_passes_axe_for_referrers_in_every_language(self) -> None:
        self.sweep_role("referrer")

    def test_the_second_step_of_signing_in_passes_axe_in_every_language(self) -> None:
        self.sweep_role("coordinator before the code")

    def test_live_updates_are_announced_politely_and_never_move_the_focus(self) -> None:
        base = self.live_server_url
        citizen, coordinator, volunteer = new_browser(), new_browser(), new_browser()
        try:
            log_in(citizen, base, "maria", PASSWORD)
            citizen.get(f"{base}/requests/{self.open_request.pk}/")
            wait_until_live_idle(citizen)
            citizen.execute_script("document.body.dataset.loadedOnce = 'yes';")  # gone if the page reloads
            announcer = citizen.find_element(By.CSS_SELECTOR, "[data-live-announcer]")
            assert announcer.get_attribute("aria-live") == "polite"
            language = citizen.find_element(By.ID, "language-menu")
            citizen.execute_script("arguments[0].focus();", language)

            # A coordinator proposes the request to Jan: the citizen's page changes by itself,
            # says so politely, and the focus stays where the citizen left it (outside).
            log_in(coordinator, base, "coordinator", PASSWORD)
            coordinator.get(f"{base}/coordinator/requests/{self.open_request.pk}/")
            Select(coordinator.find_element(By.NAME, "volunteer")).select_by_value(str(self.volunteer.pk))
            coordinator.find_element(By.NAME, "reason").send_keys("Jan lives around the corner.")
            coordinator.find_element(By.CSS_SELECTOR, "main form[action$='/assign/'] button").click()
            wait_for_text(coordinator, "Assigned to")
            wait_for_text(citizen, "A volunteer near you has been asked")
            WebDriverWait(citizen, 5).until(lambda d: announcer.get_attribute("textContent"))
            assert announcer.get_attribute("textContent") == "Your request was updated."
            assert citizen.switch_to.active_element == language

            # The citizen starts typing a reason to cancel (inside the live region); Jan
            # accepts: the new content keeps that field focused, with what was typed.
            wait_until_live_idle(citizen)  # no swap on its way to replace the field under the typing
            reason = citizen.find_element(By.CSS_SELECTOR, "main [data-live-region] [name=reason]")
            reason.send_keys("My son may go")
            log_in(volunteer, base, "jan", PASSWORD)
            proposal = Assignment.objects.get(help_request=self.open_request, status="proposed")
            volunteer.get(f"{base}/volunteer/tasks/{proposal.pk}/")
            volunteer.find_element(By.CSS_SELECTOR, "main form[action$='/accept/'] button").click()
            wait_for_text(volunteer, "The requester now sees that you are coming")
            wait_for_text(citizen, "is coming to help you")
            focused = citizen.switch_to.active_element
            assert focused.get_attribute("name") == "reason"
            assert focused.get_attribute("value") == "My son may go"
            assert citizen.execute_script("return document.body.dataset.loadedOnce") == "yes"
        finally:
            for browser in (citizen, coordinator, volunteer):
                browser.quit()
