"""Closing the loop once a task is done: the person thanks the volunteer, or says that the
help did not come, which the community's coordinators follow up.

One answer per request. A "did not come" may still become a thanks (the volunteer came
after all) until a coordinator followed it up; a thanks is final (it was passed on).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mutualaid.accounts.models import User
from mutualaid.aid.models import Assignment, HelpRequest, TaskFeedback
from mutualaid.aid.services._records import TaskActionError, coordinates, locked_request, publish
from mutualaid.aid.services.audit import audit
from mutualaid.aid.states import AssignmentStatus, RequestStatus
from notifications.kinds import ChangeKind

FEEDBACK_MESSAGE_MAX_LENGTH = 500


def answers_for(person: User, help_request: HelpRequest) -> bool:
    """The request's citizen, or a coordinator of its community (for someone who phoned)."""
    return (help_request.requester_id is not None and help_request.requester_id == person.pk) or coordinates(
        person, help_request.community_id
    )


def _checked_message(message: str) -> str:
    message = message.strip()
    if len(message) > FEEDBACK_MESSAGE_MAX_LENGTH:
        raise ValidationError(
            {
                "message": _("Keep the message under %(count)s characters.")
                % {"count": FEEDBACK_MESSAGE_MAX_LENGTH}
            }
        )
    return message


def _done_volunteer_ids(help_request: HelpRequest) -> list[int]:
    return list(
        Assignment.objects.filter(help_request=help_request, status=AssignmentStatus.DONE).values_list(
            "volunteer_id", flat=True
        )
    )


def _locked_done_request(help_request: HelpRequest, actor: User) -> HelpRequest:
    help_request = locked_request(help_request.pk)
    if not answers_for(actor, help_request):
        raise PermissionDenied
    if help_request.status != RequestStatus.DONE:
        raise TaskActionError(_("You can answer once the task is marked as done."))
    return help_request


@transaction.atomic
def task_thank(*, help_request: HelpRequest, actor: User, message: str = "") -> TaskFeedback:
    """Thanks, with an optional message, passed to the volunteer (never who wrote it or
    where they live: the volunteer hears the kind of help and the words only)."""
    message = _checked_message(message)
    help_request = _locked_done_request(help_request, actor)
    feedback = TaskFeedback.objects.select_for_update().filter(help_request=help_request).first()
    if feedback is not None and not (
        feedback.kind == TaskFeedback.Kind.NOT_HELPED and feedback.needs_follow_up
    ):
        raise TaskActionError(_("An answer was already given for this request."))
    before = {"kind": feedback.kind} if feedback is not None else {}
    if feedback is None:
        feedback = TaskFeedback(help_request=help_request)
    feedback.kind, feedback.message, feedback.given_by = TaskFeedback.Kind.THANKS, message, actor
    feedback.save()
    # The audit log refers to the answer and copies none of its words (the purge forgets them).
    audit(actor=actor, action="thanks", subject=help_request, before=before, after={"feedback": feedback.pk})
    publish(help_request, ChangeKind.THANKED, _done_volunteer_ids(help_request))
    return feedback


@transaction.atomic
def task_report_not_helped(*, help_request: HelpRequest, actor: User, message: str = "") -> TaskFeedback:
    """ "The help did not come": the community's coordinators are alerted and see it on
    their dashboard until one of them followed it up."""
    message = _checked_message(message)
    help_request = _locked_done_request(help_request, actor)
    if TaskFeedback.objects.filter(help_request=help_request).exists():
        raise TaskActionError(_("An answer was already given for this request."))
    feedback = TaskFeedback.objects.create(
        help_request=help_request, kind=TaskFeedback.Kind.NOT_HELPED, message=message, given_by=actor
    )
    audit(actor=actor, action="help_not_came", subject=help_request, after={"feedback": feedback.pk})
    # Not to the volunteer: the coordinators hear both sides first.
    publish(help_request, ChangeKind.NOT_HELPED)
    return feedback


def feedback_mark_followed_up(*, help_request: HelpRequest, coordinator: User) -> bool:
    """A coordinator made the follow-up call of a "did not come" (teamwork.call_done calls
    this inside its transaction); False when there was nothing to follow up."""
    feedback = TaskFeedback.objects.select_for_update().filter(help_request=help_request).first()
    if feedback is None or not feedback.needs_follow_up:
        return False
    feedback.followed_up_by, feedback.followed_up_at = coordinator, timezone.now()
    feedback.save(update_fields=["followed_up_by", "followed_up_at"])
    audit(
        actor=coordinator,
        action="not_helped_followed_up",
        subject=help_request,
        after={"feedback": feedback.pk},
    )
    return True
