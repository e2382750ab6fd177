"""Reminders: the day before an accepted task, its volunteer hears of it again on their
channels (e-mail, text message, push), with the way to say "I can't any more" (the task page's give-back,
which releases the task to matching at once).

A task's day is the first day of its time windows from today on; a task for any time has
none and gets no reminder, nor does one accepted today (it is fresh in mind). Reminders go
out between 09:00 and 21:00 local time, each once: a `TaskReminder` row, unique per
assignment, is written with the messages under the task's lock, so several workers looking
at once send it once.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from mutualaid.aid.models import Assignment, TimeWindow
from mutualaid.aid.services._records import locked_assignment
from mutualaid.aid.states import AssignmentStatus
from notifications.dispatch import remind
from notifications.models import TaskReminder

# Local hours in which reminders go out: none in the night.
REMINDERS_FROM_HOUR = 9
REMINDERS_UNTIL_HOUR = 21


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def due_reminders(now: dt.datetime | None = None):
    """Accepted tasks whose day is tomorrow, accepted before today, not yet reminded."""
    today = timezone.localtime(now).date()
    tomorrow = today + dt.timedelta(days=1)
    windows = TimeWindow.objects.filter(help_request_id=OuterRef("help_request_id"))
    return (
        Assignment.objects.filter(status=AssignmentStatus.ACCEPTED, responded_at__lt=_start_of(today))
        .filter(Exists(windows.filter(date=tomorrow)))
        .exclude(Exists(windows.filter(date=today)))
        .exclude(Exists(TaskReminder.objects.filter(assignment_id=OuterRef("pk"))))
        .order_by("pk")
    )


def remind_task(assignment_id: int, *, now: dt.datetime | None = None) -> bool:
    """Queue one task's reminder unless it went already or the task is no longer accepted."""
    tomorrow = timezone.localtime(now).date() + dt.timedelta(days=1)
    with transaction.atomic():
        assignment, help_request = locked_assignment(assignment_id)
        if assignment.status != AssignmentStatus.ACCEPTED:
            return False
        window = help_request.time_windows.filter(date=tomorrow).order_by("part_of_day").first()
        if window is None or TaskReminder.objects.filter(assignment=assignment).exists():
            return False
        try:
            with transaction.atomic():
                TaskReminder.objects.create(assignment=assignment)
        except IntegrityError:  # another worker wrote it meanwhile (SQLite has no row locks)
            return False
        assignment = Assignment.objects.select_related(
            "volunteer", "help_request__category", "help_request__requester"
        ).get(pk=assignment.pk)
        remind(assignment, window)
    return True


def send_task_reminders(*, now: dt.datetime | None = None) -> int:
    """Remind every task due for it now, each in its own transaction; how many were."""
    hour = timezone.localtime(now).hour
    if not REMINDERS_FROM_HOUR <= hour < REMINDERS_UNTIL_HOUR:
        return 0
    due = list(due_reminders(now).values_list("pk", flat=True))
    return sum(remind_task(assignment_id, now=now) for assignment_id in due)
