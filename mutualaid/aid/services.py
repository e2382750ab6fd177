"""Every change of a request, an offer or an assignment happens here.

Each service locks the help request row, checks the transition against `states.py`,
records a `StatusChange`, and publishes the change after the commit. Views and consumers
only parse input, call one of these and render the outcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from matching.scheduling import schedule_matching
from mutualaid.accounts.models import User
from mutualaid.aid.models import (
    Assignment,
    Category,
    Community,
    HelpRequest,
    StatusChange,
    TimeWindow,
    VolunteerOffer,
)
from mutualaid.aid.places import Location
from mutualaid.aid.states import (
    LIVE_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    InvalidTransition,
    RequestStatus,
    check_assignment_transition,
    check_request_transition,
)
from notifications.emails import queue_emails, task_emails
from notifications.events import publish_task_change

EMAILED_CHANGES = ("proposed", "accepted", "done")


class TaskActionError(Exception):
    """An action that cannot be done now, with a message to show the person who tried."""


def _set_request_status(
    help_request: HelpRequest,
    to_status: str,
    *,
    actor: User | None,
    reason: str = "",
    assignment: Assignment | None = None,
) -> None:
    check_request_transition(help_request.status, to_status)
    StatusChange.objects.create(
        help_request=help_request,
        assignment=assignment,
        subject=StatusChange.Subject.REQUEST,
        actor=actor,
        from_status=help_request.status,
        to_status=to_status,
        reason=reason[:255],
    )
    help_request.status = to_status
    if to_status != RequestStatus.OPEN:
        help_request.unassigned_reason = ""
    help_request.save(update_fields=["status", "unassigned_reason", "updated_at"])


def _set_assignment_status(
    assignment: Assignment, to_status: str, *, actor: User | None, reason: str = ""
) -> None:
    check_assignment_transition(assignment.status, to_status)
    StatusChange.objects.create(
        help_request_id=assignment.help_request_id,
        assignment=assignment,
        subject=StatusChange.Subject.ASSIGNMENT,
        actor=actor,
        from_status=assignment.status,
        to_status=to_status,
        reason=reason[:255],
    )
    assignment.status = to_status
    if assignment.responded_at is None and to_status != AssignmentStatus.PROPOSED:
        assignment.responded_at = timezone.now()
    assignment.save(update_fields=["status", "responded_at", "decline_reason"])


def _publish(
    help_request: HelpRequest, change: str, volunteer_ids: Iterable[int] = (), *, assignment=None
) -> None:
    volunteer_ids = sorted(set(volunteer_ids))
    if change in EMAILED_CHANGES:
        volunteers = list(User.objects.filter(pk__in=volunteer_ids))
        queue_emails(
            task_emails(
                help_request=help_request, change=change, volunteers=volunteers, assignment=assignment
            )
        )
    _announce(help_request, change, volunteer_ids)


def _announce(help_request: HelpRequest, change: str, volunteer_ids: list[int]) -> None:
    publish_task_change(
        request_id=help_request.pk,
        community_id=help_request.community_id,
        requester_id=help_request.requester_id,
        volunteer_ids=volunteer_ids,
        request_status=help_request.status,
        change=change,
    )


def _locked_request(help_request_id: int) -> HelpRequest:
    return HelpRequest.objects.select_for_update().get(pk=help_request_id)


def _locked_assignment(assignment_id: int) -> tuple[Assignment, HelpRequest]:
    # Lock the request first, always in this order, so two actions on one task queue up.
    request_id = Assignment.objects.values_list("help_request_id", flat=True).get(pk=assignment_id)
    help_request = _locked_request(request_id)
    assignment = Assignment.objects.select_for_update().get(pk=assignment_id)
    return assignment, help_request


@transaction.atomic
def help_request_create(
    *,
    community: Community,
    requester: User | None,
    created_by: User,
    category: Category,
    description: str,
    urgency: int,
    location: Location,
    time_windows: Iterable[tuple[dt.date, int]] = (),
    any_time: bool = False,
) -> HelpRequest:
    """File a request and ask matching to look for a volunteer."""
    if category.community_id != community.pk or not category.is_active:
        raise ValidationError({"category": _("Choose one of the categories offered in your community.")})
    windows = sorted(set(time_windows))
    if not any_time and not windows:
        raise ValidationError({"time_windows": _("Say when you need help, or tick 'any time'.")})
    help_request = HelpRequest.objects.create(
        community=community,
        requester=requester,
        created_by=created_by,
        category=category,
        description=description,
        urgency=urgency,
        any_time=any_time,
        address=location.address,
        latitude=location.latitude,
        longitude=location.longitude,
        neighbourhood=location.neighbourhood,
    )
    if not any_time:
        TimeWindow.objects.bulk_create(
            TimeWindow(help_request=help_request, date=date, part_of_day=part) for date, part in windows
        )
    StatusChange.objects.create(
        help_request=help_request,
        subject=StatusChange.Subject.REQUEST,
        actor=created_by,
        to_status=RequestStatus.OPEN,
        reason="created",
    )
    _publish(help_request, "created")
    schedule_matching(community.pk)
    return help_request


@transaction.atomic
def help_request_cancel(*, help_request: HelpRequest, actor: User, reason: str = "") -> HelpRequest:
    """Cancel a request that is not done yet; a volunteer already on it is released."""
    help_request = _locked_request(help_request.pk)
    if help_request.requester_id != actor.pk and not _coordinates(actor, help_request.community_id):
        raise PermissionDenied
    if help_request.status in (RequestStatus.DONE, RequestStatus.CANCELLED):
        raise TaskActionError(
            _("This request is already %(status)s.") % {"status": help_request.get_status_display()}
        )
    volunteer_ids = []
    for assignment in help_request.assignments.select_for_update().filter(
        status__in=LIVE_ASSIGNMENT_STATUSES
    ):
        _set_assignment_status(assignment, AssignmentStatus.CANCELLED, actor=actor, reason=reason)
        volunteer_ids.append(assignment.volunteer_id)
    _set_request_status(help_request, RequestStatus.CANCELLED, actor=actor, reason=reason)
    _publish(help_request, "cancelled", volunteer_ids)
    return help_request


def _coordinates(user: User, community_id: int) -> bool:
    return user.is_superuser or (user.is_coordinator and user.community_id == community_id)


@transaction.atomic
def volunteer_offer_save(
    *,
    volunteer: User,
    community: Community,
    skills: Iterable[Category],
    location: Location,
    max_km: float,
    availability: Iterable[int],
    capacity: int,
) -> VolunteerOffer:
    """Create or update a volunteer's offer; matching looks again for their community."""
    skills = list(skills)
    if any(skill.community_id != community.pk for skill in skills):
        raise ValidationError({"skills": _("Choose categories of your own community.")})
    slots = sorted({int(slot) for slot in availability})
    if any(slot < 0 or slot > 20 for slot in slots):
        raise ValidationError({"availability": _("Pick days and parts of the day from the grid.")})
    offer, _created = VolunteerOffer.objects.update_or_create(
        volunteer=volunteer,
        defaults={
            "community": community,
            "address": location.address,
            "latitude": location.latitude,
            "longitude": location.longitude,
            "neighbourhood": location.neighbourhood,
            "max_km": max_km,
            "availability": slots,
            "capacity": capacity,
        },
    )
    offer.skills.set(skills)
    if volunteer.community_id is None:
        volunteer.community = community
        volunteer.save(update_fields=["community"])
    schedule_matching(community.pk)
    return offer


@transaction.atomic
def volunteer_offer_set_paused(*, offer: VolunteerOffer, paused: bool) -> VolunteerOffer:
    """Pause (no new proposals; those already made stay) or resume an offer."""
    offer.is_paused = paused
    offer.save(update_fields=["is_paused", "updated_at"])
    if not paused:
        schedule_matching(offer.community_id)
    return offer


@transaction.atomic
def assignment_propose(
    *, help_request: HelpRequest, volunteer: User, km: float, actor: User | None = None, reason: str = ""
) -> Assignment:
    """Propose an open request to a volunteer (a coordinator's choice, or a test's)."""
    help_request = _locked_request(help_request.pk)
    if help_request.status != RequestStatus.OPEN:
        raise InvalidTransition("help request", help_request.status, RequestStatus.PROPOSED)
    expires_at = timezone.now() + dt.timedelta(hours=settings.PROPOSAL_EXPIRY_HOURS)
    assignment = Assignment.objects.create(
        help_request=help_request, volunteer=volunteer, km=km, expires_at=expires_at
    )
    StatusChange.objects.create(
        help_request=help_request,
        assignment=assignment,
        subject=StatusChange.Subject.ASSIGNMENT,
        actor=actor,
        to_status=AssignmentStatus.PROPOSED,
        reason=reason or "matching",
    )
    _set_request_status(
        help_request, RequestStatus.PROPOSED, actor=actor, reason=reason, assignment=assignment
    )
    _publish(help_request, "proposed", [volunteer.pk], assignment=assignment)
    return assignment


def _own_assignment(assignment_id: int, volunteer: User) -> tuple[Assignment, HelpRequest]:
    assignment, help_request = _locked_assignment(assignment_id)
    if assignment.volunteer_id != volunteer.pk:
        raise PermissionDenied
    return assignment, help_request


def _explain_not_proposed(assignment: Assignment) -> TaskActionError:
    if assignment.status == AssignmentStatus.EXPIRED:
        return TaskActionError(_("This proposal expired; we offered the task to someone else."))
    if assignment.status == AssignmentStatus.CANCELLED:
        return TaskActionError(_("This request was cancelled; there is nothing to do any more."))
    return TaskActionError(
        _("You already answered this proposal (%(status)s).") % {"status": assignment.get_status_display()}
    )


def assignment_accept(*, assignment: Assignment, volunteer: User) -> Assignment:
    """The volunteer takes the task: the requester learns who is coming."""
    with transaction.atomic():
        assignment, help_request = _own_assignment(assignment.pk, volunteer)
        overdue = assignment.status == AssignmentStatus.PROPOSED and assignment.expires_at <= timezone.now()
        if overdue:
            # The expiry is true whatever the volunteer wanted: commit it, then say so.
            _expire(assignment, help_request)
        elif assignment.status != AssignmentStatus.PROPOSED:
            raise _explain_not_proposed(assignment)
        else:
            _set_assignment_status(assignment, AssignmentStatus.ACCEPTED, actor=volunteer)
            _set_request_status(help_request, RequestStatus.ACCEPTED, actor=volunteer, assignment=assignment)
            _publish(help_request, "accepted", [volunteer.pk])
    if overdue:
        raise _explain_not_proposed(assignment)
    return assignment


@transaction.atomic
def assignment_decline(*, assignment: Assignment, volunteer: User, reason: str = "") -> Assignment:
    """The volunteer says no: the request is open again and matched without them."""
    assignment, help_request = _own_assignment(assignment.pk, volunteer)
    if assignment.status != AssignmentStatus.PROPOSED:
        raise _explain_not_proposed(assignment)
    assignment.decline_reason = reason[:255]
    _set_assignment_status(assignment, AssignmentStatus.DECLINED, actor=volunteer, reason=reason)
    _set_request_status(
        help_request, RequestStatus.OPEN, actor=volunteer, reason="declined", assignment=assignment
    )
    _publish(help_request, "declined", [volunteer.pk])
    schedule_matching(help_request.community_id)
    return assignment


@transaction.atomic
def assignment_complete(*, assignment: Assignment, volunteer: User) -> Assignment:
    """The volunteer marks the task done."""
    assignment, help_request = _own_assignment(assignment.pk, volunteer)
    if assignment.status != AssignmentStatus.ACCEPTED:
        if assignment.status == AssignmentStatus.DONE:
            raise TaskActionError(_("This task is already marked as done. Thank you!"))
        raise TaskActionError(_("Only a task you accepted can be marked as done."))
    _set_assignment_status(assignment, AssignmentStatus.DONE, actor=volunteer)
    _set_request_status(help_request, RequestStatus.DONE, actor=volunteer, assignment=assignment)
    _publish(help_request, "done", [volunteer.pk])
    return assignment


def _expire(assignment: Assignment, help_request: HelpRequest) -> None:
    _set_assignment_status(assignment, AssignmentStatus.EXPIRED, actor=None, reason="no answer in time")
    _set_request_status(help_request, RequestStatus.OPEN, actor=None, reason="expired", assignment=assignment)
    _publish(help_request, "expired", [assignment.volunteer_id])
    schedule_matching(help_request.community_id)


@transaction.atomic
def assignment_expire(*, assignment: Assignment, now: dt.datetime | None = None) -> bool:
    """Expire a proposal left unanswered past its deadline; False if it was answered."""
    assignment, help_request = _locked_assignment(assignment.pk)
    if assignment.status != AssignmentStatus.PROPOSED or assignment.expires_at > (now or timezone.now()):
        return False
    _expire(assignment, help_request)
    return True


def expire_overdue_proposals(*, now: dt.datetime | None = None) -> int:
    """Expire every overdue proposal, each in its own transaction; returns how many."""
    now = now or timezone.now()
    overdue = Assignment.objects.filter(status=AssignmentStatus.PROPOSED, expires_at__lte=now)
    return sum(assignment_expire(assignment=assignment, now=now) for assignment in overdue)


def assignments_propose_batch(
    *, proposals: list[tuple[HelpRequest, int, float]], actor: User | None = None, reason: str = "matching"
) -> list[Assignment]:
    """Propose many open requests at once: (locked request, volunteer id, km) each.

    For matching runs, inside the caller's transaction, with the requests already locked
    by `select_for_update`: a constant number of queries whatever the batch size.
    """
    for help_request, _volunteer_id, _km in proposals:
        check_request_transition(help_request.status, RequestStatus.PROPOSED)
    now = timezone.now()
    expires_at = now + dt.timedelta(hours=settings.PROPOSAL_EXPIRY_HOURS)
    assignments = Assignment.objects.bulk_create(
        Assignment(help_request=help_request, volunteer_id=volunteer_id, km=km, expires_at=expires_at)
        for help_request, volunteer_id, km in proposals
    )
    changes = []
    for assignment, (help_request, _volunteer_id, _km) in zip(assignments, proposals, strict=True):
        changes.append(
            StatusChange(
                help_request=help_request,
                assignment=assignment,
                subject=StatusChange.Subject.ASSIGNMENT,
                actor=actor,
                to_status=AssignmentStatus.PROPOSED,
                reason=reason,
            )
        )
        changes.append(
            StatusChange(
                help_request=help_request,
                assignment=assignment,
                subject=StatusChange.Subject.REQUEST,
                actor=actor,
                from_status=help_request.status,
                to_status=RequestStatus.PROPOSED,
                reason=reason,
            )
        )
        help_request.status = RequestStatus.PROPOSED
        help_request.unassigned_reason = ""
        help_request.updated_at = now
    StatusChange.objects.bulk_create(changes)
    HelpRequest.objects.bulk_update(
        [request for request, _v, _k in proposals], ["status", "unassigned_reason", "updated_at"]
    )
    volunteers = User.objects.in_bulk({volunteer_id for _request, volunteer_id, _km in proposals})
    emails = []
    for assignment, (help_request, volunteer_id, _km) in zip(assignments, proposals, strict=True):
        emails += task_emails(
            help_request=help_request,
            change="proposed",
            volunteers=[volunteers[volunteer_id]],
            assignment=assignment,
        )
        _announce(help_request, "proposed", [volunteer_id])
    queue_emails(emails)
    return assignments
