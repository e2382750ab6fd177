"""Who hears what on the live-update socket, through the real ASGI stack."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client
from django.urls import reverse

from mutualaid.aid import services
from mutualaid.asgi import application
from tests.conftest import make_user, post_request, sign_in
from tests.web.test_admin import admin_form_data

# Transactional: the services' events leave on a real commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")


def cookie_of(client: Client) -> bytes:
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def session_cookie(user) -> bytes:
    client = Client()
    sign_in(client, user)
    return cookie_of(client)


async def connect(
    user=None, origin=ORIGIN, path="/ws/updates/", cookie: bytes | None = None
) -> tuple[WebsocketCommunicator, bool]:
    """A socket as `user` (a fresh session), or with the session `cookie` of a client."""
    headers = [origin, (b"host", b"localhost")]
    if user is not None:
        cookie = await sync_to_async(session_cookie)(user)
    if cookie is not None:
        headers.append((b"cookie", cookie))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _code = await communicator.connect(timeout=5)
    return communicator, connected


def propose(help_request, volunteer) -> None:
    with transaction.atomic():
        services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.5)


async def test_anonymous_socket_is_refused():
    communicator, connected = await connect(user=None)
    assert not connected
    await communicator.disconnect()


async def test_socket_from_another_origin_is_refused(citizen):
    communicator, connected = await connect(citizen, origin=(b"origin", b"http://evil.example"))
    assert not connected
    await communicator.disconnect()


async def test_requester_hears_about_their_request_and_others_do_not(
    citizen, other_citizen, community, shopping, volunteer
):
    mine, connected = await connect(citizen)
    assert connected
    theirs, connected = await connect(other_citizen)
    assert connected
    help_request = await sync_to_async(post_request)(citizen, community, shopping)
    assert (await mine.receive_json_from(timeout=5))["change"] == "created"
    await sync_to_async(propose)(help_request, volunteer)
    event = await mine.receive_json_from(timeout=5)
    assert event == {
        "type": "task.changed",
        "request": help_request.pk,
        "status": "proposed",
        "change": "proposed",
    }
    assert await theirs.receive_nothing(timeout=0.3)
    await mine.disconnect()
    await theirs.disconnect()


async def test_coordinator_hears_every_change_of_their_community_only(
    coordinator, outsider_coordinator, citizen, community, shopping
):
    own, connected = await connect(coordinator)
    assert connected
    other, connected = await connect(outsider_coordinator)
    assert connected
    help_request = await sync_to_async(post_request)(citizen, community, shopping)
    event = await own.receive_json_from(timeout=5)
    assert event["request"] == help_request.pk
    assert await other.receive_nothing(timeout=0.3)
    await own.disconnect()
    await other.disconnect()


async def test_a_superuser_follows_the_community_whose_dashboard_they_opened(
    citizen, other_citizen, community, other_community, shopping
):
    from mutualaid.aid.models import Category

    superuser = await sync_to_async(make_user)("root", None, is_superuser=True, is_staff=True)
    herent_shopping = await sync_to_async(Category.objects.create)(
        community=other_community, slug="herent-shopping", name="Shopping"
    )
    herent, connected = await connect(superuser, path="/ws/updates/?community=herent")
    assert connected
    unknown, connected = await connect(superuser, path="/ws/updates/?community=nowhere")
    assert connected

    await sync_to_async(post_request)(citizen, community, shopping)
    in_herent = await sync_to_async(post_request)(other_citizen, other_community, herent_shopping)

    assert (await herent.receive_json_from(timeout=5))["request"] == in_herent.pk
    assert await herent.receive_nothing(timeout=0.3)
    assert await unknown.receive_nothing(timeout=0.3)
    await herent.disconnect()
    await unknown.disconnect()


async def test_a_coordinator_cannot_follow_another_community_by_asking(
    coordinator, other_citizen, other_community
):
    from mutualaid.aid.models import Category

    herent_shopping = await sync_to_async(Category.objects.create)(
        community=other_community, slug="herent-shopping", name="Shopping"
    )
    socket, connected = await connect(coordinator, path="/ws/updates/?community=herent")
    assert connected

    await sync_to_async(post_request)(other_citizen, other_community, herent_shopping)

    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_events_carry_no_personal_data(citizen, community, shopping, volunteer):
    mine, _ = await connect(citizen)
    await sync_to_async(post_request)(citizen, community, shopping)
    event = await mine.receive_json_from(timeout=5)
    assert set(event) == {"type", "request", "status", "change"}
    await mine.disconnect()


def proposed_to(volunteer, citizen, community, shopping):
    help_request = post_request(citizen, community, shopping)
    with transaction.atomic():
        return services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.5)


async def test_volunteer_accepts_over_the_socket_through_the_same_service(
    volunteer, citizen, community, shopping
):
    assignment = await sync_to_async(proposed_to)(volunteer, citizen, community, shopping)
    socket, _ = await connect(volunteer)
    await socket.send_json_to({"action": "accept", "assignment": assignment.pk})
    messages = [await socket.receive_json_from(timeout=5) for _ in range(2)]
    result = next(message for message in messages if message["type"] == "action.result")
    assert result == {
        "type": "action.result",
        "ok": True,
        "message": "",
        "action": "accept",
        "assignment": assignment.pk,
    }
    await assignment.arefresh_from_db()
    assert assignment.status == "accepted"
    await socket.disconnect()


async def test_a_volunteer_cannot_act_on_someone_elses_proposal_over_the_socket(
    volunteer, second_volunteer, citizen, community, shopping
):
    assignment = await sync_to_async(proposed_to)(volunteer, citizen, community, shopping)
    socket, _ = await connect(second_volunteer)
    await socket.send_json_to({"action": "accept", "assignment": assignment.pk})
    result = await socket.receive_json_from(timeout=5)
    # In the volunteer's own language (Dutch, the default): "There is no such task in your inbox."
    assert result["ok"] is False and result["message"] == "Deze taak staat niet in uw takenlijst."
    await assignment.arefresh_from_db()
    assert assignment.status == "proposed"
    await socket.disconnect()


async def test_every_socket_message_is_authorised_again_after_deactivation(
    volunteer, citizen, community, shopping
):
    assignment = await sync_to_async(proposed_to)(volunteer, citizen, community, shopping)
    socket, _ = await connect(volunteer)
    volunteer.is_active = False
    await volunteer.asave()
    await socket.send_json_to({"action": "accept", "assignment": assignment.pk})
    result = await socket.receive_json_from(timeout=5)
    assert result["ok"] is False
    await assignment.arefresh_from_db()
    assert assignment.status == "proposed"
    await socket.disconnect()


@pytest.mark.parametrize(
    "message",
    ["not json", "[]", '{"action": "delete", "assignment": 1}', '{"action": "accept", "assignment": "1"}',
     '{"action": "accept", "assignment": true}', '{"action": "decline", "assignment": 1, "reason": 5}'],
)  # fmt: skip
async def test_bad_socket_messages_get_a_clear_error_and_keep_the_socket_open(message, volunteer):
    socket, _ = await connect(volunteer)
    await socket.send_to(text_data=message)
    result = await socket.receive_json_from(timeout=5)
    assert result["type"] == "action.result" and result["ok"] is False and result["message"]
    await socket.send_to(text_data="[]")
    assert (await socket.receive_json_from(timeout=5))["ok"] is False  # still answering
    await socket.disconnect()


async def test_socket_answers_come_in_the_language_the_person_chose(volunteer):
    volunteer.preferred_language = "nl"
    await sync_to_async(volunteer.save)(update_fields=["preferred_language"])
    socket, _ = await connect(volunteer)
    await socket.send_to(text_data="not json")
    assert (await socket.receive_json_from(timeout=5))["message"] == "Het bericht is geen geldige JSON."
    await socket.disconnect()


def test_a_matching_run_tells_each_person_and_each_dashboard_once():
    from notifications.events import _deliveries, task_change

    changes = [
        task_change(
            request_id=index,
            community_id=7,
            requester_id=100 + index,
            volunteer_ids=[200 + index],
            request_status="proposed",
            change="proposed",
        )
        for index in range(3)
    ]
    deliveries = _deliveries(changes)
    groups = [group for group, _event in deliveries]
    assert groups.count("community-7") == 1
    assert sorted(group for group in groups if group.startswith("person-")) == sorted(
        [f"person-{100 + index}" for index in range(3)] + [f"person-{200 + index}" for index in range(3)]
    )


# Who hears what for every transition, end to end: the services, the commit, the layer, the
# consumers. A bystander (another volunteer, another citizen) hears nothing of any of it.


async def heard(socket) -> list[tuple[str, str]]:
    """(type, change) of everything this socket received, once nothing more arrives."""
    messages = []
    while not await socket.receive_nothing(timeout=0.3):
        message = await socket.receive_json_from(timeout=1)
        messages.append((message["type"], message.get("change")))
    return messages


@pytest.mark.slow  # over 2 s: left out of the edit-test loop
async def test_each_transition_reaches_the_requester_the_volunteer_concerned_and_the_dashboard(
    citizen, other_citizen, volunteer, second_volunteer, coordinator, community, shopping
):
    from mutualaid.aid.models import Assignment
    from mutualaid.aid.services import expire_overdue_proposals

    names = ("citizen", "neighbour", "volunteer", "bystander", "coordinator")
    people = (citizen, other_citizen, volunteer, second_volunteer, coordinator)
    sockets = {}
    for name, person in zip(names, people, strict=True):
        sockets[name], connected = await connect(person)
        assert connected

    async def step(action, change: str, *hearers: str) -> None:
        await sync_to_async(action)()
        got = dict(zip(sockets, await asyncio.gather(*map(heard, sockets.values())), strict=True))
        assert got == {name: [("task.changed", change)] if name in hearers else [] for name in sockets}

    def atomic(function):
        def run():
            with transaction.atomic():
                function()

        return run

    help_request = await sync_to_async(post_request)(citizen, community, shopping)
    assert await heard(sockets["citizen"]) == [("task.changed", "created")]
    assert await heard(sockets["coordinator"]) == [("task.changed", "created")]
    everyone = ("citizen", "volunteer", "coordinator")

    def propose():
        services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.5)

    def overdue():
        from datetime import timedelta

        from django.utils import timezone

        Assignment.objects.filter(help_request=help_request, status="proposed").update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
        assert expire_overdue_proposals() == 1

    def live():
        return Assignment.objects.get(help_request=help_request, status__in=["proposed", "accepted"])

    await step(atomic(propose), "proposed", *everyone)
    await step(overdue, "expired", *everyone)  # the worker's tick
    await step(atomic(propose), "proposed", *everyone)
    await step(
        lambda: services.assignment_decline(assignment=live(), volunteer=volunteer), "declined", *everyone
    )
    await step(atomic(propose), "proposed", *everyone)
    await step(
        lambda: services.assignment_unassign(assignment=live(), coordinator=coordinator, reason="ill"),
        "unassigned",
        *everyone,
    )
    await step(atomic(propose), "proposed", *everyone)
    await step(
        lambda: services.assignment_accept(assignment=live(), volunteer=volunteer), "accepted", *everyone
    )
    await step(
        lambda: services.assignment_complete(assignment=live(), volunteer=volunteer), "done", *everyone
    )

    # Cancelled while proposed: the volunteer's inbox loses the task.
    second = await sync_to_async(post_request)(citizen, community, shopping)
    assert await heard(sockets["citizen"]) == [("task.changed", "created")]
    assert await heard(sockets["coordinator"]) == [("task.changed", "created")]
    await step(
        atomic(lambda: services.assignment_propose(help_request=second, volunteer=volunteer, km=0.5)),
        "proposed",
        *everyone,
    )
    await step(
        lambda: services.help_request_cancel(help_request=second, actor=citizen), "cancelled", *everyone
    )
    for socket in sockets.values():
        await socket.disconnect()


async def test_a_change_that_is_rolled_back_is_told_to_nobody(
    citizen, volunteer, coordinator, community, shopping
):
    help_request = await sync_to_async(post_request)(citizen, community, shopping)
    sockets = [(await connect(person))[0] for person in (citizen, volunteer, coordinator)]

    def propose_then_fail():
        with transaction.atomic():
            services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.5)
            raise RuntimeError("something after the proposal failed")

    with pytest.raises(RuntimeError):
        await sync_to_async(propose_then_fail)()
    for socket in sockets:
        assert await heard(socket) == []
        await socket.disconnect()


async def test_a_dashboard_change_reaches_the_communitys_coordinators_only(
    coordinator, outsider_coordinator, citizen, volunteer, community
):
    from notifications.events import publish_community_change

    own, _ = await connect(coordinator)
    others = [(await connect(person))[0] for person in (outsider_coordinator, citizen, volunteer)]

    def offer_paused():
        with transaction.atomic():
            publish_community_change(community_id=community.pk, change="volunteers")

    await sync_to_async(offer_paused)()
    assert await own.receive_json_from(timeout=5) == {"type": "community.changed", "change": "volunteers"}
    for socket in [own, *others]:
        assert await heard(socket) == []
        await socket.disconnect()


# Socket actions are authorised per message: the session must still sign the person in.


async def signed_in_socket(person) -> tuple[Client, WebsocketCommunicator]:
    """A browser's session (the client) and the socket its page opened with it."""
    client = Client()
    await sync_to_async(sign_in)(client, person)
    socket, connected = await connect(cookie=cookie_of(client))
    assert connected
    return client, socket


async def assert_refused_and_closed(socket, assignment, code: int) -> None:
    await socket.send_json_to({"action": "accept", "assignment": assignment.pk})
    result = await socket.receive_json_from(timeout=5)
    assert result["type"] == "action.result" and result["ok"] is False
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": code}
    await assignment.arefresh_from_db()
    assert assignment.status == "proposed"


async def test_logging_out_closes_the_persons_open_sockets_at_once(volunteer, citizen, community, shopping):
    assignment = await sync_to_async(proposed_to)(volunteer, citizen, community, shopping)
    client, socket = await signed_in_socket(volunteer)
    cookie = cookie_of(client)
    await sync_to_async(client.logout)()  # say, on the shared computer, in another tab
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}
    # The page's reconnect is refused: the session is gone.
    _again, connected = await connect(cookie=cookie)
    assert not connected
    await assignment.arefresh_from_db()
    assert assignment.status == "proposed"


async def test_a_socket_that_missed_the_logout_signal_still_cannot_act(
    volunteer, citizen, community, shopping
):
    # The session ended without telling the sockets (a session store cleared by hand, an
    # expired session): every message is checked against the session store anyway.
    assignment = await sync_to_async(proposed_to)(volunteer, citizen, community, shopping)
    client, socket = await signed_in_socket(volunteer)
    await sync_to_async(client.session.delete)()
    await assert_refused_and_closed(socket, assignment, 4401)


async def test_deleting_the_account_closes_its_open_sockets(volunteer):
    from mutualaid.aid.personal_data import account_delete

    socket, connected = await connect(volunteer)
    assert connected
    await sync_to_async(account_delete)(person=volunteer)
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}


async def test_a_coordinator_whose_role_is_taken_away_stops_hearing_the_community(
    coordinator, community, citizen, shopping
):
    dashboard, connected = await connect(coordinator)
    assert connected
    superuser = await sync_to_async(make_user)("root", community, is_superuser=True, is_staff=True)
    admin = Client()
    await sync_to_async(sign_in)(admin, superuser)
    url = reverse("admin:accounts_user_change", args=[coordinator.pk])
    data = admin_form_data(await sync_to_async(admin.get)(url))
    data.pop("is_coordinator")
    response = await sync_to_async(admin.post)(url, data)
    assert response.status_code == 302
    assert await dashboard.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}
    # The page reconnects with the rights the person has now: their own tasks only.
    page, connected = await connect(coordinator)
    assert connected
    await sync_to_async(post_request)(citizen, community, shopping)
    assert await page.receive_nothing(timeout=0.3)
    await page.disconnect()


async def test_a_password_changed_elsewhere_ends_the_sockets_right_to_act(
    volunteer, citizen, community, shopping
):
    assignment = await sync_to_async(proposed_to)(volunteer, citizen, community, shopping)
    _client, socket = await signed_in_socket(volunteer)
    volunteer.set_password("a-new-password-after-a-stolen-phone")
    await volunteer.asave()  # Django logs every other session out; the socket's too
    await assert_refused_and_closed(socket, assignment, 4401)


async def test_a_volunteer_declines_over_the_socket_and_the_requester_hears_it(
    volunteer, citizen, community, shopping
):
    assignment = await sync_to_async(proposed_to)(volunteer, citizen, community, shopping)
    requester, _ = await connect(citizen)
    socket, _ = await connect(volunteer)
    await socket.send_json_to({"action": "decline", "assignment": assignment.pk, "reason": "away"})
    messages = [await socket.receive_json_from(timeout=5) for _ in range(2)]
    assert {
        "type": "action.result",
        "ok": True,
        "message": "",
        "action": "decline",
        "assignment": assignment.pk,
    } in (messages)
    assert (await requester.receive_json_from(timeout=5))["change"] == "declined"
    await assignment.arefresh_from_db()
    assert assignment.status == "declined"
    await socket.disconnect()
    await requester.disconnect()
