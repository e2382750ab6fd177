"""Each person's channels (My account; the phone intake for a caller), phone numbers in
E.164 with old ones converted or flagged, what coordinators see was sent, and personal
data: the new records in the export, deletion and purge."""

from __future__ import annotations

import importlib
import json
from types import SimpleNamespace

from django.apps import apps
from django.db import connection
from django.urls import reverse

from mutualaid.accounts.models import User
from mutualaid.aid import services
from mutualaid.aid.personal_data import account_delete, personal_data_purge
from mutualaid.aid.states import RequestStatus
from notifications.models import OutgoingMessage
from notifications.outbox import send_pending_messages
from tests.conftest import make_user, post_request, sign_in
from tests.web.test_coordination import intake_data

convert_phones = importlib.import_module("mutualaid.accounts.migrations.0004_convert_phone_numbers_to_e164")


def details(user: User, **changes) -> dict:
    data = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": "me@example.org",
        "phone": str(user.phone),
        "preferred_language": "en",
        "email_notifications": "on",
    }
    return data | changes


def test_a_person_chooses_texts_on_my_account_with_a_mobile_number(client, citizen):
    sign_in(client, citizen)
    page = client.get(reverse("account")).text
    assert 'name="sms_notifications"' in page
    response = client.post(
        reverse("account"), details(citizen, phone="0470 55 66 77", sms_notifications="on")
    )
    assert response.status_code == 302
    citizen.refresh_from_db()
    assert citizen.sms_notifications is True and citizen.phone.as_e164 == "+32470556677"


def test_texts_need_a_mobile_number_and_a_bad_number_is_refused_next_to_its_field(client, citizen):
    sign_in(client, citizen)
    landline = client.post(reverse("account"), details(citizen, phone="016 23 45 67", sms_notifications="on"))
    assert landline.status_code == 200 and "Give a mobile number first" in landline.text
    garbage = client.post(reverse("account"), details(citizen, phone="call me maybe"))
    assert garbage.status_code == 200 and "phone number" in garbage.text.lower()
    citizen.refresh_from_db()
    assert citizen.sms_notifications is False and citizen.phone.as_e164 == "+32470112233"


def test_the_phone_intake_sets_texts_for_a_caller_with_a_mobile_only(client, coordinator, shopping):
    sign_in(client, coordinator)
    refused = client.post(
        reverse("coordinator-intake"),
        intake_data(shopping) | {"contact_phone": "016 23 45 67", "text_caller": "on"},
    )
    assert refused.status_code == 200 and "Texts go only to a mobile number" in refused.text
    filed = client.post(
        reverse("coordinator-intake"),
        intake_data(shopping) | {"contact_phone": "0470 12 34 56", "text_caller": "on"},
    )
    assert filed.status_code == 302
    from mutualaid.aid.models import HelpRequest

    caller_request = HelpRequest.objects.get()
    assert caller_request.text_caller is True and caller_request.contact_phone == "+32470123456"


def test_old_phone_numbers_are_converted_and_unreadable_ones_kept_for_a_coordinator(
    client, community, coordinator
):
    readable = make_user("readable", community)
    unreadable = make_user("unreadable", community)
    table = User._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET phone = %s WHERE id = %s", ["0470 12.34.56", readable.pk])
        cursor.execute(f"UPDATE {table} SET phone = %s WHERE id = %s", ["ask the neighbour", unreadable.pk])
    # The migration reads the raw column through the schema editor's connection.
    convert_phones.convert(apps, SimpleNamespace(connection=connection))
    readable.refresh_from_db()
    unreadable.refresh_from_db()
    assert readable.phone.as_e164 == "+32470123456" and readable.phone_to_check == ""
    assert not unreadable.phone and unreadable.phone_to_check == "ask the neighbour"
    sign_in(client, coordinator)
    dashboard = client.get(reverse("dashboard")).text
    assert "phone number could not be read" in dashboard and "?phone_to_check=yes" in dashboard


def test_coordinators_see_per_request_what_was_sent_on_which_channel_and_its_outcome(
    client, coordinator, help_request, volunteer
):
    volunteer.email = "volunteer@example.org"
    volunteer.phone, volunteer.sms_notifications = "+32470000001", True
    volunteer.save()
    services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    send_pending_messages()
    sign_in(client, coordinator)
    page = client.get(reverse("coordinator-request", args=[help_request.pk])).text
    assert 'data-message-channel="email"' in page and 'data-message-channel="sms"' in page
    assert page.count(">sent") >= 1 or "waiting to be sent" in page


def test_texts_are_in_the_export_and_go_with_the_account_and_the_purge(
    client, citizen, community, shopping, coordinator, volunteer
):
    citizen.phone, citizen.sms_notifications = "+32470112233", True
    citizen.save()
    help_request = post_request(citizen, community, shopping)
    proposal = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    sign_in(client, citizen)
    exported = json.loads(client.get(reverse("account-data")).content)
    assert exported["account"]["sms_notifications"] is True
    assert "sms" in [message["channel"] for message in exported["emails"]]
    # The volunteer leaves: the text that named them to the citizen goes too.
    account_delete(person=volunteer)
    assert not OutgoingMessage.objects.filter(channel="sms", recipient=citizen).exists()

    caller_request = services.help_request_create(
        community=community,
        requester=None,
        created_by=coordinator,
        category=shopping,
        description="Bread",
        urgency=1,
        location=help_request_location(help_request),
        any_time=True,
        contact_name="Mrs Maes",
        contact_phone="0470 12 34 56",
        text_caller=True,
    )
    OutgoingMessage.objects.create(
        channel="sms",
        recipient=None,
        help_request=caller_request,
        to_address="+32470123456",
        subject="accepted",
        body="x",
        status="sent",
    )
    caller_request.status = RequestStatus.DONE
    caller_request.save()
    personal_data_purge(older_than_days=-1)
    assert not OutgoingMessage.objects.filter(help_request=caller_request).exists()


def help_request_location(help_request):
    from mutualaid.aid.places import Location

    return Location(
        help_request.latitude, help_request.longitude, help_request.address, help_request.neighbourhood
    )
