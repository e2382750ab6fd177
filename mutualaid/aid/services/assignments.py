"""Assignments: proposals, and what a volunteer does with them (accept, decline, give
back, complete), expiry, and the batch of proposals a matching run makes."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from matching.scheduling import schedule_matching
from mutualaid.accounts.models import User
from mutualaid.aid.models import (
    Assignment,
    HelpRequest,
    StatusChange,
    Urgency,
    VolunteerOffer,
    vetted_volunteer_ids,
)
from mutualaid.aid.services._records import (
    TaskActionError,
    locked_assignment,
    locked_request,
    places_taken,
    publish,
    set_assignment_status,
    set_request_status,
    settle_request_status,
    tell_the_team,
)
from mutualaid.aid.states import (
    LIVE_ASSIGNMENT_STATUSES,
    TAKEN_BY_ANOTHER,
    AssignmentStatus,
    InvalidTransition,
    RequestStatus,
    check_request_transition,
)
from notifications.dispatch import TaskChange, tasks_changed
from notifications.kinds import ChangeKind

# On the assignment's record (coordinators read it); the citizen's record says nothing.
GIVE_BACK_REASON = "can't any more"
# On the assignment's record (StatusChange.SYSTEM_REASONS): a vetted task, checks run out.
VETTING_LAPSED = "vetting lapsed"


def answer_time(help_request: HelpRequest) -> dt.timedelta:
    """How long a volunteer has to answer a proposal: shorter when the request is urgent."""
    if help_request.urgency == Urgency.TODAY:
        return dt.timedelta(hours=min(settings.PROPOSAL_EXPIRY_HOURS_URGENT, settings.PROPOSAL_EXPIRY_HOURS))
    return dt.timedelta(hours=settings.PROPOSAL_EXPIRY_HOURS)


@transaction.atomic
def assignment_propose(
    *, help_request: HelpRequest, volunteer: User, km: float, actor: User | None = None, reason: str = ""
) -> Assignment:
    """Propose an open request, or an open place of a partly staffed one, to a volunteer
    (a coordinator's choice, or a test's)."""
    help_request = locked_request(help_request.pk)
    if not has_open_place(help_request):
        raise InvalidTransition("help request", help_request.status, RequestStatus.PROPOSED)
    if help_request.assignments.filter(volunteer=volunteer, status__in=LIVE_ASSIGNMENT_STATUSES).exists():
        raise TaskActionError(
            _("%(name)s already has a place on this task.") % {"name": volunteer.display_name}
        )
    expires_at = timezone.now() + answer_time(help_request)
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
    settle_request_status(help_request, actor=actor, assignment=assignment)
    publish(help_request, ChangeKind.PROPOSED, [volunteer.pk], assignment=assignment)
    return assignment


def has_open_place(help_request: HelpRequest) -> bool:
    """Whether the locked request can take one more proposal: open, or partly staffed with
    a place no one holds or is asked for."""
    if help_request.status == RequestStatus.OPEN:
        return True
    if help_request.status != RequestStatus.PROPOSED or help_request.people_needed < 2:
        return False
    _accepted, live = places_taken(help_request)
    return live < help_request.people_needed


SUSPENDED_MESSAGE = gettext_lazy(
    "The coordinators of your community have suspended your volunteering for now, so you "
    "cannot take or answer tasks. Please contact them to talk about it."
)


def _own_assignment(
    assignment_id: int, volunteer: User, *, refuse_suspended: bool = True
) -> tuple[Assignment, HelpRequest]:
    """The volunteer's task, locked. Every volunteer action on a task (page, text message,
    API) comes through here; a suspended volunteer may only give a task back."""
    assignment, help_request = locked_assignment(assignment_id)
    if assignment.volunteer_id != volunteer.pk:
        raise PermissionDenied
    if (
        refuse_suspended
        and VolunteerOffer.objects.filter(volunteer=volunteer, suspended_at__isnull=False).exists()
    ):
        raise TaskActionError(str(SUSPENDED_MESSAGE))
    return assignment, help_request


def _explain_not_proposed(assignment: Assignment) -> TaskActionError:
    if assignment.status == AssignmentStatus.EXPIRED:
        if assignment.help_request.status == RequestStatus.EXPIRED:
            return TaskActionError(_("The time asked for has passed; this request is closed."))
        return TaskActionError(_("This proposal expired; we offered the task to someone else."))
    if assignment.status == AssignmentStatus.CANCELLED:
        if assignment.status_changes.filter(reason=TAKEN_BY_ANOTHER).exists():
            return TaskActionError(
                _("Another volunteer accepted this task first. Thank you for being ready to help!")
            )
        return TaskActionError(_("This request was cancelled; there is nothing to do any more."))
    return TaskActionError(
        _("You already answered this proposal (%(status)s).") % {"status": assignment.get_status_display()}
    )


def assignment_accept(*, assignment: Assignment, volunteer: User) -> Assignment:
    """The volunteer takes the task: the requester learns who is coming."""
    with transaction.atomic():
        assignment, help_request = _own_assignment(assignment.pk, volunteer)
        overdue = assignment.status == AssignmentStatus.PROPOSED and assignment.expires_at <= timezone.now()
        # Proposed while vetted, but the extract ran out since: the task goes to someone vetted.
        unvetted = (
            not overdue
            and assignment.status == AssignmentStatus.PROPOSED
            and help_request.category.requires_vetting
            and not vetted_volunteer_ids([volunteer.pk], timezone.localdate())
        )
        if overdue:
            # The expiry is true whatever the volunteer wanted: commit it, then say so.
            _expire(assignment, help_request)
        elif unvetted:
            release(
                assignment, help_request, actor=volunteer, reason=VETTING_LAPSED, change=ChangeKind.WITHDRAWN
            )
        elif assignment.status != AssignmentStatus.PROPOSED:
            raise _explain_not_proposed(assignment)
        else:
            set_assignment_status(assignment, AssignmentStatus.ACCEPTED, actor=volunteer)
            # Fully staffed only when this was the last place; else it stays proposed.
            settle_request_status(help_request, actor=volunteer, assignment=assignment)
            publish(help_request, ChangeKind.ACCEPTED, [volunteer.pk])
            withdraw_other_asks(help_request)
            tell_the_team(help_request, besides=volunteer.pk)
    if overdue:
        raise _explain_not_proposed(assignment)
    if unvetted:
        raise TaskActionError(
            _(
                "This help needs a vetted volunteer, and your checks are no longer valid: we offer "
                "it to someone else. Ask your coordinators to renew them."
            )
        )
    return assignment


def withdraw_other_asks(help_request: HelpRequest) -> list[int]:
    """Once every place of the locked request is filled, the proposals still waiting (an
    urgent request asked of several volunteers at once) are withdrawn, and their volunteers
    told at once; returns who was told."""
    if help_request.status != RequestStatus.ACCEPTED:
        return []
    waiting = list(help_request.assignments.select_for_update().filter(status=AssignmentStatus.PROPOSED))
    for pending in waiting:
        set_assignment_status(pending, AssignmentStatus.CANCELLED, actor=None, reason=TAKEN_BY_ANOTHER)
    told = [pending.volunteer_id for pending in waiting]
    if told:
        publish(help_request, ChangeKind.WITHDRAWN, told)
    return told


@transaction.atomic
def assignment_decline(*, assignment: Assignment, volunteer: User, reason: str = "") -> Assignment:
    """The volunteer says no: their place is open again and matched without them."""
    assignment, help_request = _own_assignment(assignment.pk, volunteer)
    if assignment.status != AssignmentStatus.PROPOSED:
        raise _explain_not_proposed(assignment)
    assignment.decline_reason = reason[:255]
    set_assignment_status(assignment, AssignmentStatus.DECLINED, actor=volunteer, reason=reason)
    settle_request_status(help_request, actor=volunteer, reason="declined", assignment=assignment)
    publish(help_request, ChangeKind.DECLINED, [volunteer.pk])
    schedule_matching(help_request.community_id)
    return assignment


@transaction.atomic
def assignment_withdraw(*, assignment: Assignment, volunteer: User, reason: str = "") -> Assignment:
    """The volunteer gives back a task (e.g. they leave): it is matched again without them."""
    assignment, help_request = _own_assignment(assignment.pk, volunteer, refuse_suspended=False)
    if assignment.status not in LIVE_ASSIGNMENT_STATUSES:
        raise _explain_not_proposed(assignment)
    # The citizen reads a system reason ("account deleted"), never the volunteer's own words.
    public = reason if reason in StatusChange.SYSTEM_REASONS else ""
    release(
        assignment,
        help_request,
        actor=volunteer,
        reason=reason,
        request_reason=public,
        change=ChangeKind.WITHDRAWN,
    )
    return assignment


@transaction.atomic
def assignment_give_back(*, assignment: Assignment, volunteer: User) -> Assignment:
    """ "I can't any more": the volunteer gives back a task they accepted (from its page or its
    reminder); it goes back to matching at once, without them."""
    assignment, help_request = _own_assignment(assignment.pk, volunteer, refuse_suspended=False)
    if assignment.status != AssignmentStatus.ACCEPTED:
        if assignment.status == AssignmentStatus.PROPOSED:
            raise TaskActionError(_("You have not accepted this task; decline it instead."))
        raise TaskActionError(
            _("This task is no longer yours to give back (%(status)s).")
            % {"status": assignment.get_status_display()}
        )
    release(assignment, help_request, actor=volunteer, reason=GIVE_BACK_REASON, change=ChangeKind.WITHDRAWN)
    return assignment


def release(
    assignment: Assignment,
    help_request: HelpRequest,
    *,
    actor: User,
    reason: str,
    request_reason: str = "",
    change: ChangeKind,
) -> None:
    """Take a live task back from its volunteer: their place is open and matched again.

    `reason` goes on the assignment's record (coordinators read it); the request's record,
    which its citizen reads, gets only `request_reason`: why a coordinator took a task back
    ("fell ill") is the volunteer's business, not the citizen's.
    """
    set_assignment_status(assignment, AssignmentStatus.CANCELLED, actor=actor, reason=reason)
    settle_request_status(help_request, actor=actor, reason=request_reason, assignment=assignment)
    publish(help_request, change, [assignment.volunteer_id])
    tell_the_team(help_request, besides=assignment.volunteer_id)
    schedule_matching(help_request.community_id)


@transaction.atomic
def assignment_complete(
    *, assignment: Assignment, volunteer: User, hours_spent: float | None = None
) -> Assignment:
    """The volunteer marks their part done, optionally with the hours it took; the request is
    done when everyone who accepted has (a place never filled is asked of no one more)."""
    if hours_spent is not None and not 0 < hours_spent <= 24:
        raise ValidationError({"hours_spent": _("Give the hours as a number between 0 and 24.")})
    assignment, help_request = _own_assignment(assignment.pk, volunteer)
    if assignment.status != AssignmentStatus.ACCEPTED:
        if assignment.status == AssignmentStatus.DONE:
            raise TaskActionError(_("This task is already marked as done. Thank you!"))
        raise TaskActionError(_("Only a task you accepted can be marked as done."))
    assignment.hours_spent = hours_spent
    assignment.save(update_fields=["hours_spent"])
    set_assignment_status(assignment, AssignmentStatus.DONE, actor=volunteer)
    still_helping = help_request.assignments.filter(status=AssignmentStatus.ACCEPTED).exists()
    if not still_helping:
        told = [volunteer.pk]
        for pending in help_request.assignments.select_for_update().filter(status=AssignmentStatus.PROPOSED):
            set_assignment_status(pending, AssignmentStatus.CANCELLED, actor=None, reason="done")
            told.append(pending.volunteer_id)
        set_request_status(help_request, RequestStatus.DONE, actor=volunteer, assignment=assignment)
        publish(help_request, ChangeKind.DONE, told)
    else:
        # Their part is done, the others' not yet: live pages hear it, the citizen is told
        # "done" once the whole team is.
        publish(help_request, ChangeKind.PLACE_DONE, [volunteer.pk])
        tell_the_team(help_request, besides=volunteer.pk)
    return assignment


def _expire(assignment: Assignment, help_request: HelpRequest) -> None:
    set_assignment_status(assignment, AssignmentStatus.EXPIRED, actor=None, reason="no answer in time")
    settle_request_status(help_request, actor=None, reason="expired", assignment=assignment)
    publish(help_request, ChangeKind.EXPIRED, [assignment.volunteer_id])
    schedule_matching(help_request.community_id)


@transaction.atomic
def assignment_expire(*, assignment: Assignment, now: dt.datetime | None = None) -> bool:
    """Expire a proposal left unanswered past its deadline; False if it was answered."""
    assignment, help_request = locked_assignment(assignment.pk)
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
    """Propose many open requests (or open places) at once: (locked request, volunteer id,
    km) each; a request for several volunteers may come once per place.

    For matching runs, inside the caller's transaction, with the requests already locked
    by `select_for_update`: a constant number of queries whatever the batch size.
    """
    for help_request, _volunteer_id, _km in proposals:
        # A partly staffed request (proposed, several places), or one whose volunteer has not
        # answered (asked beside them), takes more proposals as it is; the database holds
        # them to its places x `asked_at_once`.
        if help_request.status != RequestStatus.PROPOSED:
            check_request_transition(help_request.status, RequestStatus.PROPOSED)
    _record_asked_at_once(proposals)
    now = timezone.now()
    assignments = Assignment.objects.bulk_create(
        Assignment(
            help_request=help_request,
            volunteer_id=volunteer_id,
            km=km,
            expires_at=now + answer_time(help_request),
        )
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
        if help_request.status == RequestStatus.OPEN:  # a request's first place: recorded once
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
        list({request.pk: request for request, _v, _k in proposals}.values()),
        ["status", "unassigned_reason", "updated_at"],
    )
    # One dispatch for the batch: one query, one insert, one live send after the commit.
    tasks_changed(
        [
            TaskChange(help_request, ChangeKind.PROPOSED, [volunteer_id], assignment)
            for assignment, (help_request, volunteer_id, _km) in zip(assignments, proposals, strict=True)
        ]
    )
    return assignments


def _record_asked_at_once(proposals: list[tuple[HelpRequest, int, float]]) -> None:
    """A request for one volunteer proposed to several at once (urgent): say how many
    before the proposals are written, as the database holds them to it."""
    asked = Counter(help_request.pk for help_request, _volunteer_id, _km in proposals)
    asked_before = Counter(
        Assignment.objects.filter(
            help_request_id__in=[
                request.pk
                for request, _v, _k in proposals
                if request.people_needed == 1 and request.status == RequestStatus.PROPOSED
            ],
            status=AssignmentStatus.PROPOSED,
        ).values_list("help_request_id", flat=True)
    )
    changed = []
    for help_request in {request.pk: request for request, _v, _k in proposals}.values():
        at_once = (
            asked[help_request.pk] + asked_before[help_request.pk] if help_request.people_needed == 1 else 1
        )
        if help_request.asked_at_once != at_once:
            help_request.asked_at_once = at_once
            changed.append(help_request)
    if changed:
        HelpRequest.objects.bulk_update(changed, ["asked_at_once"])
