"""What the partner tests share: an organisation with a referrer, and filing for a neighbour."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from mutualaid.accounts.models import User
from mutualaid.aid.models import HelpRequest
from mutualaid.partners import referrals
from notifications.models import OutgoingMessage
from tests.conftest import NAAMSESTRAAT, PASSWORD, sign_in


def invite(organisation, coordinator, email="dr.janssens@example.org") -> str:
    """Invite by e-mail; the token as the mail's link carries it."""
    referrals.referrer_invite(organisation=organisation, email=email, invited_by=coordinator, language="en")
    mail = OutgoingMessage.objects.filter(to_address=email).latest("pk")
    return re.search(r"/referrals/join/([^/]+)/", mail.body).group(1)


def join(organisation, coordinator, email="dr.janssens@example.org", first_name="Ann") -> User:
    token = invite(organisation, coordinator, email)
    return referrals.invitation_accept(
        invitation=referrals.invitation_find(token),
        first_name=first_name,
        last_name="Janssens",
        password=PASSWORD,
        language="nl",
    )


@pytest.fixture
def practice(community, coordinator):
    return referrals.organisation_register(
        community=community, name="Huisartsen Centrum", coordinator=coordinator
    )


@pytest.fixture
def other_practice(community, coordinator):
    return referrals.organisation_register(community=community, name="OCMW Leuven", coordinator=coordinator)


@pytest.fixture
def referrer_user(practice, coordinator) -> User:
    return join(practice, coordinator)


def refer(user: User, shopping, *, name="Mrs Refsen", consent=True) -> HelpRequest:
    return referrals.referral_create(
        referrer=user.referrer,
        consent=consent,
        contact_name=name,
        contact_phone="0470 55 66 77",
        category=shopping,
        description="Groceries, she cannot walk far.",
        urgency=2,
        location=NAAMSESTRAAT,
        time_windows=[(timezone.localdate() + dt.timedelta(days=1), 0)],
    )


def signed_in(user: User) -> Client:
    client = Client()
    sign_in(client, user)
    return client
