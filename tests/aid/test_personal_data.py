"""People's data: download, deletion that keeps statistics, retention, and the audit log."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone

from mutualaid.aid import services
from mutualaid.aid.models import (
    Assignment,
    AuditEntry,
    CoordinatorMessage,
    HelpRequest,
    StatusChange,
    VolunteerOffer,
)
from mutualaid.aid.personal_data import FORGOTTEN, account_delete, personal_data_purge
from notifications.models import OutgoingMessage
from tests.conftest import (
    LADEUZEPLEIN,
    NAAMSESTRAAT,
    PASSWORD,
    make_user,
    make_volunteer,
    post_request,
    sign_in,
)


def test_a_person_downloads_all_their_data_and_nobody_elses(client, citizen, proposal, volunteer):
    sign_in(client, citizen)
    response = client.get(reverse("account-data"))
    assert response["Content-Disposition"].startswith("attachment")
    data = json.loads(response.content)
    assert data["account"]["username"] == "citizen" and data["account"]["phone"] == citizen.phone
    (request_data,) = data["help_requests"]
    assert request_data["address"] == "Naamsestraat 12, 3000 Leuven"
    assert [step["to"] for step in request_data["history"]][:1] == ["open"]
    assert f'"{volunteer.username}"' not in response.text and str(volunteer.phone) not in response.text


def test_a_volunteers_download_lists_their_tasks_without_the_other_persons_details(
    client, proposal, volunteer
):
    sign_in(client, volunteer)
    data = client.get(reverse("account-data")).json()
    assert data["volunteer_offer"]["skills"] == ["Pharmacy", "Shopping"]
    assert data["tasks_as_volunteer"][0]["category"] == "Shopping"
    assert "Peeters" not in json.dumps(data) and "Naamsestraat" not in json.dumps(data)


def test_deleting_an_account_needs_the_password(client, citizen):
    sign_in(client, citizen)
    response = client.post(reverse("account"), {"password": "wrong"})
    assert response.status_code == 200 and "That is not your password." in response.text
    citizen.refresh_from_db()
    assert citizen.is_active


def test_deleting_an_account_removes_personal_data_but_keeps_the_statistics(
    client, citizen, community, shopping
):
    done = post_request(citizen, community, shopping)
    volunteer = make_volunteer("helper", community, [shopping], LADEUZEPLEIN)
    assignment = services.assignment_propose(help_request=done, volunteer=volunteer, km=0.5)
    services.assignment_accept(assignment=assignment, volunteer=volunteer)
    services.assignment_complete(assignment=assignment, volunteer=volunteer)
    open_request = post_request(citizen, community, shopping)
    sign_in(client, citizen)
    response = client.post(reverse("account"), {"password": PASSWORD})
    assert response.status_code == 302

    citizen.refresh_from_db()
    assert (citizen.username, citizen.first_name, citizen.last_name, citizen.phone, citizen.email) == (
        f"deleted-{citizen.pk}",
        "",
        "",
        "",
        "",
    )
    assert not citizen.is_active and not citizen.has_usable_password()
    done.refresh_from_db()
    open_request.refresh_from_db()
    assert done.status == "done" and done.neighbourhood == "Leuven centrum"  # still counts where it helped
    assert done.description == FORGOTTEN and done.address == ""
    assert (done.latitude, done.longitude) != (50.8735, 4.7003)
    assert open_request.status == "cancelled"
    assert AuditEntry.objects.filter(action="account_deleted", subject=f"user:{citizen.pk}").exists()
    assert client.get(reverse("my-requests")).status_code == 302  # logged out


def test_a_deleted_volunteers_tasks_go_back_to_matching(proposal, volunteer, help_request):
    from mutualaid.aid.personal_data import account_delete

    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    account_delete(person=volunteer)
    help_request.refresh_from_db()
    proposal.refresh_from_db()
    assert help_request.status == "open" and proposal.status == "cancelled"
    assert not VolunteerOffer.objects.filter(volunteer=volunteer).exists()


def test_retention_forgets_details_of_long_finished_requests_only(citizen, community, shopping, capsys):
    old = post_request(citizen, community, shopping)
    services.help_request_cancel(help_request=old, actor=citizen)
    recent = post_request(citizen, community, shopping)
    services.help_request_cancel(help_request=recent, actor=citizen)
    still_open = post_request(citizen, community, shopping)
    HelpRequest.objects.filter(pk__in=[old.pk, still_open.pk]).update(
        updated_at=timezone.now() - dt.timedelta(days=400)
    )
    call_command("purge_personal_data", "--days", "180")
    assert "1 requests older than 180 days" in capsys.readouterr().out
    for help_request in (old, recent, still_open):
        help_request.refresh_from_db()
    assert old.description == FORGOTTEN and old.address == ""
    assert recent.description != FORGOTTEN and still_open.description != FORGOTTEN
    assert personal_data_purge(older_than_days=180) == 0  # nothing left to forget


def test_coordinator_actions_are_recorded_in_the_append_only_audit_log(coordinator, help_request, volunteer):
    services.assignment_assign_by_coordinator(
        help_request=help_request, volunteer=volunteer, coordinator=coordinator, reason="neighbours"
    )
    live = Assignment.objects.get(help_request=help_request)
    services.assignment_unassign(assignment=live, coordinator=coordinator, reason="ill")
    actions = list(AuditEntry.objects.order_by("pk").values_list("action", "actor", "before", "after"))
    # Unassigning holds the request for the coordinator (see test_services' hold tests).
    assert [action for action, *_ in actions] == ["assign", "unassign", "hold"]
    assert actions[1][1] == coordinator.pk
    assert actions[1][2] == {"status": "proposed", "volunteer": volunteer.pk}
    assert actions[1][3] == {"status": "open", "reason": "ill"}


def test_the_audit_log_cannot_be_changed_in_the_admin(admin_client, coordinator, help_request, volunteer):
    services.assignment_assign_by_coordinator(
        help_request=help_request, volunteer=volunteer, coordinator=coordinator, reason="x"
    )
    entry = AuditEntry.objects.get()
    assert admin_client.get(reverse("admin:aid_auditentry_changelist")).status_code == 200
    assert (
        admin_client.post(
            reverse("admin:aid_auditentry_delete", args=[entry.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize("who", ["phone_intake", "called_back", "attach_to_account", "message", "cancel"])
def test_every_kind_of_coordinator_action_is_audited(
    who, coordinator, community, shopping, pharmacy, volunteer
):
    phoned = services.help_request_create(
        community=community, requester=None, created_by=coordinator, category=shopping, description="x",
        urgency=1, location=NAAMSESTRAAT, any_time=True, contact_name="Mrs Maes", contact_phone="016 234567",
    )  # fmt: skip
    if who == "called_back":
        services.help_request_mark_called_back(help_request=phoned, coordinator=coordinator)
    elif who == "attach_to_account":
        person = make_user("maes", community, phone="016 234567")
        services.help_request_attach_to_account(help_request=phoned, person=person, coordinator=coordinator)
    elif who == "message":
        volunteer.email = "v@example.org"
        volunteer.save()
        with transaction.atomic():
            services.coordinator_message_send(
                coordinator=coordinator, community=community, subject="Hello", body="x", skill=pharmacy
            )
    elif who == "cancel":
        services.help_request_cancel(help_request=phoned, actor=coordinator, reason="duplicate")
    assert AuditEntry.objects.filter(action=who, actor=coordinator).exists()


# The records are append-only in the database, not only in the admin


def refused(write) -> bool:
    """Whether the database refuses the write (rolled back, so the test can go on)."""
    try:
        with transaction.atomic():
            write()
    except (IntegrityError, ProtectedError):
        return True
    return False


def test_the_database_refuses_rewriting_or_deleting_the_audit_log(coordinator, help_request, volunteer):
    services.assignment_assign_by_coordinator(
        help_request=help_request, volunteer=volunteer, coordinator=coordinator, reason="neighbours"
    )
    entry = AuditEntry.objects.get()

    assert refused(lambda: AuditEntry.objects.filter(pk=entry.pk).update(action="forged"))
    assert refused(lambda: AuditEntry.objects.filter(pk=entry.pk).update(after={}))
    entry.before = {"status": "done"}
    assert refused(entry.save)
    if connection.vendor == "postgresql":  # SQLite: Django's own test flush deletes rows
        assert refused(lambda: AuditEntry.objects.filter(pk=entry.pk).delete())
        assert refused(entry.delete)
    entry.refresh_from_db()
    assert (entry.action, entry.before) == ("assign", {"status": "open"})


def test_deleting_what_the_audit_log_names_is_refused(coordinator, help_request, volunteer, community):
    services.assignment_assign_by_coordinator(
        help_request=help_request, volunteer=volunteer, coordinator=coordinator, reason="neighbours"
    )
    assert refused(coordinator.delete)  # was: SET_NULL, the record would lose who
    assert refused(help_request.delete)  # was: CASCADE, the history would go with it
    assert AuditEntry.objects.filter(actor=coordinator, community=community).count() == 1


def test_the_database_refuses_rewriting_who_did_what_in_the_status_history(proposal, volunteer, citizen):
    change = StatusChange.objects.filter(help_request=proposal.help_request).order_by("pk").last()
    rows = StatusChange.objects.filter(pk=change.pk)
    for forged in (
        {"to_status": "done"},
        {"actor": citizen},
        {"from_status": ""},
        {"help_request_id": 10**6},
    ):
        assert refused(lambda forged=forged: rows.update(**forged)), forged
    if connection.vendor == "postgresql":
        assert refused(lambda: StatusChange.objects.filter(pk=change.pk).delete())
    # What people wrote may be redacted (retention, deletion); the transition stays.
    StatusChange.objects.filter(pk=change.pk).update(reason=FORGOTTEN)
    change.refresh_from_db()
    assert (change.to_status, change.reason) == ("proposed", FORGOTTEN)


# Account deletion: the outbox, the history's words, other sessions


def with_emails(*people) -> None:
    for person in people:
        person.email = f"{person.username}@example.org"
        person.save()


def test_deleting_a_citizens_account_empties_the_outbox_of_them_and_their_requests(
    client, citizen, volunteer, help_request
):
    with_emails(citizen, volunteer)
    proposal = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    proposal_email = OutgoingMessage.objects.get(recipient=volunteer)
    assert "Groceries for the week" in proposal_email.body  # the description went to the volunteer
    assert OutgoingMessage.objects.filter(recipient=citizen).exists()
    unrelated = OutgoingMessage.objects.create(
        recipient=volunteer, to_address="x@example.org", subject="s", body="b"
    )

    account_delete(person=citizen)

    # Nothing waits to be sent to their address, and no body carries their request.
    assert not OutgoingMessage.objects.filter(recipient=citizen).exists()
    assert not OutgoingMessage.objects.filter(to_address="citizen@example.org").exists()
    assert not OutgoingMessage.objects.filter(body__contains="Groceries").exists()
    assert list(OutgoingMessage.objects.all()) == [unrelated]


def test_deleting_a_volunteers_account_removes_their_name_and_phone_from_the_outbox(
    citizen, volunteer, help_request
):
    with_emails(citizen, volunteer)
    proposal = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    accepted_mail = OutgoingMessage.objects.get(recipient=citizen)
    assert str(volunteer.phone) in accepted_mail.body  # "you can call them on ..."

    account_delete(person=volunteer)

    assert not OutgoingMessage.objects.filter(body__contains=volunteer.phone).exists()
    assert not OutgoingMessage.objects.filter(to_address="volunteer@example.org").exists()


def test_deleting_an_account_redacts_the_words_in_the_history_but_keeps_the_steps(
    citizen, volunteer, second_volunteer, coordinator, help_request
):
    first = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    services.assignment_decline(assignment=first, volunteer=volunteer, reason="my knee hurts again")
    services.assignment_assign_by_coordinator(
        help_request=help_request, volunteer=second_volunteer, coordinator=coordinator, reason="Mrs P is 90"
    )
    steps_before = list(StatusChange.objects.order_by("pk").values_list("pk", "actor", "to_status"))

    account_delete(person=volunteer)  # what they wrote about themselves goes
    first.refresh_from_db()
    assert first.decline_reason == ""
    assert not StatusChange.objects.filter(reason__contains="knee").exists()

    account_delete(person=citizen)  # what was written about their request goes
    assert not StatusChange.objects.filter(reason__contains="Mrs P").exists()
    assert StatusChange.objects.filter(reason=f"coordinator: {FORGOTTEN}").exists()
    assert (
        list(StatusChange.objects.order_by("pk").values_list("pk", "actor", "to_status"))[: len(steps_before)]
        == steps_before
    )


def test_deleting_an_account_ends_its_other_sessions(client, citizen):
    from django.test import Client

    elsewhere = Client()
    sign_in(elsewhere, citizen)
    assert elsewhere.get(reverse("my-requests")).status_code == 200
    sign_in(client, citizen)
    client.post(reverse("account"), {"password": PASSWORD})

    response = elsewhere.get(reverse("my-requests"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


# Retention: the words and the e-mails go with the details


def test_retention_also_forgets_reasons_old_emails_and_old_coordinator_messages(
    citizen, volunteer, coordinator, community, shopping, pharmacy, help_request
):
    with_emails(citizen, volunteer)
    first = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    services.assignment_decline(assignment=first, volunteer=volunteer, reason="my knee hurts again")
    services.help_request_cancel(help_request=help_request, actor=citizen, reason="my son Tom came by")
    with transaction.atomic():
        services.coordinator_message_send(
            coordinator=coordinator,
            community=community,
            subject="Mrs Maes",
            body="Call 016 23 45 67",
            skill=pharmacy,
        )
    long_ago = timezone.now() - dt.timedelta(days=400)
    HelpRequest.objects.filter(pk=help_request.pk).update(updated_at=long_ago)
    OutgoingMessage.objects.update(created_at=long_ago, sent_at=long_ago, status="sent")
    CoordinatorMessage.objects.update(sent_at=long_ago)
    waiting = OutgoingMessage.objects.create(
        recipient=citizen, to_address="c@example.org", subject="s", body="b"
    )
    OutgoingMessage.objects.filter(pk=waiting.pk).update(created_at=long_ago)  # still being retried

    assert personal_data_purge(older_than_days=180) == 1

    first.refresh_from_db()
    assert first.decline_reason == ""
    reasons = set(StatusChange.objects.values_list("reason", flat=True))
    assert not {reason for reason in reasons if "knee" in reason or "Tom" in reason}
    assert {"created", "declined", FORGOTTEN} <= reasons  # system codes stay, words go
    assert list(OutgoingMessage.objects.all()) == [waiting]  # sent long ago: gone
    message = CoordinatorMessage.objects.get()
    assert (message.subject, message.body) == (FORGOTTEN, FORGOTTEN)
    # The audit log keeps the action without the message's words.
    entry = AuditEntry.objects.get(action="message")
    assert "Maes" not in entry.subject and "016" not in json.dumps(entry.after)


def test_the_retention_purge_keeps_recent_emails(citizen, volunteer, help_request):
    with_emails(citizen, volunteer)
    services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    count = OutgoingMessage.objects.count()
    personal_data_purge(older_than_days=180)
    assert OutgoingMessage.objects.count() == count == 1


# The download: what they wrote and what was sent to them, nobody else's details


def test_the_download_holds_their_own_words_mails_and_recorded_actions_only(
    client, citizen, volunteer, coordinator, help_request
):
    with_emails(citizen, volunteer)
    first = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    services.assignment_decline(assignment=first, volunteer=volunteer, reason="my knee hurts again")
    services.help_request_cancel(help_request=help_request, actor=coordinator, reason="duplicate of #7")

    sign_in(client, volunteer)
    data = client.get(reverse("account-data")).json()
    assert data["tasks_as_volunteer"][0]["decline_reason"] == "my knee hurts again"
    assert [email["subject"] for email in data["emails"]] == [
        "Een buur heeft hulp nodig: Shopping"
    ]  # in their language
    text = json.dumps(data)
    assert "Peeters" not in text and "Naamsestraat" not in text and "Groceries" not in text

    sign_in(client, citizen)
    data = client.get(reverse("account-data")).json()
    history = data["help_requests"][0]["history"]
    assert [step["reason"] for step in history if "reason" in step] == ["created"]  # their own step
    assert "duplicate of #7" not in json.dumps(data)  # the coordinator's words are not theirs
    assert "knee" not in json.dumps(data)

    sign_in(client, coordinator)
    data = client.get(reverse("account-data")).json()
    assert [entry["action"] for entry in data["recorded_actions"]] == ["cancel"]


# Coordinator actions outside the override pages are recorded too


def test_asking_for_a_matching_run_is_recorded(client, coordinator, community):
    sign_in(client, coordinator)
    assert client.post(reverse("dashboard-match")).status_code == 302
    entry = AuditEntry.objects.get(action="match_now")
    assert (entry.actor, entry.community) == (coordinator, community)


def test_the_database_guards_exist_after_migrating(db):
    # A later migration that rebuilds one of these tables on SQLite (a field change SQLite
    # cannot ALTER) would drop its triggers without a word: this test would say so.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        names = {name for (name,) in cursor.fetchall()}
    assert {"audit_log_append_only", "status_history_append_only"} <= names
    assert any(name.startswith("assignment_within_volunteer_capacity") for name in names)
