"""Who hears what on the live-update socket, through the real ASGI stack."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client

from mutualaid.aid import services
from mutualaid.asgi import application
from tests.conftest import post_request

# Transactional: the services' events leave on a real commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(user=None, origin=ORIGIN) -> tuple[WebsocketCommunicator, bool]:
    headers = [origin, (b"host", b"localhost")]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    communicator = WebsocketCommunicator(application, "/ws/updates/", headers=headers)
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


async def test_events_carry_no_personal_data(citizen, community, shopping, volunteer):
    mine, _ = await connect(citizen)
    await sync_to_async(post_request)(citizen, community, shopping)
    event = await mine.receive_json_from(timeout=5)
    assert set(event) == {"type", "request", "status", "change"}
    await mine.disconnect()
