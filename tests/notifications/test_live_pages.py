"""The pages' side of live updates: what a live refresh fetches, which socket a page opens,
and, in a real Chromium against daphne, that no change is lost around a refresh."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.test import override_settings
from selenium.webdriver.common.by import By

from mutualaid.aid import services
from mutualaid.aid.models import Category, Community
from tests.conftest import LADEUZEPLEIN, PASSWORD, make_user, make_volunteer, post_request, sign_in
from tests.e2e.browser import (
    log_in,
    new_browser,
    text_of,
    wait_for_element_text,
    wait_for_text,
    wait_until_live_idle,
)
from tests.e2e.test_accessibility import LIVE_SERVER_SETTINGS

LIVE_REFRESH = {"HTTP_X_LIVE_REFRESH": "1"}  # the header live.js sends with its fetch


def test_a_live_refresh_leaves_the_persons_messages_for_the_page_they_open(client, citizen, help_request):
    sign_in(client, citizen)
    client.post(f"/requests/{help_request.pk}/cancel/", {"reason": ""})  # "Your request is cancelled."
    # Another tab's page hears the change and fetches itself before this tab's redirect lands.
    in_the_background = client.get(f"/requests/{help_request.pk}/", **LIVE_REFRESH)
    assert "Your request is cancelled." not in in_the_background.content.decode()
    assert "Your request is cancelled." in client.get(f"/requests/{help_request.pk}/").content.decode()


def test_coordinator_pages_follow_the_community_they_show(client, coordinator, other_community, help_request):
    """A superuser's socket joins a community's group only when the page names it."""
    sign_in(client, coordinator)
    page = client.get(f"/coordinator/requests/{help_request.pk}/").content.decode()
    assert '<div data-live-region data-live-community="leuven">' in page
    superuser = make_user("root", None, is_superuser=True, is_staff=True)
    sign_in(client, superuser)
    page = client.get("/coordinator/callbacks/?community=herent").content.decode()
    assert 'data-live-region data-live-community="herent"' in page
    page = client.get(f"/coordinator/requests/{help_request.pk}/").content.decode()
    assert 'data-live-region data-live-community="leuven"' in page


def live_region(page: str) -> str:
    """The part of a page that live.js swaps: from its live region to the region's end."""
    start = page.index("<div data-live-region")
    depth, position = 0, start
    while True:
        opening, closing = page.find("<div", position), page.find("</div>", position)
        if opening != -1 and opening < closing:
            depth, position = depth + 1, opening + 4
        else:
            depth, position = depth - 1, closing + 6
            if depth == 0:
                return page[start:position]


def test_the_pages_history_updates_in_place_too(client, citizen, volunteer, proposal, help_request):
    """The request's history and the inbox's earlier tasks are in the part a refresh swaps."""
    services.assignment_decline(assignment=proposal, volunteer=volunteer, reason="away")
    sign_in(client, citizen)
    region = live_region(client.get(f"/requests/{help_request.pk}/", **LIVE_REFRESH).content.decode())
    assert "History" in region and "the volunteer could not help" in region
    sign_in(client, volunteer)
    region = live_region(client.get("/volunteer/inbox/", **LIVE_REFRESH).content.decode())
    assert "Earlier" in region and "Shopping: Declined" in region


# The socket, slow to open as on a poor mobile line: the page's script gets it 2.5 s late.
SLOW_SOCKET = """
(function () {
  var Real = window.WebSocket;
  window.WebSocket = function (url) {
    var late = this;
    window.setTimeout(function () {
      var socket = new Real(url);
      socket.onopen = function (event) { if (late.onopen) { late.onopen(event); } };
      socket.onmessage = function (event) { if (late.onmessage) { late.onmessage(event); } };
      socket.onclose = function (event) { if (late.onclose) { late.onclose(event); } };
    }, 2500);
  };
})();
"""

# Every fetch's answer arrives 3 s late, as on a slow line.
SLOW_FETCH = """
var real = window.fetch;
window.fetch = function () {
  return real.apply(this, arguments).then(function (response) {
    return new Promise(function (resolve) { window.setTimeout(function () { resolve(response); }, 3000); });
  });
};
"""


STATUS = "[data-request-status]"


@pytest.mark.browser
@override_settings(**LIVE_SERVER_SETTINGS)
class NoChangeIsLostTests(ChannelsLiveServerTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        # The live server is a fork of this process. The socket tests before this one ran
        # database work through asgiref's one-thread executor: a fork inherits that
        # executor without its thread, and the server's sockets would wait on it forever.
        # Likewise the in-memory channel layer they used. Fresh ones for the fork.
        from asgiref.sync import SyncToAsync
        from channels.layers import channel_layers

        SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
        channel_layers.backends.clear()
        super().setUpClass()

    def setUp(self) -> None:
        community = Community.objects.create(name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005)
        shopping = Category.objects.create(community=community, slug="shopping", name="Shopping")
        self.citizen = make_user("maria", community, first_name="Maria", last_name="Peeters")
        self.volunteer = make_volunteer("jan", community, [shopping], LADEUZEPLEIN)
        self.help_request = post_request(self.citizen, community, shopping)
        self.proposal = services.assignment_propose(
            help_request=self.help_request, volunteer=self.volunteer, km=1
        )
        self.browsers = []

    def tearDown(self) -> None:
        for browser in self.browsers:
            browser.quit()

    def browser(self):
        self.browsers.append(new_browser())
        return self.browsers[-1]

    def test_a_change_made_before_the_socket_opened_shows_once_it_opens(self) -> None:
        citizen = self.browser()
        log_in(citizen, self.live_server_url, "maria", PASSWORD)
        citizen.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": SLOW_SOCKET})
        citizen.get(f"{self.live_server_url}/requests/{self.help_request.pk}/")
        assert text_of(citizen, STATUS) == "Proposed to a volunteer"
        # Jan accepts after the page was rendered, before its socket joined the groups: the
        # event is sent to nobody. Opening the socket must catch up all the same.
        services.assignment_accept(assignment=self.proposal, volunteer=self.volunteer)
        wait_for_text(citizen, "Live updates on")
        wait_for_element_text(citizen, STATUS, "A volunteer is coming")

    def test_a_change_heard_while_the_page_is_being_fetched_is_fetched_again(self) -> None:
        citizen, volunteer = self.browser(), self.browser()
        log_in(citizen, self.live_server_url, "maria", PASSWORD)
        log_in(volunteer, self.live_server_url, "jan", PASSWORD)
        volunteer.get(f"{self.live_server_url}/volunteer/tasks/{self.proposal.pk}/")
        citizen.get(f"{self.live_server_url}/requests/{self.help_request.pk}/")
        wait_until_live_idle(citizen)  # the socket is open and its catch-up fetch is done
        citizen.execute_script(SLOW_FETCH)
        # Accepted: the citizen's page fetches itself (rendered at once, arriving 3 s later).
        volunteer.find_element(By.CSS_SELECTOR, "main form[action$='/accept/'] button").click()
        wait_for_text(volunteer, "The requester now sees that you are coming")
        # Done while that fetch is on its way: the page it brings is already out of date.
        volunteer.find_element(By.CSS_SELECTOR, "main form[action$='/done/'] button").click()
        wait_for_text(volunteer, "Marked as done")
        wait_for_element_text(citizen, STATUS, "Done")
