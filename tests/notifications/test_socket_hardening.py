"""The live-update socket against abuse and leaks: oversized and deeply nested messages, too
many sockets of one person, group memberships that a dead socket would leave behind."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.utils import translation
from django.utils.translation import gettext

from notifications.consumers import open_sockets_by_person
from notifications.events import person_group
from tests.notifications.test_consumers import connect

pytestmark = pytest.mark.django_db(transaction=True)


def in_their_language(person, text: str) -> str:
    with translation.override(person.preferred_language):
        return gettext(text)


async def answer_to(communicator, text: str) -> dict:
    await communicator.send_to(text_data=text)
    return await communicator.receive_json_from(timeout=5)


async def test_a_message_nested_100000_deep_gets_a_json_error_and_the_socket_stays_open(volunteer):
    communicator, connected = await connect(volunteer)
    assert connected
    too_long = await answer_to(communicator, "[" * 100_000 + "]" * 100_000)
    assert (too_long["ok"], too_long["message"]) == (
        False,
        in_their_language(volunteer, "The message is too long."),
    )
    # Under the length cap, still nested past Python's recursion limit: not a crash (1011).
    nested = await answer_to(communicator, "[" * 2_000 + "]" * 2_000)
    assert (nested["ok"], nested["message"]) == (
        False,
        in_their_language(volunteer, "The message is not valid JSON."),
    )
    still_open = await answer_to(communicator, json.dumps({"action": "fly"}))
    assert still_open["message"] == in_their_language(volunteer, "Unknown action: send accept or decline.")
    await communicator.disconnect()


async def test_sockets_beyond_a_persons_cap_are_closed_with_4429_and_a_closed_one_frees_a_place(
    volunteer, citizen, settings
):
    settings.LIVE_SOCKETS_PER_PERSON = 3
    sockets = []
    for _ in range(3):
        communicator, connected = await connect(volunteer)
        assert connected
        sockets.append(communicator)
    one_too_many, accepted = await connect(volunteer)
    assert accepted  # accepted to carry the code: a refused handshake reaches the page as 1006
    assert await one_too_many.receive_output(timeout=5) == {"type": "websocket.close", "code": 4429}
    others, connected = await connect(citizen)  # the cap is per person
    assert connected
    assert open_sockets_by_person[volunteer.pk] == 3
    await sockets.pop().disconnect()
    assert open_sockets_by_person[volunteer.pk] == 2
    again, connected = await connect(volunteer)
    assert connected
    await again.receive_nothing(timeout=0.2)  # not closed
    for communicator in [*sockets, again, others]:
        await communicator.disconnect()
    assert volunteer.pk not in open_sockets_by_person


@pytest.mark.slow  # over 2 s: left out of the edit-test loop
async def test_an_open_socket_renews_its_memberships_and_keeps_hearing_past_the_group_expiry(volunteer):
    layer = get_channel_layer()
    if not isinstance(layer, InMemoryChannelLayer):
        pytest.skip("reads the in-memory layer's groups (Redis: test_socket_faults.py)")
    group_expiry, layer.group_expiry = layer.group_expiry, 3  # renewed every second
    try:
        communicator, connected = await connect(volunteer)
        assert connected
        group = person_group(volunteer.pk)
        ((channel, joined),) = layer.groups[group].items()
        await asyncio.sleep(1.5)
        assert layer.groups[group][channel] > joined  # renewed
        await asyncio.sleep(3)  # past the expiry of the first membership
        await layer.group_send(group, {"type": "sockets.close"})
        assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}
        await communicator.disconnect()
    finally:
        layer.group_expiry = group_expiry


async def test_a_socket_killed_before_it_could_disconnect_no_longer_counts_against_its_person(volunteer):
    communicator, connected = await connect(volunteer)
    assert connected
    assert open_sockets_by_person[volunteer.pk] == 1

    # What daphne does to a consumer that does not close in time: cancel it, no disconnect.
    communicator.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await communicator.future

    assert volunteer.pk not in open_sockets_by_person
