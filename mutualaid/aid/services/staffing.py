"""Tasks for several volunteers that are still short of people a day before they start.

A request for several volunteers is proposed as it is, place by place, and matching goes on
looking for the places left. If it still has places no volunteer accepted when its first
time window is less than a day away, its citizen (or the caller's coordinator) and the
community's coordinators are told, once, through the dispatcher: they may want to ask a
neighbour, fewer people, or another day.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from mutualaid.aid.models import HelpRequest
from mutualaid.aid.services._records import locked_request, places_taken, publish
from mutualaid.aid.services.audit import audit
from mutualaid.aid.states import AssignmentStatus, RequestStatus
from notifications.kinds import ChangeKind

# How long before its first time window a task still short of people is announced.
SHORT_STAFFED_NOTICE = dt.timedelta(days=1)
# A task posted shortly before it starts gets this long for matching and answers first.
SHORT_STAFFED_GRACE = dt.timedelta(hours=2)
WAITING_STATUSES = (RequestStatus.OPEN, RequestStatus.PROPOSED)


def _first_start(help_request: HelpRequest, now: dt.datetime) -> dt.datetime | None:
    """When the first time window still ahead begins (None: any time, or all passed)."""
    starts = [window.starts_at() for window in help_request.time_windows.all() if not window.has_passed(now)]
    return min(starts) if starts else None


def is_short_staffed_soon(help_request: HelpRequest, now: dt.datetime) -> bool:
    """A request of several volunteers, waiting, with places no one accepted, whose first
    time window begins within a day."""
    if help_request.people_needed < 2 or help_request.status not in WAITING_STATUSES:
        return False
    if help_request.any_time or now - help_request.created_at < SHORT_STAFFED_GRACE:
        return False
    accepted, _live = places_taken(help_request)
    first = _first_start(help_request, now)
    return accepted < help_request.people_needed and first is not None and first - now <= SHORT_STAFFED_NOTICE


@transaction.atomic
def help_request_tell_short_staffed(*, help_request: HelpRequest, now: dt.datetime | None = None) -> bool:
    """Tell the citizen and the coordinators that the task is still short of people (once
    per request, recorded); False when it is not short, or they were told already."""
    now = now or timezone.now()
    help_request = locked_request(help_request.pk)
    if help_request.short_notice_sent_at is not None or not is_short_staffed_soon(help_request, now):
        return False
    accepted, _live = places_taken(help_request)
    help_request.short_notice_sent_at = now
    help_request.save(update_fields=["short_notice_sent_at"])
    audit(
        actor=None,
        action="short_staffed",
        subject=help_request,
        after={"accepted": accepted, "needed": help_request.people_needed},
    )
    publish(help_request, ChangeKind.SHORT_STAFFED)
    return True


def tell_short_staffed_requests(*, now: dt.datetime | None = None) -> int:
    """The worker's job: tell of every task still short of people a day before it starts,
    each in its own transaction (the service locks and checks again); how many were told."""
    now = now or timezone.now()
    horizon = timezone.localdate(now + SHORT_STAFFED_NOTICE)
    candidates = (
        HelpRequest.objects.filter(
            people_needed__gt=1,
            status__in=WAITING_STATUSES,
            any_time=False,
            short_notice_sent_at__isnull=True,
            created_at__lte=now - SHORT_STAFFED_GRACE,
            time_windows__date__gte=timezone.localdate(now),
            time_windows__date__lte=horizon,
        )
        .annotate(
            accepted=Count(
                "assignments", filter=Q(assignments__status=AssignmentStatus.ACCEPTED), distinct=True
            )
        )
        .filter(accepted__lt=F("people_needed"))
        .distinct()
        .only("pk")
    )
    return sum(help_request_tell_short_staffed(help_request=candidate, now=now) for candidate in candidates)
