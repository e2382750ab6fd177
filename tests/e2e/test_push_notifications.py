"""Browser notifications in a real Chromium: the permission step, the service worker's
registration, the subscription saved, and a proposal's push shown as a notification.

Chromium cannot subscribe here (it would have to reach its vendor's push service), so
`PushManager.subscribe` is replaced before the page loads by one that answers with keys
this test made, as a browser would. The push itself is delivered to the service worker
through the DevTools protocol (`ServiceWorker.deliverPushMessage`), carrying the payload the
outbox would send for a real proposal; its encryption on the way is tested against a
local push service in tests/notifications/test_push.py.
"""

from __future__ import annotations

import json
import time

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.test import override_settings
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from mutualaid.aid import services
from mutualaid.aid.models import Category, Community
from notifications.management.commands.generate_vapid_keys import new_vapid_keys
from notifications.models import OutgoingMessage, PushSubscription
from tests.conftest import LADEUZEPLEIN, PASSWORD, make_user, make_volunteer, post_request
from tests.e2e.browser import TIMEOUT_SECONDS, log_in, new_browser, wait_for_text
from tests.notifications.push_service import BrowserKeys

VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY = new_vapid_keys()
ENDPOINT = "https://push.example.org/send/volunteer-browser"

# Runs before every page's own scripts: a PushManager that subscribes without a push
# service, remembering the subscription across pages as a browser does.
SUBSCRIBE_STUB = """
(() => {
  const KEY = "test-push-subscription";
  function subscription(stored) {
    return {
      endpoint: stored.endpoint,
      expirationTime: null,
      options: { userVisibleOnly: true },
      toJSON() { return { endpoint: stored.endpoint, expirationTime: null, keys: stored.keys }; },
      async unsubscribe() { localStorage.removeItem(KEY); return true; },
    };
  }
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    localStorage.setItem("test-push-application-server-key-length", String(key.length));
    const stored = { endpoint: %(endpoint)s, keys: %(keys)s };
    localStorage.setItem(KEY, JSON.stringify(stored));
    return subscription(stored);
  };
  PushManager.prototype.getSubscription = async function () {
    const stored = localStorage.getItem(KEY);
    return stored ? subscription(JSON.parse(stored)) : null;
  };
})();
"""


def wait_for_push_state(driver, state: str) -> None:
    try:
        WebDriverWait(driver, TIMEOUT_SECONDS).until(
            lambda d: d.execute_script("return document.documentElement.dataset.push") == state
        )
    except Exception:
        status = driver.find_element(By.CSS_SELECTOR, "[data-push-status]").text
        raise AssertionError(f"notifications are not {state!r}: the page says {status!r}") from None


@pytest.mark.browser
@override_settings(VAPID_PUBLIC_KEY=VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY=VAPID_PRIVATE_KEY)
class PushNotificationsInTheBrowserTests(ChannelsLiveServerTestCase):
    def setUp(self) -> None:
        self.community = Community.objects.create(
            name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005
        )
        self.shopping = Category.objects.create(community=self.community, slug="shopping", name="Shopping")
        self.citizen = make_user("maria", self.community, last_name="Peeters")
        self.volunteer = make_volunteer("jan", self.community, [self.shopping], LADEUZEPLEIN)
        self.volunteer.preferred_language = "en"
        self.volunteer.save()
        self.keys = BrowserKeys()
        self.browser = new_browser()
        self.browser.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument",
            {
                "source": SUBSCRIBE_STUB
                % {
                    "endpoint": json.dumps(ENDPOINT),
                    "keys": json.dumps({"p256dh": self.keys.p256dh, "auth": self.keys.auth}),
                }
            },
        )

    def tearDown(self) -> None:
        self.browser.quit()

    def set_notification_permission(self, setting: str) -> None:
        self.browser.execute_cdp_cmd(
            "Browser.setPermission",
            {"permission": {"name": "notifications"}, "setting": setting, "origin": self.live_server_url},
        )

    def test_a_volunteer_turns_on_notifications_gets_a_proposal_as_one_and_accepts_it(self) -> None:
        browser = self.browser
        log_in(browser, self.live_server_url, "jan", PASSWORD)
        browser.get(f"{self.live_server_url}/accounts/me/")
        wait_for_push_state(browser, "off")

        # The permission step: refused, the page says how to allow it; allowed, it goes on.
        self.set_notification_permission("denied")
        browser.find_element(By.CSS_SELECTOR, "[data-push-on]").click()
        wait_for_push_state(browser, "blocked")
        wait_for_text(browser, "This browser blocks notifications from this site")
        assert not PushSubscription.objects.exists()

        self.set_notification_permission("granted")
        browser.find_element(By.CSS_SELECTOR, "[data-push-on]").click()
        wait_for_push_state(browser, "on")
        wait_for_text(browser, "Notifications are on in this browser.")

        # The service worker is registered for the whole site, from /sw.js.
        registration = browser.execute_async_script(
            """const done = arguments[arguments.length - 1];
            navigator.serviceWorker.ready.then((r) => done({scope: r.scope, script: r.active.scriptURL}));"""
        )
        assert registration == {
            "scope": f"{self.live_server_url}/",
            "script": f"{self.live_server_url}/sw.js",
        }
        # The page subscribed with the service's key (65 bytes: an uncompressed P-256 point)...
        assert (
            browser.execute_script("return localStorage.getItem('test-push-application-server-key-length')")
            == "65"
        )
        # ... and the service saved the browser's subscription for this volunteer.
        saved = PushSubscription.objects.get()
        assert (saved.person, saved.endpoint, saved.p256dh, saved.auth) == (
            self.volunteer,
            ENDPOINT,
            self.keys.p256dh,
            self.keys.auth,
        )

        # A proposal: the outbox holds its push; the browser's push service delivers it.
        proposal = services.assignment_propose(
            help_request=post_request(self.citizen, self.community, self.shopping),
            volunteer=self.volunteer,
            km=0.6,
        )
        push = OutgoingMessage.objects.get(channel="push", proposal=proposal)
        assert push.to_address == ENDPOINT
        browser.execute_cdp_cmd("ServiceWorker.enable", {})
        self.deliver_push(push.body)

        WebDriverWait(browser, TIMEOUT_SECONDS).until(
            lambda d: d.execute_script("return document.documentElement.dataset.pushShown")
        )
        assert browser.execute_script("return document.documentElement.dataset.pushShown") == (
            "A neighbour needs help: Shopping"
        )
        shown = browser.execute_async_script(
            """const done = arguments[arguments.length - 1];
            navigator.serviceWorker.ready
              .then((r) => r.getNotifications())
              .then((list) => done(list.map((n) => (
                {title: n.title, body: n.body, tag: n.tag, url: n.data.url}))));"""
        )
        assert shown == [
            {
                "title": "A neighbour needs help: Shopping",
                "body": "In Leuven centrum, 0.6 km from you. Tap to answer.",
                "tag": f"task-{proposal.pk}",
                # Tapping it opens the task (an address on this site only).
                "url": f"{self.live_server_url}/volunteer/tasks/{proposal.pk}/",
            }
        ]

        # The page the notification opens is where the volunteer accepts. (A tap on a
        # notification cannot be simulated in headless Chromium; the worker's click handler
        # opens this same address.)
        browser.get(shown[0]["url"])
        browser.find_element(By.XPATH, "//button[normalize-space()='Accept']").click()
        wait_for_text(browser, "The requester now sees that you are coming")
        proposal.refresh_from_db()
        assert proposal.status == "accepted"

        # Turning notifications off forgets the subscription on the service too.
        browser.get(f"{self.live_server_url}/accounts/me/")
        wait_for_push_state(browser, "on")
        browser.find_element(By.CSS_SELECTOR, "[data-push-off]").click()
        wait_for_push_state(browser, "off")
        assert not PushSubscription.objects.exists()

    def deliver_push(self, data: str) -> None:
        """Hand `data` to the service worker as its push service would (DevTools protocol).

        Selenium's CDP bridge returns results but no events, so the registration's id (which
        `ServiceWorker.workerRegistrationUpdated` would announce) is found by trying the first
        few: a fresh profile numbers its registrations from 0.
        """
        errors = []
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            for registration_id in range(4):
                try:
                    self.browser.execute_cdp_cmd(
                        "ServiceWorker.deliverPushMessage",
                        {
                            "origin": self.live_server_url,
                            "registrationId": str(registration_id),
                            "data": data,
                        },
                    )
                    return
                except Exception as error:  # the id was not this one
                    errors.append(f"{registration_id}: {str(error)[:120]}")
            time.sleep(0.2)
        raise AssertionError("no service worker registration took the push: " + "; ".join(errors[-4:]))
