"""Reminders the day before an accepted task, and "I can't any more" from the task page:
who is reminded, when, on which channel, exactly once, and the task back in matching."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from django.core import mail
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from matching.models import MatchingQueue
from matching.services import run_due_matching
from mutualaid.aid import services
from mutualaid.aid.models import Assignment, HelpRequest, StatusChange, TimeWindow
from notifications.management.commands.generate_vapid_keys import new_vapid_keys
from notifications.models import OutgoingMessage, PushSubscription, TaskReminder
from notifications.outbox import send_pending_messages
from tests.conftest import PASSWORD, post_request
from tests.notifications.push_service import BrowserKeys, LocalPushService, decrypt
from worker import jobs
from worker.models import PeriodicJob


def today_at(hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(hour, minute)))


@pytest.fixture(autouse=True)
def people_with_addresses(citizen, volunteer, second_volunteer):
    for person in (citizen, volunteer, second_volunteer):
        person.email = f"{person.username}@example.org"
        person.preferred_language = "en"
        person.save()


def accepted_yesterday(assignment: Assignment, volunteer) -> Assignment:
    services.assignment_accept(assignment=assignment, volunteer=volunteer)
    Assignment.objects.filter(pk=assignment.pk).update(responded_at=timezone.now() - dt.timedelta(days=1))
    OutgoingMessage.objects.all().delete()  # the proposal's and the acceptance's mail: not what is tested
    return Assignment.objects.get(pk=assignment.pk)


@pytest.fixture
def accepted_task(proposal, volunteer) -> Assignment:
    """The citizen's request (help wanted tomorrow morning), accepted by the volunteer yesterday."""
    return accepted_yesterday(proposal, volunteer)


def reminders_sent() -> list[OutgoingMessage]:
    return list(OutgoingMessage.objects.filter(subject__startswith="Reminder").order_by("pk"))


def test_the_day_before_an_accepted_task_its_volunteer_is_mailed_when_where_and_how_to_give_it_back(
    accepted_task, volunteer
):
    assert services.send_task_reminders(now=today_at(10)) == 1
    send_pending_messages()
    (message,) = mail.outbox
    assert message.to == [volunteer.email]
    assert message.subject == "Reminder: tomorrow you help with Shopping"
    assert "Naamsestraat 12" in message.body  # accepted: the exact address
    assert "morning" in message.body
    assert f"/volunteer/tasks/{accepted_task.pk}/#give-back" in message.body
    assert "I can't any more" in message.body


def test_a_volunteer_with_notifications_on_gets_the_reminder_in_their_browser_too(
    accepted_task, volunteer, settings
):
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = new_vapid_keys()
    keys = BrowserKeys()
    with LocalPushService() as push_service:
        PushSubscription.objects.create(
            person=volunteer, endpoint=push_service.endpoint("phone"), p256dh=keys.p256dh, auth=keys.auth
        )
        services.send_task_reminders(now=today_at(10))
        assert send_pending_messages() == 2  # the e-mail and the push
        (delivered,) = push_service.delivered
    payload = json.loads(decrypt(delivered, keys))
    assert payload["title"] == "Tomorrow: Shopping"
    assert payload["url"] == f"/volunteer/tasks/{accepted_task.pk}/#give-back"
    assert "Naamsestraat 12" in payload["body"] and "give the task back" in payload["body"]


def test_each_reminder_goes_once_however_often_and_by_however_many_workers_it_is_looked_for(accepted_task):
    assert services.send_task_reminders(now=today_at(10)) == 1
    assert services.send_task_reminders(now=today_at(10, 10)) == 0
    assert services.remind_task(accepted_task.pk, now=today_at(10, 20)) is False
    assert len(reminders_sent()) == 1
    assert TaskReminder.objects.filter(assignment=accepted_task).count() == 1


def test_the_worker_job_looks_once_per_period_across_workers_and_records_what_it_did(accepted_task):
    assert jobs.send_reminders(now=today_at(10)) == 1
    assert jobs.send_reminders(now=today_at(10, 1)) is None  # another worker, same period
    assert jobs.send_reminders(now=today_at(10, 11)) == 0  # the next period: nothing new
    assert PeriodicJob.objects.get(name="task_reminders").last_outcome == "0 reminders queued"
    assert len(reminders_sent()) == 1


@pytest.mark.parametrize("hour", [7, 21, 23])
def test_no_reminder_goes_out_at_night(accepted_task, hour):
    assert services.send_task_reminders(now=today_at(hour)) == 0
    assert services.send_task_reminders(now=today_at(9)) == 1  # it goes in the morning


def test_only_tasks_accepted_before_today_and_due_tomorrow_are_reminded(
    community, shopping, citizen, other_citizen, volunteer, second_volunteer
):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    # Accepted today for tomorrow: fresh in mind.
    fresh = services.assignment_propose(
        help_request=post_request(citizen, community, shopping), volunteer=volunteer, km=1
    )
    services.assignment_accept(assignment=fresh, volunteer=volunteer)
    # Proposed, not accepted.
    services.assignment_propose(
        help_request=post_request(other_citizen, community, shopping), volunteer=second_volunteer, km=1
    )
    # Any time: no day to remind of.
    any_time = post_request(citizen, community, shopping)
    HelpRequest.objects.filter(pk=any_time.pk).update(any_time=True)
    TimeWindow.objects.filter(help_request=any_time).delete()
    # In two days; and one that can already be done today.
    later = post_request(citizen, community, shopping)
    TimeWindow.objects.filter(help_request=later).update(date=tomorrow + dt.timedelta(days=1))
    today_too = post_request(other_citizen, community, shopping)
    TimeWindow.objects.create(help_request=today_too, date=timezone.localdate(), part_of_day=2)
    for help_request in (any_time, later, today_too):
        volunteer_offer = volunteer if help_request.requester_id == citizen.pk else second_volunteer
        volunteer_offer.volunteer_offer.capacity = 5
        volunteer_offer.volunteer_offer.save()
        accepted_yesterday(
            services.assignment_propose(help_request=help_request, volunteer=volunteer_offer, km=1),
            volunteer_offer,
        )
    assert services.send_task_reminders(now=today_at(10)) == 0
    assert reminders_sent() == []


def test_a_reminder_still_waiting_when_the_task_is_given_back_is_not_sent(accepted_task, volunteer, settings):
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = new_vapid_keys()
    PushSubscription.objects.create(
        person=volunteer,
        endpoint="https://push.example.org/phone",
        p256dh=BrowserKeys().p256dh,
        auth="A" * 22,
    )
    services.send_task_reminders(now=today_at(10))
    services.assignment_give_back(assignment=accepted_task, volunteer=volunteer)
    send_pending_messages()
    waiting = OutgoingMessage.objects.filter(reminder_of=accepted_task)
    assert sorted(waiting.values_list("channel", "status")) == [("email", "skipped"), ("push", "skipped")]
    assert "cancelled before its reminder went out" in waiting.first().last_error
    assert not [message for message in mail.outbox if message.subject.startswith("Reminder")]


def test_a_task_given_back_or_done_before_the_reminder_gets_none(accepted_task, volunteer):
    services.assignment_complete(assignment=accepted_task, volunteer=volunteer)
    assert services.send_task_reminders(now=today_at(10)) == 0


def test_two_workers_reminding_the_same_task_at_once_send_it_once(transactional_db, accepted_task):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent workers need PostgreSQL's row locks: set DATABASE_URL")
    barrier = threading.Barrier(8)
    outcomes: list[bool] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            outcomes.append(services.remind_task(accepted_task.pk, now=today_at(10)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == [False] * 7 + [True]
    assert len(reminders_sent()) == 1


# --- "I can't any more" -------------------------------------------------------------------


def volunteer_client(volunteer) -> Client:
    client = Client()
    assert client.login(username=volunteer.username, password=PASSWORD)
    return client


def test_i_cant_any_more_on_the_task_page_releases_the_task_to_matching_at_once(
    accepted_task, volunteer, second_volunteer, citizen
):
    client = volunteer_client(volunteer)
    page = client.get(reverse("task-detail", args=[accepted_task.pk])).content.decode()
    assert 'id="give-back"' in page and "I can't any more" in page
    MatchingQueue.objects.all().delete()

    response = client.post(reverse("task-give-back", args=[accepted_task.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("inbox")
    assert "we offer it to someone else now" in response.content.decode()
    accepted_task.refresh_from_db()
    help_request = accepted_task.help_request
    help_request.refresh_from_db()
    assert (accepted_task.status, help_request.status) == ("cancelled", "open")
    change = StatusChange.objects.filter(assignment=accepted_task, subject="assignment").latest("pk")
    assert (change.actor, change.from_status, change.to_status, change.reason) == (
        volunteer,
        "accepted",
        "cancelled",
        "can't any more",
    )
    # The citizen's own history says nothing of why.
    assert StatusChange.objects.filter(help_request=help_request, subject="request").latest("pk").reason == ""
    assert MatchingQueue.objects.filter(community_id=help_request.community_id).exists()
    run_due_matching()
    assert Assignment.objects.get(help_request=help_request, status="proposed").volunteer == second_volunteer


def test_a_proposed_task_cannot_be_given_back_only_declined(proposal, volunteer):
    response = volunteer_client(volunteer).post(reverse("task-give-back", args=[proposal.pk]), follow=True)
    assert "decline it instead" in response.content.decode()
    proposal.refresh_from_db()
    assert proposal.status == "proposed"


def test_nobody_else_can_give_back_a_volunteers_task(accepted_task, second_volunteer):
    response = volunteer_client(second_volunteer).post(reverse("task-give-back", args=[accepted_task.pk]))
    assert response.status_code == 404
    accepted_task.refresh_from_db()
    assert accepted_task.status == "accepted"


def test_a_volunteer_who_chose_texts_gets_the_reminder_by_text_with_the_way_to_give_it_back(
    accepted_task, volunteer
):
    volunteer.phone = "+32 470 00 00 01"
    volunteer.sms_notifications = True
    volunteer.save()

    assert services.send_task_reminders(now=today_at(10)) == 1

    text = OutgoingMessage.objects.get(channel=OutgoingMessage.Channel.SMS)
    assert text.reminder_of_id == accepted_task.pk
    assert text.body.startswith("Tomorrow ")
    assert "Naamsestraat 12" in text.body  # accepted: the exact address
    assert f"Reply CANT {accepted_task.short_code}" in text.body
    assert len(text.body) <= 160
