"""Safeguarding: a concern about a person, told privately to the community's coordinators,
and a coordinator's suspension of a volunteer (no proposals, no task actions)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from matching.scheduling import schedule_matching
from mutualaid.accounts.models import User
from mutualaid.aid.models import Assignment, ConcernReport, HelpRequest, StatusChange, VolunteerOffer
from mutualaid.aid.services._records import TaskActionError, locked_assignment, require_coordinator
from mutualaid.aid.services.assignments import release
from mutualaid.aid.services.audit import audit
from mutualaid.aid.states import LIVE_ASSIGNMENT_STATUSES, AssignmentStatus
from notifications.events import publish_community_change
from notifications.kinds import ChangeKind

CONCERN_MAX_LENGTH = 3000
# On the assignment's record only (coordinators read it); the citizen's record says nothing.
SUSPENDED_REASON = f"{StatusChange.COORDINATOR_PREFIX}volunteer suspended"


def person_of_concern(*, reporter: User, help_request: HelpRequest, about: str) -> User | None:
    """Whom a report from this reporter about this request's other person is about.

    A requester may report the volunteer who accepted their request (now or before); a
    volunteer the person whose request was proposed to them. Anyone else: PermissionDenied
    (the views answer 404, as for a request they cannot see). None: a caller without an
    account (the request names them).
    """
    if about == ConcernReport.About.VOLUNTEER:
        if help_request.requester_id != reporter.pk:
            raise PermissionDenied
        helped = (
            Assignment.objects.filter(
                help_request=help_request, status__in=[AssignmentStatus.ACCEPTED, AssignmentStatus.DONE]
            )
            .select_related("volunteer")
            .order_by("-proposed_at")
            .first()
        )
        if helped is None:
            raise PermissionDenied
        return helped.volunteer
    if about == ConcernReport.About.REQUESTER:
        if not Assignment.objects.filter(help_request=help_request, volunteer=reporter).exists():
            raise PermissionDenied
        return help_request.requester
    raise PermissionDenied


@transaction.atomic
def concern_report_file(*, reporter: User, help_request: HelpRequest, about: str, text: str) -> ConcernReport:
    """Tell the coordinators, privately, about a concern; the reported person is never told."""
    person = person_of_concern(reporter=reporter, help_request=help_request, about=about)
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Tell us what happened.")})
    if len(text) > CONCERN_MAX_LENGTH:
        raise ValidationError(
            {
                "text": _("Keep it under %(count)s characters; a coordinator will call you for more.")
                % {"count": CONCERN_MAX_LENGTH}
            }
        )
    report = ConcernReport.objects.create(
        community_id=help_request.community_id,
        reporter=reporter,
        person=person,
        about=about,
        help_request=help_request,
        text=text,
    )
    # The log refers to the report and copies none of its words.
    audit(actor=reporter, action="concern_reported", subject=report, after={"about": about})
    publish_community_change(community_id=report.community_id, change=ChangeKind.CONCERN)
    return report


@transaction.atomic
def concern_report_mark_dealt_with(*, report: ConcernReport, coordinator: User) -> ConcernReport:
    report = ConcernReport.objects.select_for_update().get(pk=report.pk)
    require_coordinator(coordinator, report.community_id)
    if report.status == ConcernReport.Status.DEALT_WITH:
        raise TaskActionError(_("This concern is already marked as dealt with."))
    audit(
        actor=coordinator,
        action="concern_dealt_with",
        subject=report,
        before={"status": report.status},
        after={"status": ConcernReport.Status.DEALT_WITH},
    )
    report.status = ConcernReport.Status.DEALT_WITH
    report.dealt_with_by, report.dealt_with_at = coordinator, timezone.now()
    report.save(update_fields=["status", "dealt_with_by", "dealt_with_at"])
    publish_community_change(community_id=report.community_id, change=ChangeKind.CONCERN)
    return report


def volunteer_is_suspended(volunteer: User) -> bool:
    return VolunteerOffer.objects.filter(volunteer=volunteer, suspended_at__isnull=False).exists()


@transaction.atomic
def volunteer_suspend(*, offer: VolunteerOffer, coordinator: User, reason: str) -> VolunteerOffer:
    """Suspend a volunteer: every live task of theirs goes back to matching without them,
    matching proposes them nothing more, and they can act on no task, until it is lifted."""
    require_coordinator(coordinator, offer.community_id)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say why: the record keeps who suspended a volunteer and why.")})
    if VolunteerOffer.objects.filter(pk=offer.pk, suspended_at__isnull=False).exists():
        raise TaskActionError(_("This volunteer is already suspended."))
    # Lock order everywhere: request, then assignment, then offer.
    live = Assignment.objects.filter(volunteer_id=offer.volunteer_id, status__in=LIVE_ASSIGNMENT_STATUSES)
    released = []
    for assignment_id in live.values_list("pk", flat=True):
        assignment, help_request = locked_assignment(assignment_id)
        if assignment.status in LIVE_ASSIGNMENT_STATUSES:
            release(
                assignment,
                help_request,
                actor=coordinator,
                reason=SUSPENDED_REASON,
                change=ChangeKind.WITHDRAWN,
            )
            released.append(help_request.pk)
    offer = VolunteerOffer.objects.select_for_update().get(pk=offer.pk)
    offer.suspended_at, offer.suspended_by, offer.suspension_reason = (
        timezone.now(),
        coordinator,
        reason[:500],
    )
    offer.save(update_fields=["suspended_at", "suspended_by", "suspension_reason", "updated_at"])
    audit(
        actor=coordinator,
        action="volunteer_suspended",
        subject=offer,
        before={"suspended": False},
        after={"suspended": True, "reason": reason[:500], "tasks_released": released},
    )
    publish_community_change(community_id=offer.community_id, change=ChangeKind.SUSPENSION)
    return offer


@transaction.atomic
def volunteer_suspension_lift(*, offer: VolunteerOffer, coordinator: User) -> VolunteerOffer:
    """Lift a suspension: the volunteer gets proposals and can act on tasks again."""
    offer = VolunteerOffer.objects.select_for_update().get(pk=offer.pk)
    require_coordinator(coordinator, offer.community_id)
    if offer.suspended_at is None:
        raise TaskActionError(_("This volunteer is not suspended."))
    audit(
        actor=coordinator,
        action="volunteer_suspension_lifted",
        subject=offer,
        before={"suspended": True, "since": offer.suspended_at.isoformat()},
        after={"suspended": False},
    )
    offer.suspended_at, offer.suspended_by, offer.suspension_reason = None, None, ""
    offer.save(update_fields=["suspended_at", "suspended_by", "suspension_reason", "updated_at"])
    publish_community_change(community_id=offer.community_id, change=ChangeKind.SUSPENSION)
    schedule_matching(offer.community_id)
    return offer
