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
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from matching.scheduling import schedule_matching
from mutualaid.accounts.models import User
from mutualaid.aid.models import (
    Assignment,
    AuditEntry,
    Category,
    Community,
    CoordinatorMessage,
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
from notifications.events import publish_community_change, publish_task_changes, task_change
from notifications.models import OutgoingEmail

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


def _change(help_request: HelpRequest, change: str, volunteer_ids: list[int]):
    return task_change(
        request_id=help_request.pk,
        community_id=help_request.community_id,
        requester_id=help_request.requester_id,
        volunteer_ids=volunteer_ids,
        request_status=help_request.status,
        change=change,
    )


def _announce(help_request: HelpRequest, change: str, volunteer_ids: list[int]) -> None:
    publish_task_changes([_change(help_request, change, volunteer_ids)])


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
    contact_name: str = "",
    contact_phone: str = "",
    language_needed: str = "",
) -> HelpRequest:
    """File a request and ask matching to look for a volunteer.

    A coordinator filing for someone who phoned in passes `requester=None` and the
    caller's name and phone.
    """
    if requester is None and not _coordinates(created_by, community.pk):
        raise PermissionDenied
    if requester is None and not (contact_name.strip() and contact_phone.strip()):
        raise ValidationError({"contact_name": _("Give the name and phone of the person who called.")})
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
        contact_name=contact_name.strip(),
        contact_phone=contact_phone.strip(),
        language_needed=language_needed,
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
    if requester is None:
        audit(
            actor=created_by,
            community_id=community.pk,
            action="phone_intake",
            subject=f"help_request:{help_request.pk}",
            after={"category": category.slug, "urgency": urgency},
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
    if help_request.requester_id != actor.pk:
        audit(
            actor=actor,
            community_id=help_request.community_id,
            action="cancel",
            subject=f"help_request:{help_request.pk}",
            before={"status": help_request.status},
            after={"status": RequestStatus.CANCELLED, "reason": reason},
        )
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
    languages: Iterable[str] = (),
) -> VolunteerOffer:
    """Create or update a volunteer's offer; matching looks again for their community."""
    skills = list(skills)
    if any(skill.community_id != community.pk for skill in skills):
        raise ValidationError({"skills": _("Choose categories of your own community.")})
    slots = sorted({int(slot) for slot in availability})
    if any(slot < 0 or slot > 20 for slot in slots):
        raise ValidationError({"availability": _("Pick days and parts of the day from the grid.")})
    earlier_community_ids = set(
        VolunteerOffer.objects.filter(volunteer=volunteer).values_list("community_id", flat=True)
    )
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
            "languages": sorted(set(languages)),
        },
    )
    offer.skills.set(skills)
    if volunteer.community_id is None:
        volunteer.community = community
        volunteer.save(update_fields=["community"])
    schedule_matching(community.pk)
    # Dashboards count the volunteers available: the community left, if any, and this one.
    for community_id in sorted(earlier_community_ids | {community.pk}):
        publish_community_change(community_id=community_id, change="volunteers")
    return offer


@transaction.atomic
def volunteer_offer_set_paused(*, offer: VolunteerOffer, paused: bool) -> VolunteerOffer:
    """Pause (no new proposals; those already made stay) or resume an offer."""
    offer.is_paused = paused
    offer.save(update_fields=["is_paused", "updated_at"])
    if not paused:
        schedule_matching(offer.community_id)
    publish_community_change(community_id=offer.community_id, change="volunteers")
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
    # The request's own record (which its citizen reads) carries no free text: a coordinator's
    # "why this volunteer" may name the volunteer or the citizen's circumstances, and stays
    # on the assignment's record, which coordinators read.
    _set_request_status(help_request, RequestStatus.PROPOSED, actor=actor, assignment=assignment)
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
def assignment_withdraw(*, assignment: Assignment, volunteer: User, reason: str = "") -> Assignment:
    """The volunteer gives back a task (e.g. they leave): it is matched again without them."""
    assignment, help_request = _own_assignment(assignment.pk, volunteer)
    if assignment.status not in LIVE_ASSIGNMENT_STATUSES:
        raise _explain_not_proposed(assignment)
    # The citizen reads a system reason ("account deleted"), never the volunteer's own words.
    public = reason if reason in StatusChange.SYSTEM_REASONS else ""
    _release(
        assignment, help_request, actor=volunteer, reason=reason, request_reason=public, change="withdrawn"
    )
    return assignment


def _release(
    assignment: Assignment,
    help_request: HelpRequest,
    *,
    actor: User,
    reason: str,
    request_reason: str = "",
    change: str,
) -> None:
    """Take a live task back from its volunteer: the request is open and matched again.

    `reason` goes on the assignment's record (coordinators read it); the request's record,
    which its citizen reads, gets only `request_reason`: why a coordinator took a task back
    ("fell ill") is the volunteer's business, not the citizen's.
    """
    _set_assignment_status(assignment, AssignmentStatus.CANCELLED, actor=actor, reason=reason)
    _set_request_status(
        help_request, RequestStatus.OPEN, actor=actor, reason=request_reason, assignment=assignment
    )
    _publish(help_request, change, [assignment.volunteer_id])
    schedule_matching(help_request.community_id)


@transaction.atomic
def assignment_complete(
    *, assignment: Assignment, volunteer: User, hours_spent: float | None = None
) -> Assignment:
    """The volunteer marks the task done, optionally with the hours it took."""
    if hours_spent is not None and not 0 < hours_spent <= 24:
        raise ValidationError({"hours_spent": _("Give the hours as a number between 0 and 24.")})
    assignment, help_request = _own_assignment(assignment.pk, volunteer)
    if assignment.status != AssignmentStatus.ACCEPTED:
        if assignment.status == AssignmentStatus.DONE:
            raise TaskActionError(_("This task is already marked as done. Thank you!"))
        raise TaskActionError(_("Only a task you accepted can be marked as done."))
    assignment.hours_spent = hours_spent
    assignment.save(update_fields=["hours_spent"])
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
    emails, live_events = [], []
    for assignment, (help_request, volunteer_id, _km) in zip(assignments, proposals, strict=True):
        emails += task_emails(
            help_request=help_request,
            change="proposed",
            volunteers=[volunteers[volunteer_id]],
            assignment=assignment,
        )
        live_events.append(_change(help_request, "proposed", [volunteer_id]))
    queue_emails(emails)
    publish_task_changes(live_events)  # one send after the commit, not one per proposal
    return assignments


def help_requests_set_waiting_reasons(*, reasons: dict[HelpRequest, str]) -> list[HelpRequest]:
    """Store why open requests wait (matching's reasons); tell whoever sees a reason change.

    For matching runs, inside the caller's transaction, with the requests already locked.
    Returns the requests whose reason changed.
    """
    changed = []
    for help_request, reason in reasons.items():
        if help_request.unassigned_reason != reason:
            help_request.unassigned_reason = reason
            changed.append(help_request)
    HelpRequest.objects.bulk_update(changed, ["unassigned_reason"])
    publish_task_changes([_change(help_request, "waiting", []) for help_request in changed])
    return changed


def audit(
    *, actor: User | None, community_id: int | None, action: str, subject: str = "", before=None, after=None
) -> AuditEntry:
    """Append to the audit log (never updated or deleted: there is no service for that)."""
    return AuditEntry.objects.create(
        actor=actor,
        community_id=community_id,
        action=action,
        subject=subject,
        before=before or {},
        after=after or {},
    )


def _require_coordinator(coordinator: User, community_id: int) -> None:
    if not _coordinates(coordinator, community_id):
        raise PermissionDenied


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
    _require_coordinator(coordinator, help_request.community_id)
    why = _override_reason(reason)
    help_request = _locked_request(help_request.pk)
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
    from geopy.distance import great_circle

    km = great_circle((help_request.latitude, help_request.longitude), (offer.latitude, offer.longitude)).km
    assignment = assignment_propose(
        help_request=help_request, volunteer=volunteer, km=round(km, 3), actor=coordinator, reason=why
    )
    audit(
        actor=coordinator,
        community_id=help_request.community_id,
        action="assign",
        subject=f"help_request:{help_request.pk}",
        before={"status": RequestStatus.OPEN},
        after={"volunteer": volunteer.pk, "agreed_by_phone": agreed_by_phone, "reason": reason.strip()},
    )
    if agreed_by_phone:
        help_request.refresh_from_db()
        _set_assignment_status(assignment, AssignmentStatus.ACCEPTED, actor=coordinator, reason=why)
        _set_request_status(help_request, RequestStatus.ACCEPTED, actor=coordinator, assignment=assignment)
        _publish(help_request, "accepted", [volunteer.pk])
    return assignment


@transaction.atomic
def assignment_unassign(*, assignment: Assignment, coordinator: User, reason: str) -> Assignment:
    """A coordinator takes a task back from a volunteer; it is matched again without them."""
    assignment, help_request = _locked_assignment(assignment.pk)
    _require_coordinator(coordinator, help_request.community_id)
    why = _override_reason(reason)
    if assignment.status not in LIVE_ASSIGNMENT_STATUSES:
        raise TaskActionError(_("This volunteer no longer holds the task."))
    audit(
        actor=coordinator,
        community_id=help_request.community_id,
        action="unassign",
        subject=f"help_request:{help_request.pk}",
        before={"status": help_request.status, "volunteer": assignment.volunteer_id},
        after={"status": RequestStatus.OPEN, "reason": reason.strip()},
    )
    _release(assignment, help_request, actor=coordinator, reason=why, change="unassigned")
    return assignment


@transaction.atomic
def help_request_mark_called_back(*, help_request: HelpRequest, coordinator: User) -> HelpRequest:
    """The coordinator has told the caller the request's current state."""
    help_request = _locked_request(help_request.pk)
    _require_coordinator(coordinator, help_request.community_id)
    audit(
        actor=coordinator,
        community_id=help_request.community_id,
        action="called_back",
        subject=f"help_request:{help_request.pk}",
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
    help_request = _locked_request(help_request.pk)
    _require_coordinator(coordinator, help_request.community_id)
    if help_request.requester_id is not None:
        raise TaskActionError(_("This request already belongs to an account."))
    if person.community_id != help_request.community_id:
        raise ValidationError({"person": _("Choose someone of this community.")})
    audit(
        actor=coordinator,
        community_id=help_request.community_id,
        action="attach_to_account",
        subject=f"help_request:{help_request.pk}",
        before={"requester": None},
        after={"requester": person.pk},
    )
    help_request.requester = person
    help_request.save(update_fields=["requester", "updated_at"])
    _announce(help_request, "attached", [])  # the new requester's pages and the dashboard
    return help_request


def volunteers_for_message(
    *,
    community: Community,
    volunteer: User | None = None,
    skill: Category | None = None,
    neighbourhood: str = "",
) -> QuerySet[User]:
    """Whom a coordinator's message reaches: one volunteer, or those with a skill in an area."""
    people = User.objects.filter(volunteer_offer__community=community, is_active=True).exclude(email="")
    if volunteer is not None:
        return people.filter(pk=volunteer.pk)
    if skill is not None:
        people = people.filter(volunteer_offer__skills=skill)
    if neighbourhood:
        people = people.filter(volunteer_offer__neighbourhood=neighbourhood)
    return people.distinct()


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
    _require_coordinator(coordinator, community.pk)
    recipients = list(
        volunteers_for_message(
            community=community, volunteer=volunteer, skill=skill, neighbourhood=neighbourhood
        )
    )
    if not recipients:
        raise ValidationError(
            {"skill": _("Nobody matches: no volunteer with an e-mail address in this group.")}
        )
    queue_emails(
        [
            OutgoingEmail(recipient=person, to_address=person.email, subject=subject, body=body)
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
        community_id=community.pk,
        action="message",
        subject=f"coordinator_message:{message.pk}",
        after={
            "recipients": len(recipients),
            "volunteer": getattr(volunteer, "pk", None),
            "skill": getattr(skill, "slug", ""),
            "area": neighbourhood,
        },
    )
    return message
