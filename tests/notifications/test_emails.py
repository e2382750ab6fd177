"""E-mail for people who are not online: who gets what, in which language, and faults;
the outbox's retries with backoff."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from mutualaid.aid import services
from notifications.models import OutgoingMessage
from notifications.outbox import MAX_ATTEMPTS, failed_recently, retry_delay
from notifications.outbox import send_pending_messages as send_pending_emails
from tests.conftest import LADEUZEPLEIN, make_volunteer, post_request, sign_in


@pytest.fixture(autouse=True)
def everyone_has_an_address(citizen, volunteer):
    for user in (citizen, volunteer):
        user.email = f"{user.username}@example.org"
        user.preferred_language = "en"
        user.save()


def test_volunteer_is_mailed_a_proposal_without_the_requesters_name_or_address(proposal, volunteer):
    assert send_pending_emails() == 1
    (message,) = mail.outbox
    assert message.to == [volunteer.email]
    assert "Shopping" in message.subject
    assert "Leuven centrum" in message.body
    assert f"/volunteer/tasks/{proposal.pk}/" in message.body
    assert "Peeters" not in message.body and "Naamsestraat" not in message.body


def test_requester_is_mailed_when_a_volunteer_accepts_and_when_it_is_done(proposal, volunteer, citizen):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    services.assignment_complete(assignment=proposal, volunteer=volunteer)
    send_pending_emails()
    to_citizen = [message for message in mail.outbox if message.to == [citizen.email]]
    assert len(to_citizen) == 2
    assert volunteer.display_name in to_citizen[0].body
    assert "done" in to_citizen[1].subject


def test_nobody_is_mailed_who_opted_out(help_request, volunteer, citizen):
    for user in (citizen, volunteer):
        user.email_notifications = False
        user.save()
    assignment = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    services.assignment_accept(assignment=assignment, volunteer=volunteer)
    assert send_pending_emails() == 0
    assert mail.outbox == []


def test_a_mail_server_that_is_down_never_undoes_the_change_and_the_mail_is_retried(
    proposal, volunteer, citizen, settings, monkeypatch
):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("notifications.channels.email.send_mail", refuse)
    assert send_pending_emails() == 0  # the proposal's mail fails
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    proposal.refresh_from_db()
    assert proposal.status == "accepted"  # committed whatever the mail server does
    assert send_pending_emails() == 0  # the acceptance's mail fails too
    waiting = OutgoingMessage.objects.filter(status="pending")
    assert sorted(waiting.values_list("to_address", flat=True)) == [citizen.email, volunteer.email]
    assert all(email.attempts == 1 and "mail server down" in email.last_error for email in waiting)
    assert send_pending_emails() == 0  # neither is tried again before its backoff is over

    monkeypatch.undo()
    assert send_pending_emails(now=timezone.now() + retry_delay(1)) == 1
    assert OutgoingMessage.objects.get(to_address=citizen.email).status == "sent"
    # Accepted meanwhile: the volunteer is no longer asked to accept or decline by mail.
    moot = OutgoingMessage.objects.get(to_address=volunteer.email)
    assert moot.status == "skipped" and moot.last_error.startswith("not sent: the proposal was accepted")


def test_retries_back_off_exponentially_up_to_an_hour(settings):
    settings.OUTBOX_RETRY_SECONDS = 60
    assert [retry_delay(attempt).total_seconds() for attempt in range(1, 8)] == [
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
    ]


def test_a_mail_that_keeps_failing_is_given_up_and_the_coordinators_are_alerted(
    proposal, volunteer, monkeypatch, caplog
):
    monkeypatch.setattr("notifications.channels.email.send_mail", lambda *a, **k: 1 / 0)
    moment = timezone.now()
    for _ in range(MAX_ATTEMPTS + 2):
        send_pending_emails(now=moment)
        moment += dt.timedelta(hours=2)  # past any backoff
    message = OutgoingMessage.objects.get()
    assert (message.attempts, message.status) == (MAX_ATTEMPTS, "failed")
    assert "failed for good after 5 attempts" in caplog.text
    alert = failed_recently(community_id=volunteer.community_id)
    assert alert == {"count": 1, "last_channel": "email", "last_error": "ZeroDivisionError: division by zero"}


def test_mails_go_out_in_the_persons_own_language(help_request, volunteer, citizen):
    citizen.preferred_language = "nl"
    citizen.save()
    volunteer.preferred_language = "fr"
    volunteer.save()
    proposal = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    send_pending_emails()  # the proposal's, while it is one
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    services.assignment_complete(assignment=proposal, volunteer=volunteer)
    send_pending_emails()
    to_citizen = [message.subject for message in mail.outbox if message.to == [citizen.email]]
    assert to_citizen[-1] == "Uw hulpvraag is afgerond"
    (to_volunteer,) = [message for message in mail.outbox if message.to == [volunteer.email]]
    assert to_volunteer.body.startswith("Bonjour")


def test_a_proposal_accepted_at_once_on_the_phone_is_not_mailed_as_a_proposal(
    help_request, volunteer, citizen, coordinator
):
    services.assignment_assign_by_coordinator(
        help_request=help_request,
        volunteer=volunteer,
        coordinator=coordinator,
        reason="She knows him",
        agreed_by_phone=True,
    )
    assert send_pending_emails() == 1
    assert [message.to for message in mail.outbox] == [[citizen.email]]  # "someone is coming"
    unsent = OutgoingMessage.objects.get(recipient=volunteer)  # kept, as a record, never sent
    assert unsent.sent_at is None and unsent.status == "skipped"
    assert unsent.last_error == "not sent: the proposal was accepted before it went out"


def test_a_proposal_cancelled_before_its_mail_went_out_is_not_mailed(proposal, help_request, citizen):
    services.help_request_cancel(help_request=help_request, actor=citizen)
    assert send_pending_emails() == 0
    assert mail.outbox == []
    assert send_pending_emails() == 0  # and never tried again


def test_mail_waiting_for_an_account_that_was_closed_is_not_sent(proposal, volunteer):
    volunteer.is_active = False  # an administrator closed the account
    volunteer.save()

    assert send_pending_emails() == 0
    assert mail.outbox == []
    unsent = OutgoingMessage.objects.get(recipient=volunteer)
    assert unsent.last_error == "not sent: the account was closed before it went out"


def test_a_mail_server_that_never_answers_holds_the_worker_for_one_timeout_per_round(
    help_request, volunteer, citizen, settings
):
    import socket
    import time

    proposal = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    services.assignment_complete(assignment=proposal, volunteer=volunteer)
    # The proposal's (moot now: not sent, no time spent), then acceptance and completion.
    assert OutgoingMessage.objects.count() == 3
    with socket.socket() as silent:  # takes the connection, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = silent.getsockname()
        settings.EMAIL_TIMEOUT = 1
        started = time.monotonic()
        assert send_pending_emails() == 0
        elapsed = time.monotonic() - started
    assert elapsed < 1.9, elapsed  # one timeout, not one per mail: matching runs again soon
    assert list(OutgoingMessage.objects.order_by("pk").values_list("status", "attempts")) == [
        ("skipped", 0),
        ("pending", 1),
        ("pending", 0),
    ]
    # The one not tried was leased with the others but is due again at once, not after the lease.
    untried = OutgoingMessage.objects.get(status="pending", attempts=0)
    assert untried.next_attempt_at <= timezone.now()


@pytest.mark.django_db(transaction=True)
def test_several_workers_sending_the_outbox_at_once_send_each_mail_once(citizen, community, shopping):
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks: set DATABASE_URL (CI runs this on PostgreSQL)")
    for index in range(12):
        volunteer = make_volunteer(f"helper-{index}", community, [shopping], LADEUZEPLEIN)
        volunteer.email = f"helper-{index}@example.org"
        volunteer.save()
        services.assignment_propose(
            help_request=post_request(citizen, community, shopping), volunteer=volunteer, km=1.0
        )
    barrier = threading.Barrier(4)
    totals: list[int] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            totals.append(send_pending_emails())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(totals) == 12
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        f"helper-{index}@example.org" for index in range(12)
    )


def test_the_dashboard_tells_coordinators_when_messages_keep_failing(
    client, coordinator, proposal, monkeypatch
):
    monkeypatch.setattr("notifications.channels.email.send_mail", lambda *a, **k: 1 / 0)
    moment = timezone.now()
    for _ in range(MAX_ATTEMPTS):
        send_pending_emails(now=moment)
        moment += dt.timedelta(hours=2)
    sign_in(client, coordinator)

    page = client.get("/coordinator/").content.decode()

    assert "1 message to someone of this community could not be delivered in the last day" in page
    assert "ZeroDivisionError" in page
