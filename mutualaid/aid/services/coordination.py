"""What coordinators do beside matching: give a task to a chosen volunteer or take it
back, call callers back, attach a phoned-in request to an account, message volunteers."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from geopy.distance import great_circle

from matching.scheduling import schedule_matching
from mutualaid.accounts.models import User
from mutualaid.aid import selectors
from mutualaid.aid.models import (
    Assignment,
    Category,
    Community,
    CoordinatorMessage,
    HelpRequest,
    StatusChange,
    VolunteerOffer,
)
from mutualaid.aid.services._records import (
    TaskActionError,
    announce,
    locked_assignment,
    locked_request,
    publish,
    require_coordinator,
    set_assignment_status,
    set_request_status,
)
from mutualaid.aid.services.assignments import assignment_propose, release
from mutualaid.aid.services.audit import audit
from mutualaid.aid.states import LIVE_ASSIGNMENT_STATUSES, AssignmentStatus, RequestStatus
from notifications.emails import queue_emails
from notifications.events import publish_community_change
from notifications.models import OutgoingMessage


def _override_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say why: the record keeps who overrode matching and why.")})
    return f"{StatusChange.COORDINATOR_PREFIX}{reason}"[:255]


@transaction.atomic
def assignment_assign_by_coordinator(
    *,
    help_request: HelpRequest,
    volunteer: User,
    coordinator: User,
    reason: str,
    agreed_by_phone: bool = False,
) -> Assignment:
    """A coordinator gives an open request to a chosen volunteer (recorded with why).

    With `agreed_by_phone` the volunteer already said yes on the phone, so the task is
    accepted at once; otherwise it waits in their inbox like any proposal.
    """
    require_coordinator(coordinator, help_request.community_id)
    why = _override_reason(reason)
    help_request = locked_request(help_request.pk)
    # Lock order everywhere: request, then assignment, then offer; the offer's lock makes
    # concurrent overrides for one volunteer count their tasks one after the other.
    offer = (
        VolunteerOffer.objects.select_for_update()
        .filter(volunteer=volunteer, community_id=help_request.community_id)
        .first()
    )
    if offer is None:
        raise ValidationError({"volunteer": _("Choose a volunteer of this community.")})
    if help_request.status != RequestStatus.OPEN:
        raise TaskActionError(_("Unassign the current volunteer first; only an open request can be given."))
    carrying = Assignment.objects.filter(volunteer=volunteer, status__in=LIVE_ASSIGNMENT_STATUSES).count()
    if carrying >= offer.capacity:
        raise TaskActionError(
            ngettext(
                "%(name)s already carries %(count)s task, their maximum.",
                "%(name)s already carries %(count)s tasks, their maximum.",
                carrying,
            )
            % {"name": volunteer.display_name, "count": carrying}
        )
    km = great_circle((help_request.latitude, help_request.longitude), (offer.latitude, offer.longitude)).km
    assignment = assignment_propose(
        help_request=help_request, volunteer=volunteer, km=round(km, 3), actor=coordinator, reason=why
    )
    audit(
        actor=coordinator,
        action="assign",
        subject=help_request,
        before={"status": RequestStatus.OPEN},
        after={"volunteer": volunteer.pk, "agreed_by_phone": agreed_by_phone, "reason": reason.strip()},
    )
    if agreed_by_phone:
        help_request.refresh_from_db()
        set_assignment_status(assignment, AssignmentStatus.ACCEPTED, actor=coordinator, reason=why)
        set_request_status(help_request, RequestStatus.ACCEPTED, actor=coordinator, assignment=assignment)
        publish(help_request, "accepted", [volunteer.pk])
    return assignment


@transaction.atomic
def assignment_unassign(*, assignment: Assignment, coordinator: User, reason: str) -> Assignment:
    """A coordinator takes a task back from a volunteer; it is matched again without them."""
    assignment, help_request = locked_assignment(assignment.pk)
    require_coordinator(coordinator, help_request.community_id)
    why = _override_reason(reason)
    if assignment.status not in LIVE_ASSIGNMENT_STATUSES:
        raise TaskActionError(_("This volunteer no longer holds the task."))
    audit(
        actor=coordinator,
        action="unassign",
        subject=help_request,
        before={"status": help_request.status, "volunteer": assignment.volunteer_id},
        after={"status": RequestStatus.OPEN, "reason": reason.strip()},
    )
    release(assignment, help_request, actor=coordinator, reason=why, change="unassigned")
    return assignment


@transaction.atomic
def help_request_mark_called_back(*, help_request: HelpRequest, coordinator: User) -> HelpRequest:
    """The coordinator has told the caller the request's current state."""
    help_request = locked_request(help_request.pk)
    require_coordinator(coordinator, help_request.community_id)
    audit(
        actor=coordinator,
        action="called_back",
        subject=help_request,
        before={"called_back_status": help_request.called_back_status},
        after={"called_back_status": help_request.status},
    )
    help_request.called_back_status = help_request.status
    help_request.save(update_fields=["called_back_status"])
    publish_community_change(community_id=help_request.community_id, change="called_back")
    return help_request


@transaction.atomic
def help_request_attach_to_account(
    *, help_request: HelpRequest, person: User, coordinator: User
) -> HelpRequest:
    """Give a phoned-in request to the account its caller has since created."""
    help_request = locked_request(help_request.pk)
    require_coordinator(coordinator, help_request.community_id)
    if help_request.requester_id is not None:
        raise TaskActionError(_("This request already belongs to an account."))
    if person.community_id != help_request.community_id:
        raise ValidationError({"person": _("Choose someone of this community.")})
    audit(
        actor=coordinator,
        action="attach_to_account",
        subject=help_request,
        before={"requester": None},
        after={"requester": person.pk},
    )
    help_request.requester = person
    help_request.save(update_fields=["requester", "updated_at"])
    announce(help_request, "attached", [])  # the new requester's pages and the dashboard
    return help_request


@transaction.atomic
def coordinator_message_send(
    *,
    coordinator: User,
    community: Community,
    subject: str,
    body: str,
    volunteer: User | None = None,
    skill: Category | None = None,
    neighbourhood: str = "",
) -> CoordinatorMessage:
    """E-mail one volunteer or a group (skill and/or area), through the outbox; logged."""
    require_coordinator(coordinator, community.pk)
    recipients = list(
        selectors.volunteers_for_message(
            community=community, volunteer=volunteer, skill=skill, neighbourhood=neighbourhood
        )
    )
    if not recipients:
        raise ValidationError(
            {"skill": _("Nobody matches: no volunteer with an e-mail address in this group.")}
        )
    queue_emails(
        [
            OutgoingMessage(recipient=person, to_address=person.email, subject=subject, body=body)
            for person in recipients
        ]
    )
    message = CoordinatorMessage.objects.create(
        community=community,
        sender=coordinator,
        subject=subject,
        body=body,
        volunteer=volunteer,
        skill=skill,
        neighbourhood=neighbourhood,
        recipients=len(recipients),
    )
    # The message is referred to, not copied: the append-only log keeps no free text that
    # the retention purge could not forget (the message itself is purged with the rest).
    audit(
        actor=coordinator,
        action="message",
        subject=message,
        after={
            "recipients": len(recipients),
            "volunteer": getattr(volunteer, "pk", None),
            "skill": getattr(skill, "slug", ""),
            "area": neighbourhood,
        },
    )
    return message


@transaction.atomic
def matching_run_now(*, community: Community, coordinator: User) -> None:
    """A coordinator's "Run matching now": the run is due at once and recorded as theirs."""
    require_coordinator(coordinator, community.pk)
    schedule_matching(community.pk, delay_seconds=0, requested_by_id=coordinator.pk)
    audit(actor=coordinator, community_id=community.pk, action="match_now")
