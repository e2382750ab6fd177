"""Coordinators working on one request together: notes for the team, and taking a call
(a call-back or a follow-up) so that two coordinators never call the same person."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _

from mutualaid.accounts.models import User
from mutualaid.aid.models import CallKind, HelpRequest, TeamNote
from mutualaid.aid.services._records import TaskActionError, locked_request, require_coordinator
from mutualaid.aid.services.audit import audit
from mutualaid.aid.services.closing import feedback_mark_followed_up
from notifications.events import publish_community_change
from notifications.kinds import ChangeKind

TEAM_NOTE_MAX_LENGTH = 1000


def call_claim_minutes() -> int:
    """How long a taken call stays taken before it lapses by itself (a setting)."""
    return settings.CALL_CLAIM_MINUTES


def _note(help_request: HelpRequest, coordinator: User, text: str) -> TeamNote:
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Write the note first.")})
    if len(text) > TEAM_NOTE_MAX_LENGTH:
        raise ValidationError(
            {"text": _("Keep the note under %(count)s characters.") % {"count": TEAM_NOTE_MAX_LENGTH}}
        )
    return TeamNote.objects.create(help_request=help_request, author=coordinator, text=text)


@transaction.atomic
def team_note_add(*, help_request: HelpRequest, coordinator: User, text: str) -> TeamNote:
    """A coordinator's note for the other coordinators of the request's community.

    The audit log refers to the note and copies none of its words (the retention purge
    forgets them with the request's other details).
    """
    require_coordinator(coordinator, help_request.community_id)
    note = _note(help_request, coordinator, text)
    audit(actor=coordinator, action="team_note", subject=help_request, after={"note": note.pk})
    publish_community_change(community_id=help_request.community_id, change=ChangeKind.TEAM_NOTE)
    return note


def _taken_message(help_request: HelpRequest) -> str:
    return _("%(name)s has taken this call (since %(time)s).") % {
        "name": help_request.call_taken_by.display_name,
        "time": time_format(timezone.localtime(help_request.call_taken_at), "H:i"),
    }


@transaction.atomic
def call_take(*, help_request: HelpRequest, coordinator: User, kind: str = CallKind.CALL_BACK) -> HelpRequest:
    """ "I'll call them": the request's call is the coordinator's until they release it, say
    it is done, or it lapses (CALL_CLAIM_MINUTES). Taking one's own again renews it.

    Race-safe: one conditional update takes the call only if it is free, lapsed or already
    this coordinator's; of two coordinators at once, the database lets exactly one through,
    and the other is told who has it.
    """
    require_coordinator(coordinator, help_request.community_id)
    if kind not in CallKind.values:
        raise ValidationError({"kind": _("Choose a call-back or a follow-up.")})
    now = timezone.now()
    free = Q(call_taken_by__isnull=True) | Q(call_taken_until__lte=now) | Q(call_taken_by=coordinator)
    taken = (
        HelpRequest.objects.filter(pk=help_request.pk)
        .filter(free)
        .update(
            call_kind=kind,
            call_taken_by=coordinator,
            call_taken_at=now,
            call_taken_until=now + dt.timedelta(minutes=call_claim_minutes()),
        )
    )
    current = HelpRequest.objects.select_related("call_taken_by").get(pk=help_request.pk)
    if not taken:
        raise TaskActionError(_taken_message(current))
    audit(
        actor=coordinator,
        action="call_taken",
        subject=current,
        after={"kind": kind, "until": current.call_taken_until.isoformat()},
    )
    publish_community_change(community_id=current.community_id, change=ChangeKind.CALL_TAKEN)
    return current


def _locked_own_call(help_request: HelpRequest, coordinator: User) -> HelpRequest:
    help_request = locked_request(help_request.pk)
    require_coordinator(coordinator, help_request.community_id)
    if not help_request.call_is_taken:
        raise TaskActionError(_("Nobody has taken this call (or it lapsed): take it first."))
    if help_request.call_taken_by_id != coordinator.pk:
        raise TaskActionError(_taken_message(help_request))
    return help_request


def _free_call(help_request: HelpRequest) -> None:
    help_request.call_kind, help_request.call_taken_by = "", None
    help_request.call_taken_at = help_request.call_taken_until = None
    help_request.save(update_fields=["call_kind", "call_taken_by", "call_taken_at", "call_taken_until"])


@transaction.atomic
def call_release(*, help_request: HelpRequest, coordinator: User) -> HelpRequest:
    """The taker gives the call back to the team without making it."""
    help_request = _locked_own_call(help_request, coordinator)
    audit(
        actor=coordinator,
        action="call_released",
        subject=help_request,
        before={"kind": help_request.call_kind},
    )
    _free_call(help_request)
    publish_community_change(community_id=help_request.community_id, change=ChangeKind.CALL_RELEASED)
    return help_request


@transaction.atomic
def call_done(*, help_request: HelpRequest, coordinator: User, outcome: str) -> TeamNote:
    """The taker made the call: what was said becomes a team note ("Called: ..."), a
    call-back leaves the call-back list (the caller knows the request's current state), and
    a "the help did not come" leaves the dashboard's follow-ups."""
    if not outcome.strip():
        raise ValidationError({"outcome": _("Say in a few words what was said.")})
    help_request = _locked_own_call(help_request, coordinator)
    kind = help_request.call_kind
    note = _note(help_request, coordinator, _("Called: %(outcome)s") % {"outcome": outcome.strip()})
    audit(
        actor=coordinator,
        action="call_done",
        subject=help_request,
        before={"kind": kind},
        after={"note": note.pk},
    )
    _free_call(help_request)
    feedback_mark_followed_up(help_request=help_request, coordinator=coordinator)
    if kind == CallKind.CALL_BACK and help_request.requester_id is None:
        help_request.called_back_status = help_request.status
        help_request.save(update_fields=["called_back_status"])
    publish_community_change(community_id=help_request.community_id, change=ChangeKind.CALL_RELEASED)
    return note
