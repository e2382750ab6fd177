"""What every service shares: row locks, status records, access checks and publishing."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from mutualaid.accounts.models import User
from mutualaid.aid.models import Assignment, HelpRequest, StatusChange
from mutualaid.aid.states import (
    LIVE_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    RequestStatus,
    check_assignment_transition,
    check_request_transition,
)
from notifications.dispatch import task_changed
from notifications.events import task_change
from notifications.kinds import ChangeKind


class TaskActionError(Exception):
    """An action that cannot be done now, with a message to show the person who tried."""


def set_request_status(
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


def set_assignment_status(
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


# A place whose volunteer already did their part (the others not yet) stays filled.
PLACE_HOLDING_STATUSES = (*LIVE_ASSIGNMENT_STATUSES, AssignmentStatus.DONE)


def places_taken(help_request: HelpRequest) -> tuple[int, int]:
    """(filled, taken) places of the request: accepted (or done) by a volunteer, and those
    plus the ones asked of a volunteer who has not answered yet."""
    statuses = list(
        Assignment.objects.filter(help_request=help_request, status__in=PLACE_HOLDING_STATUSES).values_list(
            "status", flat=True
        )
    )
    return len(statuses) - statuses.count(AssignmentStatus.PROPOSED), len(statuses)


def status_of_places(help_request: HelpRequest) -> str:
    """What the request's status is, given its places: open while none is live, accepted
    once every place is accepted, proposed in between (for one volunteer: exactly as before)."""
    accepted, live = places_taken(help_request)
    if live == 0:
        return RequestStatus.OPEN
    if accepted >= help_request.people_needed:
        return RequestStatus.ACCEPTED
    return RequestStatus.PROPOSED


def settle_request_status(
    help_request: HelpRequest, *, actor: User | None, reason: str = "", assignment: Assignment | None = None
) -> bool:
    """Move the locked request to the status its places give it (recorded); False when
    it stays (one place of several changed, the request's status did not)."""
    to_status = status_of_places(help_request)
    if to_status == help_request.status:
        return False
    set_request_status(help_request, to_status, actor=actor, reason=reason, assignment=assignment)
    return True


def change_of(help_request: HelpRequest, change: str, volunteer_ids: list[int]) -> tuple[list[str], dict]:
    return task_change(
        request_id=help_request.pk,
        community_id=help_request.community_id,
        requester_id=help_request.requester_id,
        volunteer_ids=volunteer_ids,
        request_status=help_request.status,
        change=change,
    )


def announce(help_request: HelpRequest, change: ChangeKind, volunteer_ids: list[int]) -> None:
    """Say what happened to a task; `notifications` decides who hears it on which channel."""
    task_changed(help_request, change, volunteer_ids)


def publish(
    help_request: HelpRequest,
    change: ChangeKind,
    volunteer_ids: Iterable[int] = (),
    *,
    assignment: Assignment | None = None,
) -> None:
    """Say what happened to a task (with the proposal, for a proposal's notices)."""
    task_changed(help_request, change, volunteer_ids, assignment=assignment)


def tell_the_team(help_request: HelpRequest, *, besides: int) -> None:
    """A task for several volunteers: the others holding a place see the change live (who
    else is coming, how many are found)."""
    if help_request.people_needed < 2:
        return
    others = (
        Assignment.objects.filter(help_request=help_request, status__in=LIVE_ASSIGNMENT_STATUSES)
        .exclude(volunteer_id=besides)
        .values_list("volunteer_id", flat=True)
    )
    if others:
        publish(help_request, ChangeKind.TEAM, list(others))


def locked_request(help_request_id: int) -> HelpRequest:
    return HelpRequest.objects.select_for_update().get(pk=help_request_id)


def locked_assignment(assignment_id: int) -> tuple[Assignment, HelpRequest]:
    # Lock the request first, always in this order, so two actions on one task queue up.
    request_id = Assignment.objects.values_list("help_request_id", flat=True).get(pk=assignment_id)
    help_request = locked_request(request_id)
    assignment = Assignment.objects.select_for_update().get(pk=assignment_id)
    return assignment, help_request


def coordinates(user: User, community_id: int) -> bool:
    return user.is_superuser or (user.is_coordinator and user.community_id == community_id)


def require_coordinator(coordinator: User, community_id: int) -> None:
    if not coordinates(coordinator, community_id):
        raise PermissionDenied
