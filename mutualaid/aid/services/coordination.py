"""What coordinators do beside matching: give a task to a chosen volunteer or take it
back, hold a request away from matching while they work on it, call callers back, attach
a phoned-in request to an account, message volunteers."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import time_format
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
    vetted_volunteer_ids,
)
from mutualaid.aid.services._records import (
    TaskActionError,
    announce,
    locked_assignment,
    locked_request,
    publish,
    require_coordinator,
    set_assignment_status,
    settle_request_status,
)
from mutualaid.aid.services.assignments import assignment_propose, has_open_place, release
from mutualaid.aid.services.audit import audit
from mutualaid.aid.states import (
    FINISHED_REQUEST_STATUSES,
    LIVE_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    RequestStatus,
)
from notifications.dispatch import email_people
from notifications.events import publish_community_change
from notifications.kinds import ChangeKind


def _override_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say why: the record keeps who overrode matching and why.")})
    return f"{StatusChange.COORDINATOR_PREFIX}{reason}"[:255]


def hold_minutes() -> int:
    """How long a coordinator's hold lasts unless they say otherwise (a setting)."""
    return settings.COORDINATOR_HOLD_MINUTES


def _give(
    help_request: HelpRequest, volunteer: User, *, coordinator: User, why: str, agreed_by_phone: bool
) -> Assignment:
    """Give the open, locked request to the volunteer; the hold, if any, has served its turn."""
    # Lock order everywhere: request, then assignment, then offer; the offer's lock makes
    # concurrent overrides for one volunteer count their tasks one after the other.
    offer = (
        VolunteerOffer.objects.select_for_update()
        .filter(volunteer=volunteer, community_id=help_request.community_id)
        .first()
    )
    if offer is None:
        raise ValidationError({"volunteer": _("Choose a volunteer of this community.")})
    if offer.is_suspended:
        raise ValidationError(
            {
                "volunteer": _("%(name)s is suspended: lift the suspension first.")
                % {"name": volunteer.display_name}
            }
        )
    if not has_open_place(help_request):
        if help_request.people_needed > 1:
            raise TaskActionError(_("Every place of this task is taken: unassign a volunteer first."))
        raise TaskActionError(_("Unassign the current volunteer first; only an open request can be given."))
    category = help_request.category
    if category.requires_vetting and not vetted_volunteer_ids([volunteer.pk], timezone.localdate()):
        # Matching would never propose them; a coordinator's hand may not either.
        raise ValidationError(
            {
                "volunteer": _(
                    "%(name)s is not vetted, and %(category)s needs a vetted volunteer: record their "
                    "ID and a valid criminal-record extract first, or choose someone vetted."
                )
                % {"name": volunteer.display_name, "category": category.label}
            }
        )
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
    help_request.refresh_from_db()
    if help_request.held_until is not None:
        _set_hold(help_request, until=None, by=None)
    if agreed_by_phone:
        set_assignment_status(assignment, AssignmentStatus.ACCEPTED, actor=coordinator, reason=why)
        settle_request_status(help_request, actor=coordinator, assignment=assignment)
        publish(help_request, ChangeKind.ACCEPTED, [volunteer.pk])
    return assignment


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
    accepted at once; otherwise it waits in their inbox like any proposal. Giving the task
    releases the request's hold.
    """
    require_coordinator(coordinator, help_request.community_id)
    why = _override_reason(reason)
    help_request = locked_request(help_request.pk)
    assignment = _give(
        help_request, volunteer, coordinator=coordinator, why=why, agreed_by_phone=agreed_by_phone
    )
    audit(
        actor=coordinator,
        action="assign",
        subject=help_request,
        before={"status": RequestStatus.OPEN},
        after={"volunteer": volunteer.pk, "agreed_by_phone": agreed_by_phone, "reason": reason.strip()},
    )
    return assignment


@transaction.atomic
def assignment_reassign_by_coordinator(
    *,
    assignment: Assignment,
    volunteer: User,
    coordinator: User,
    reason: str,
    agreed_by_phone: bool = False,
) -> Assignment:
    """Give to another volunteer instead: take a live task (proposed or accepted) from its
    volunteer and give it to the chosen one, in one transaction under the request's lock, so
    matching can never propose the request in between. Returns the new assignment.
    """
    assignment, help_request = locked_assignment(assignment.pk)
    require_coordinator(coordinator, help_request.community_id)
    why = _override_reason(reason)
    if assignment.status not in LIVE_ASSIGNMENT_STATUSES:
        raise TaskActionError(_("This volunteer no longer holds the task."))
    if assignment.volunteer_id == volunteer.pk:
        raise ValidationError(
            {
                "volunteer": _("%(name)s already has this task: choose another volunteer.")
                % {"name": volunteer.display_name}
            }
        )
    before = {"status": help_request.status, "volunteer": assignment.volunteer_id}
    release(assignment, help_request, actor=coordinator, reason=why, change=ChangeKind.UNASSIGNED)
    if help_request.people_needed == 1:
        # Asked of several at once (urgent): given to one person, the others' asks end too.
        for other in help_request.assignments.select_for_update().filter(status=AssignmentStatus.PROPOSED):
            release(other, help_request, actor=coordinator, reason=why, change=ChangeKind.UNASSIGNED)
    given = _give(help_request, volunteer, coordinator=coordinator, why=why, agreed_by_phone=agreed_by_phone)
    audit(
        actor=coordinator,
        action="reassign",
        subject=help_request,
        before=before,
        after={"volunteer": volunteer.pk, "agreed_by_phone": agreed_by_phone, "reason": reason.strip()},
    )
    return given


@transaction.atomic
def assignment_unassign(*, assignment: Assignment, coordinator: User, reason: str) -> Assignment:
    """A coordinator takes a task back from a volunteer; it is matched again without them,
    once the hold this puts on the request (so the coordinator can pick someone) is over."""
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
    # The hold first: the run that `release` schedules must find the request held.
    _hold(help_request, coordinator, minutes=hold_minutes())
    release(assignment, help_request, actor=coordinator, reason=why, change=ChangeKind.UNASSIGNED)
    return assignment


def _set_hold(help_request: HelpRequest, *, until: dt.datetime | None, by: User | None) -> None:
    help_request.held_until, help_request.held_by = until, by
    help_request.save(update_fields=["held_until", "held_by", "updated_at"])


def _hold(help_request: HelpRequest, coordinator: User, *, minutes: int) -> None:
    """Hold the locked request for `minutes` from now (audited)."""
    if minutes <= 0:
        raise ValidationError({"minutes": _("Hold a request for at least a minute.")})
    until = timezone.now() + dt.timedelta(minutes=minutes)
    audit(
        actor=coordinator,
        action="hold",
        subject=help_request,
        before={"held_until": help_request.held_until.isoformat() if help_request.is_held else None},
        after={"held_until": until.isoformat(), "minutes": minutes},
    )
    _set_hold(help_request, until=until, by=coordinator)


@transaction.atomic
def help_request_hold(
    *, help_request: HelpRequest, coordinator: User, minutes: int | None = None
) -> HelpRequest:
    """Keep matching away from a request while a coordinator works on it.

    The hold lapses by itself after `minutes` (the COORDINATOR_HOLD_MINUTES setting by
    default): matching simply counts it no longer. Holding again renews one's own hold;
    another coordinator's hold is theirs until it lapses or is released.
    """
    help_request = locked_request(help_request.pk)
    require_coordinator(coordinator, help_request.community_id)
    if help_request.status in FINISHED_REQUEST_STATUSES:
        raise TaskActionError(_("This request is finished; there is nothing to hold."))
    if help_request.is_held and help_request.held_by_id not in (None, coordinator.pk):
        raise TaskActionError(
            _("%(name)s holds this request until %(time)s.")
            % {
                "name": help_request.held_by.display_name,
                "time": time_format(timezone.localtime(help_request.held_until), "H:i"),
            }
        )
    _hold(help_request, coordinator, minutes=hold_minutes() if minutes is None else minutes)
    publish_community_change(community_id=help_request.community_id, change=ChangeKind.HELD)
    return help_request


@transaction.atomic
def help_request_release_hold(*, help_request: HelpRequest, coordinator: User) -> HelpRequest:
    """End a hold (anyone coordinating the community may): matching looks at the request again."""
    help_request = locked_request(help_request.pk)
    require_coordinator(coordinator, help_request.community_id)
    if not help_request.is_held:
        raise TaskActionError(_("This request is not on hold."))
    audit(
        actor=coordinator,
        action="release_hold",
        subject=help_request,
        before={"held_until": help_request.held_until.isoformat(), "held_by": help_request.held_by_id},
    )
    _set_hold(help_request, until=None, by=None)
    publish_community_change(community_id=help_request.community_id, change=ChangeKind.HOLD_RELEASED)
    if help_request.status == RequestStatus.OPEN:
        schedule_matching(help_request.community_id)
    return help_request


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
    # The call is made: whoever had taken it has it no more.
    help_request.call_kind, help_request.call_taken_by = "", None
    help_request.call_taken_at = help_request.call_taken_until = None
    help_request.save(
        update_fields=[
            "called_back_status",
            "call_kind",
            "call_taken_by",
            "call_taken_at",
            "call_taken_until",
        ]
    )
    publish_community_change(community_id=help_request.community_id, change=ChangeKind.CALLED_BACK)
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
    announce(help_request, ChangeKind.ATTACHED, [])  # the new requester's pages and the dashboard
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
    email_people(recipients, subject=subject, body=body, community_id=community.pk)
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
