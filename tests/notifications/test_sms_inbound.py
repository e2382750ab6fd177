"""Texts in: Twilio's webhook (signature checked, 403 and nothing changes otherwise), the
words volunteers answer with, and one whole exchange through the worker's outbox and a
local stand-in of Twilio's API: a proposal by text, accepted by replying YES."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from matching.services import run_due_matching
from mutualaid.aid import services
from mutualaid.aid.models import Assignment, HelpRequest, StatusChange
from mutualaid.aid.states import AssignmentStatus, RequestStatus
from notifications.models import OutgoingMessage
from notifications.sms_commands import Command, ParsedText, parse
from notifications.twilio_signature import signature
from tests.conftest import post_request
from tests.notifications.twilio_stand_in import TwilioStandIn
from worker.jobs import make_jobs

VOLUNTEER_NUMBER = "+32470000001"
AUTH_TOKEN = "secret-token"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("YES", ParsedText(Command.ACCEPT)),
        ("  oui 1234 ", ParsedText(Command.ACCEPT, "1234")),
        ("Ja!", ParsedText(Command.ACCEPT)),
        ("1234 yes", ParsedText(Command.ACCEPT, "1234")),
        ("nee 12", ParsedText(Command.DECLINE, "12")),
        ("Non", ParsedText(Command.DECLINE)),
        ("klaar 999", ParsedText(Command.DONE, "999")),
        ("Fini", ParsedText(Command.DONE)),
        ("can't 1234", ParsedText(Command.GIVE_BACK, "1234")),
        ("kan niet", ParsedText(Command.GIVE_BACK)),
        ("Pas possible 4321", ParsedText(Command.GIVE_BACK, "4321")),
        ("PAS  POSSÍBLE", ParsedText(Command.GIVE_BACK)),
        ("stop", ParsedText(Command.STOP)),
        ("Start", ParsedText(Command.START)),
        ("yes please", ParsedText(None)),
        ("yes 12345", ParsedText(None)),
        ("yes 12 34", ParsedText(None)),
        ("", ParsedText(None)),
        ("what is this?", ParsedText(None)),
    ],
)
def test_a_reply_is_read_whatever_its_case_accents_and_spacing(body, expected):
    assert parse(body) == expected


def test_the_signature_is_twilios_documented_example():
    params = {
        "CallSid": ["CA1234567890ABCDE"],
        "Caller": ["+14158675310"],
        "Digits": ["1234"],
        "From": ["+14158675310"],
        "To": ["+18005551212"],
    }
    assert (
        signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params)
        == "GvWf1cFY/Q7PnoempGyD5oXAezc="
    )


@pytest.fixture
def texting_volunteer(volunteer, settings):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.SITE_URL = "https://help.example.org"
    volunteer.phone = VOLUNTEER_NUMBER
    volunteer.sms_notifications = True
    volunteer.preferred_language = "en"
    volunteer.save()
    return volunteer


def text_in(client, body: str, *, sender: str = VOLUNTEER_NUMBER, forge: bool = False):
    form = {"From": sender, "To": "+3225550100", "Body": body, "MessageSid": "SM1"}
    url = "https://help.example.org" + reverse("sms-inbound")
    signed = signature(AUTH_TOKEN, url, {name: [value] for name, value in form.items()})
    if forge:
        signed = signature("another-token", url, {name: [value] for name, value in form.items()})
    return client.post(reverse("sms-inbound"), form, HTTP_X_TWILIO_SIGNATURE=signed)


def replies() -> list[str]:
    return list(
        OutgoingMessage.objects.filter(channel=OutgoingMessage.Channel.SMS, subject="reply")
        .order_by("pk")
        .values_list("body", flat=True)
    )


def test_a_badly_signed_text_is_refused_and_changes_nothing(client, proposal, texting_volunteer):
    before = OutgoingMessage.objects.count(), StatusChange.objects.count()
    response = text_in(client, f"YES {proposal.short_code}", forge=True)
    assert response.status_code == 403
    unsigned = client.post(reverse("sms-inbound"), {"From": VOLUNTEER_NUMBER, "Body": "YES"})
    assert unsigned.status_code == 403
    proposal.refresh_from_db()
    assert proposal.status == AssignmentStatus.PROPOSED
    assert (OutgoingMessage.objects.count(), StatusChange.objects.count()) == before


def test_a_signed_yes_accepts_with_the_same_history_as_the_page_and_an_answer_by_text(
    client, proposal, texting_volunteer
):
    response = text_in(client, f"yes {proposal.short_code}")
    assert response.status_code == 200 and response["Content-Type"] == "text/xml"
    assert b"<Response/>" in response.content
    proposal.refresh_from_db()
    assert proposal.status == AssignmentStatus.ACCEPTED
    assert proposal.help_request.status == RequestStatus.ACCEPTED
    history = StatusChange.objects.filter(assignment=proposal).order_by("pk")
    assert [(change.subject, change.to_status, change.actor_id) for change in history][-2:] == [
        ("assignment", AssignmentStatus.ACCEPTED, texting_volunteer.pk),
        ("request", RequestStatus.ACCEPTED, texting_volunteer.pk),
    ]
    (answer,) = replies()
    # Once accepted, the volunteer learns where.
    assert "Naamsestraat" in answer and proposal.short_code in answer


def test_a_bare_word_with_one_open_task_answers_it_and_with_two_gets_help(
    client, citizen, community, shopping, texting_volunteer
):
    texting_volunteer.volunteer_offer.capacity = 2
    texting_volunteer.volunteer_offer.save()
    first = services.assignment_propose(
        help_request=post_request(citizen, community, shopping), volunteer=texting_volunteer, km=1
    )
    second = services.assignment_propose(
        help_request=post_request(citizen, community, shopping), volunteer=texting_volunteer, km=1
    )
    text_in(client, "JA")
    assert {first.status, second.status} == {AssignmentStatus.PROPOSED}
    assert replies()[-1].startswith("Reply YES, NO, DONE or CANT")
    text_in(client, f"nee {second.short_code}")
    second.refresh_from_db()
    assert second.status == AssignmentStatus.DECLINED
    text_in(client, "Oui")
    first.refresh_from_db()
    assert first.status == AssignmentStatus.ACCEPTED


def test_cant_after_accepting_gives_the_task_back_to_matching_and_done_completes(
    client, citizen, community, shopping, texting_volunteer
):
    task = services.assignment_propose(
        help_request=post_request(citizen, community, shopping), volunteer=texting_volunteer, km=1
    )
    services.assignment_accept(assignment=task, volunteer=texting_volunteer)
    text_in(client, f"Pas possible {task.short_code}")
    task.refresh_from_db()
    assert task.status == AssignmentStatus.CANCELLED
    assert task.help_request.status == RequestStatus.OPEN

    other = services.assignment_propose(
        help_request=post_request(citizen, community, shopping), volunteer=texting_volunteer, km=1
    )
    services.assignment_accept(assignment=other, volunteer=texting_volunteer)
    text_in(client, f"KLAAR {other.short_code}")
    other.refresh_from_db()
    assert other.status == AssignmentStatus.DONE


def test_an_expired_proposal_cannot_be_accepted_by_text_and_the_answer_says_why(
    client, proposal, texting_volunteer
):
    Assignment.objects.filter(pk=proposal.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    text_in(client, f"YES {proposal.short_code}")
    proposal.refresh_from_db()
    assert proposal.status == AssignmentStatus.EXPIRED
    assert replies()[-1] == "This proposal expired; we offered the task to someone else."


def test_stop_switches_texts_off_and_start_on_again(client, help_request, texting_volunteer):
    text_in(client, "STOP")
    texting_volunteer.refresh_from_db()
    assert texting_volunteer.sms_notifications is False
    assert "no more texts" in replies()[-1]
    services.assignment_propose(help_request=help_request, volunteer=texting_volunteer, km=1)
    assert not OutgoingMessage.objects.filter(channel="sms", subject="proposed").exists()
    text_in(client, "start")
    texting_volunteer.refresh_from_db()
    assert texting_volunteer.sms_notifications is True


def test_a_text_from_an_unknown_number_gets_no_answer(client, proposal, texting_volunteer):
    assert text_in(client, "YES", sender="+32470999999").status_code == 200
    assert text_in(client, "YES", sender="not a number").status_code == 200
    assert replies() == []
    proposal.refresh_from_db()
    assert proposal.status == AssignmentStatus.PROPOSED


def test_a_volunteer_gets_a_proposal_by_text_and_accepts_it_by_replying_yes(
    client, settings, citizen, community, shopping, texting_volunteer
):
    """The whole exchange: the proposal leaves through the worker's outbox to the local
    stand-in of Twilio's API, the volunteer answers YES to the webhook, the task is theirs,
    and the answer with the address leaves the same way."""
    texting_volunteer.email_notifications = False
    texting_volunteer.save()
    outbox = make_jobs()["outbox"]
    with TwilioStandIn(account_sid="AC0123456789", auth_token=AUTH_TOKEN) as twilio:
        settings.SMS_BACKEND = "twilio"
        settings.TWILIO_ACCOUNT_SID = twilio.account_sid
        settings.TWILIO_FROM_NUMBER = "+3225550100"
        settings.SMS_API_BASE_URL = twilio.base_url
        # Urgent, so the test does not depend on the hour it runs at (quiet hours).
        help_request = post_request(citizen, community, shopping, urgency=3)
        run_due_matching()
        outbox()
        (proposal_text,) = twilio.received
        assert proposal_text["To"] == VOLUNTEER_NUMBER
        code = re.search(r"YES (\d{4})", proposal_text["Body"]).group(1)

        assert text_in(client, f"Yes {code}").status_code == 200
        help_request = HelpRequest.objects.get(pk=help_request.pk)
        assert help_request.status == RequestStatus.ACCEPTED
        assert help_request.assignments.get().volunteer == texting_volunteer
        outbox()
        answer = twilio.received[-1]
        assert answer["To"] == VOLUNTEER_NUMBER and "Naamsestraat" in answer["Body"]
