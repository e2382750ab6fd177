"""Coordinators' and staff's sessions end when idle and after an absolute lifetime (ASVS
3.3); an open live-update socket counts as activity; citizens and volunteers are untouched."""

from __future__ import annotations

import asyncio
import time
from importlib import import_module

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from mutualaid.accounts.sessions import ACTIVE_AT, SIGNED_IN_AT
from notifications.consumers import TaskUpdatesConsumer
from tests.conftest import sign_in_with_password
from tests.notifications.test_consumers import connect

MINUTE, HOUR = 60, 3600


def signed_in(user) -> Client:
    client = Client()
    sign_in_with_password(client, user)
    return client


def session_of(client: Client):
    return client.session  # a fresh SessionStore on the client's cookie


def age_session(client: Client, *, idle: float = 0, since_sign_in: float = 0) -> None:
    session = session_of(client)
    now = time.time()
    session[ACTIVE_AT] = now - idle
    session[SIGNED_IN_AT] = now - since_sign_in
    session.save()


@pytest.mark.django_db
def test_signing_in_starts_a_coordinators_session_clock(coordinator):
    client = signed_in(coordinator)
    session = session_of(client)
    assert time.time() - session[SIGNED_IN_AT] < 5
    assert session.get_expiry_age() == (30 + 1) * MINUTE  # the store forgets it too when idle


@pytest.mark.django_db
def test_a_coordinator_idle_past_the_limit_is_signed_out_and_told(coordinator):
    client = signed_in(coordinator)
    age_session(client, idle=31 * MINUTE + 61, since_sign_in=HOUR)
    response = client.get(reverse("dashboard"), follow=True)
    assert response.redirect_chain[0][0].startswith(reverse("login"))
    assert "Your session has ended: please log in again." in response.content.decode()
    assert SESSION_KEY not in session_of(client)


@pytest.mark.django_db
def test_an_active_coordinator_is_signed_out_after_the_absolute_lifetime(coordinator):
    client = signed_in(coordinator)
    age_session(client, idle=MINUTE, since_sign_in=12 * HOUR + 1)
    assert client.get(reverse("dashboard")).status_code == 302
    assert SESSION_KEY not in session_of(client)


@pytest.mark.django_db
def test_a_coordinator_within_the_limits_stays_and_the_request_counts_as_activity(coordinator):
    client = signed_in(coordinator)
    age_session(client, idle=29 * MINUTE, since_sign_in=11 * HOUR)
    assert client.get(reverse("dashboard")).status_code == 200
    assert time.time() - session_of(client)[ACTIVE_AT] < 5


@pytest.mark.django_db
def test_staff_without_a_coordinator_role_have_short_sessions_too(community):
    from tests.conftest import make_user

    staff = make_user("staff-only", community, is_staff=True)
    client = signed_in(staff)
    age_session(client, idle=HOUR, since_sign_in=HOUR)
    client.get(reverse("home"))
    assert SESSION_KEY not in session_of(client)


@pytest.mark.django_db
def test_citizens_and_volunteers_keep_the_normal_lifetime(citizen, volunteer, settings):
    for person in (citizen, volunteer):
        client = signed_in(person)
        age_session(client, idle=3 * HOUR, since_sign_in=13 * HOUR)
        assert client.get(reverse("home")).status_code == 200
        assert SESSION_KEY in session_of(client)
        assert session_of(client).get_expiry_age() == settings.SESSION_COOKIE_AGE


def load_session(key: str):
    return import_module(settings.SESSION_ENGINE).SessionStore(key)


@pytest.mark.django_db(transaction=True)
async def test_an_open_dashboard_socket_keeps_a_coordinators_session_alive_until_the_absolute_limit(
    coordinator, monkeypatch
):
    monkeypatch.setattr(TaskUpdatesConsumer, "session_check_seconds", 0)  # not once a minute
    client = await sync_to_async(signed_in)(coordinator)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    await sync_to_async(age_session)(client, idle=20 * MINUTE, since_sign_in=HOUR)
    layer = get_channel_layer()
    group_expiry, layer.group_expiry = layer.group_expiry, 3  # the socket renews every second
    try:
        communicator, connected = await connect(cookie=f"sessionid={key}".encode())
        assert connected
        await asyncio.sleep(1.5)
        session = await sync_to_async(load_session)(key)
        assert time.time() - await sync_to_async(session.get)(ACTIVE_AT) < 5  # the socket was activity
        # Past the absolute lifetime the socket is closed and the session ends everywhere.
        await sync_to_async(age_session)(client, idle=0, since_sign_in=12 * HOUR + 1)
        assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}
        await communicator.disconnect()
        session = await sync_to_async(load_session)(key)
        assert SESSION_KEY not in await sync_to_async(session.load)()
        again, connected = await connect(cookie=f"sessionid={key}".encode())
        assert not connected
        await again.disconnect()
    finally:
        layer.group_expiry = group_expiry
