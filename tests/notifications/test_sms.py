"""Text messages out: what a text says and to whom (the dispatcher and the channel), quiet
hours and the daily cap, and the Twilio adapter against a local stand-in of its API."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from mutualaid.aid import services
from mutualaid.aid.models import Urgency
from notifications.channels.sms import CAP_REASON, QUIET_REASON, quiet_hours_end
from notifications.models import OutgoingMessage
from notifications.outbox import send_pending_messages, waiting_for_daily_cap
from tests.conftest import LADEUZEPLEIN, make_volunteer, post_request, sign_in
from tests.notifications.twilio_stand_in import TwilioStandIn

BRUSSELS = ZoneInfo("Europe/Brussels")
# Days after today: messages are due from the moment they are written.
DAY = dt.datetime.now(BRUSSELS).date() + dt.timedelta(days=2)
NEXT_DAY = DAY + dt.timedelta(days=1)
NOON = dt.datetime.combine(DAY, dt.time(12), tzinfo=BRUSSELS)
LATE_EVENING = dt.datetime.combine(DAY, dt.time(23), tzinfo=BRUSSELS)
NEXT_MORNING = dt.datetime.combine(NEXT_DAY, dt.time(8), tzinfo=BRUSSELS)


def texts() -> list[OutgoingMessage]:
    return list(OutgoingMessage.objects.filter(channel=OutgoingMessage.Channel.SMS).order_by("pk"))


@pytest.fixture
def texting_volunteer(volunteer):
    volunteer.phone = "+32 470 00 00 01"
    volunteer.sms_notifications = True
    volunteer.email_notifications = False
    volunteer.save()
    return volunteer


@pytest.fixture
def twilio(settings):
    with TwilioStandIn(account_sid="AC0123456789", auth_token="secret-token") as stand_in:
        settings.SMS_BACKEND = "twilio"
        settings.TWILIO_ACCOUNT_SID = stand_in.account_sid
        settings.TWILIO_AUTH_TOKEN = stand_in.auth_token
        settings.TWILIO_FROM_NUMBER = "+3225550100"
        settings.SMS_API_BASE_URL = stand_in.base_url
        yield stand_in


def test_a_proposal_by_text_is_short_gives_area_and_code_and_never_the_address(
    help_request, texting_volunteer
):
    proposal = services.assignment_propose(help_request=help_request, volunteer=texting_volunteer, km=0.7)
    (text,) = texts()
    assert text.to_address == "+32470000001" and text.recipient == texting_volunteer
    assert text.help_request == help_request and text.proposal == proposal
    assert proposal.short_code in text.body and len(proposal.short_code) == 4
    assert "Naamsestraat" not in text.body and "Peeters" not in text.body
    assert len(text.body) <= 160
    # No e-mail: this volunteer chose texts only.
    assert not OutgoingMessage.objects.filter(channel=OutgoingMessage.Channel.EMAIL).exists()


def test_a_text_is_in_the_persons_language(help_request, texting_volunteer):
    texting_volunteer.preferred_language = "nl"
    texting_volunteer.save()
    proposal = services.assignment_propose(help_request=help_request, volunteer=texting_volunteer, km=0.7)
    (text,) = texts()
    assert f"JA {proposal.short_code}" in text.body and "YES" not in text.body


def test_nobody_gets_texts_who_did_not_choose_them(help_request, volunteer):
    assert volunteer.sms_notifications is False
    services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    assert texts() == []


def test_a_landline_gets_no_texts_even_when_chosen(help_request, volunteer):
    volunteer.phone = "016 23 45 67"
    volunteer.sms_notifications = True
    volunteer.save()
    services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    assert texts() == []


@pytest.mark.parametrize(
    ("hour", "expected"),
    [(23, (11, 8)), (3, (10, 8)), (7, (10, 8)), (8, None), (12, None), (21, None), (22, (11, 8))],
)
def test_quiet_hours_run_from_22_to_8_in_the_communitys_time_zone(hour, expected):
    now = dt.datetime(2026, 6, 10, hour, 30, tzinfo=BRUSSELS).astimezone(dt.UTC)
    end = quiet_hours_end(now, "Europe/Brussels")
    assert (None if end is None else (end.day, end.hour)) == expected


def test_a_text_at_night_waits_for_the_morning_and_then_goes(help_request, texting_volunteer, settings):
    services.assignment_propose(help_request=help_request, volunteer=texting_volunteer, km=0.7)
    assert send_pending_messages(now=LATE_EVENING) == 0
    (text,) = texts()
    assert text.status == OutgoingMessage.Status.PENDING and text.attempts == 0
    assert text.last_error.startswith(QUIET_REASON)
    assert text.next_attempt_at == NEXT_MORNING
    assert send_pending_messages(now=NEXT_MORNING + dt.timedelta(minutes=1)) == 1
    text.refresh_from_db()
    assert text.status == OutgoingMessage.Status.SENT


def test_an_urgent_request_is_texted_at_night(citizen, community, shopping, texting_volunteer):
    urgent = post_request(citizen, community, shopping, urgency=Urgency.TODAY)
    services.assignment_propose(help_request=urgent, volunteer=texting_volunteer, km=0.7)
    assert send_pending_messages(now=LATE_EVENING) == 1


def test_past_the_daily_cap_texts_wait_for_tomorrow_and_coordinators_see_it(
    client, citizen, coordinator, community, shopping, texting_volunteer, settings
):
    settings.SMS_DAILY_CAP = 1
    second = make_volunteer("second", community, [shopping], LADEUZEPLEIN)
    second.phone, second.sms_notifications = "+32 470 00 00 02", True
    second.save()
    for person in (texting_volunteer, second):
        services.assignment_propose(
            help_request=post_request(citizen, community, shopping), volunteer=person, km=1
        )
    assert send_pending_messages(now=NOON) == 1
    waiting = [text for text in texts() if text.status == OutgoingMessage.Status.PENDING]
    assert len(waiting) == 1 and waiting[0].last_error.startswith(CAP_REASON)
    assert waiting[0].next_attempt_at == NEXT_MORNING
    assert waiting_for_daily_cap(community_id=community.pk) == 1
    sign_in(client, coordinator)
    page = client.get(reverse("dashboard")).text
    assert "1 text message waits for tomorrow" in page


def test_the_twilio_adapter_posts_to_the_messages_api_and_records_the_sid(
    help_request, texting_volunteer, twilio
):
    services.assignment_propose(help_request=help_request, volunteer=texting_volunteer, km=0.7)
    assert send_pending_messages(now=NOON) == 1
    (received,) = twilio.received
    (text,) = texts()
    assert received == {
        "To": "+32470000001",
        "From": "+3225550100",
        "Body": text.body,
        "StatusCallback": received["StatusCallback"],
    }
    assert received["StatusCallback"].endswith("/sms/status/")
    assert text.status == OutgoingMessage.Status.SENT
    assert (text.provider_id, text.delivery_status) == ("SM" + "1".zfill(32), "queued")


def test_a_throttled_text_is_retried_and_a_refused_one_fails_at_once(
    citizen, community, shopping, help_request, texting_volunteer, twilio
):
    twilio.failures.append((429, 20429, "Too Many Requests"))
    services.assignment_propose(help_request=help_request, volunteer=texting_volunteer, km=0.7)
    assert send_pending_messages(now=NOON) == 0
    (text,) = texts()
    assert text.status == OutgoingMessage.Status.PENDING and text.attempts == 1
    assert "20429" in text.last_error
    assert send_pending_messages(now=NOON + dt.timedelta(hours=1)) == 1

    twilio.failures.append((400, 21211, "The 'To' number is not a valid phone number."))
    services.assignment_withdraw(assignment=text.proposal, volunteer=texting_volunteer)
    other = post_request(citizen, community, shopping)
    services.assignment_propose(help_request=other, volunteer=texting_volunteer, km=0.7)
    assert send_pending_messages(now=NOON + dt.timedelta(hours=2)) == 0
    refused = texts()[-1]
    assert refused.status == OutgoingMessage.Status.FAILED and refused.attempts == 1
    assert "21211" in refused.last_error


def test_the_delivery_status_webhook_records_delivery(
    client, help_request, texting_volunteer, twilio, settings
):
    from notifications.twilio_signature import signature

    services.assignment_propose(help_request=help_request, volunteer=texting_volunteer, km=0.7)
    send_pending_messages(now=NOON)
    (text,) = texts()
    form = {"MessageSid": text.provider_id, "MessageStatus": "delivered"}
    url = settings.SITE_URL + reverse("sms-status")
    forged = client.post(reverse("sms-status"), form, HTTP_X_TWILIO_SIGNATURE="forged")
    assert forged.status_code == 403
    signed = signature(settings.TWILIO_AUTH_TOKEN, url, {key: [value] for key, value in form.items()})
    assert client.post(reverse("sms-status"), form, HTTP_X_TWILIO_SIGNATURE=signed).status_code == 204
    text.refresh_from_db()
    assert text.delivery_status == "delivered"


def test_a_caller_the_coordinator_said_to_text_hears_who_is_coming(
    coordinator, community, shopping, volunteer
):
    caller_request = services.help_request_create(
        community=community,
        requester=None,
        created_by=coordinator,
        category=shopping,
        description="Bread",
        urgency=Urgency.THIS_WEEK,
        location=LADEUZEPLEIN,
        any_time=True,
        contact_name="Mrs Maes",
        contact_phone="0470 12 34 56",
        text_caller=True,
    )
    proposal = services.assignment_propose(help_request=caller_request, volunteer=volunteer, km=0.5)
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    (text,) = texts()
    assert text.recipient is None and text.to_address == "+32470123456"
    # In the language of the coordinator who took the call (Dutch here).
    assert coordinator.preferred_language == "nl"
    assert text.body == f"{volunteer.first_name} komt binnenkort helpen met Shopping."


def test_a_communitys_time_zone_must_be_a_real_one(community):
    from django.core.exceptions import ValidationError

    community.time_zone = "Europe/Atlantis"
    with pytest.raises(ValidationError) as error:
        community.full_clean()
    assert "time_zone" in error.value.message_dict
