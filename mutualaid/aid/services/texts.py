"""Answers by text message: a volunteer accepts, declines, completes or gives back a task
with a word and the task's short code, through the same services as the page (the same
rules, history and live updates). Every text gets one short answer, through the outbox."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from mutualaid.accounts.models import User
from mutualaid.aid.models import Assignment
from mutualaid.aid.services._records import TaskActionError
from mutualaid.aid.services.assignments import (
    assignment_accept,
    assignment_complete,
    assignment_decline,
    assignment_withdraw,
)
from mutualaid.aid.states import LIVE_ASSIGNMENT_STATUSES, AssignmentStatus
from notifications.channels.sms import is_mobile
from notifications.dispatch import text_reply
from notifications.sms_commands import Command, parse

logger = logging.getLogger(__name__)

# How far back a quoted code is looked for (an old, expired proposal gets its explanation).
RECENT_ASSIGNMENTS = 50


def _help_line() -> str:
    return _("Reply YES, NO, DONE or CANT with the task's code (e.g. YES 1234). STOP: no more texts.")


def _task(person: User, code: str) -> Assignment | None:
    """The task a text is about: the one its code names, or the only one open."""
    if code:
        recent = Assignment.objects.filter(volunteer=person).order_by("-proposed_at", "-pk")[
            :RECENT_ASSIGNMENTS
        ]
        named = [assignment for assignment in recent if assignment.short_code == code]
        live = [assignment for assignment in named if assignment.status in LIVE_ASSIGNMENT_STATUSES]
        candidates = live or named[:1]
    else:
        candidates = list(Assignment.objects.filter(volunteer=person, status__in=LIVE_ASSIGNMENT_STATUSES))
    return candidates[0] if len(candidates) == 1 else None


def _answer(person: User, command: Command, assignment: Assignment) -> str:
    code = assignment.short_code
    if command == Command.ACCEPT:
        assignment_accept(assignment=assignment, volunteer=person)
        help_request = assignment.help_request
        link = settings.SITE_URL + reverse("task-detail", args=[assignment.pk])
        return _(
            "Thank you! Task %(code)s: %(address)s. Details: %(link)s Reply DONE %(code)s when done."
        ) % {
            "code": code,
            "address": help_request.address or help_request.neighbourhood,
            "link": link,
        }
    if command == Command.DECLINE:
        assignment_decline(assignment=assignment, volunteer=person)
        return _("Thank you, we will ask someone else.")
    if command == Command.DONE:
        assignment_complete(assignment=assignment, volunteer=person)
        return _("Thank you for your help!")
    # "Can't": before accepting it is a no; after, the task goes back to matching.
    if assignment.status == AssignmentStatus.PROPOSED:
        assignment_decline(assignment=assignment, volunteer=person)
    else:
        assignment_withdraw(assignment=assignment, volunteer=person)
    return _("Understood, we will find someone else for task %(code)s.") % {"code": code}


def text_received(*, from_number: str, body: str) -> str:
    """Act on a text from `from_number`; returns the answer queued ("" when nobody with
    that number has an account: a stranger gets no answer)."""
    people = list(User.objects.filter(phone=from_number, is_active=True)[:5]) if from_number else []
    if len(people) > 1:
        # One number on several accounts (a couple's phone): the one that asked for texts.
        people = [person for person in people if person.sms_notifications]
    if len(people) != 1:
        logger.info("A text from a number of no single account was ignored")
        return ""
    (person,) = people
    parsed = parse(body)
    with translation.override(person.preferred_language):
        if parsed.command == Command.STOP:
            User.objects.filter(pk=person.pk).update(sms_notifications=False)
            answer = _("You will get no more texts from us. Reply START to get them again.")
        elif parsed.command == Command.START:
            User.objects.filter(pk=person.pk).update(sms_notifications=is_mobile(person.phone))
            answer = _("Texts are on again. Reply STOP to turn them off.")
        elif parsed.command is None:
            answer = _help_line()
        else:
            assignment = _task(person, parsed.code)
            if assignment is None:
                answer = _help_line()
            else:
                try:
                    answer = _answer(person, parsed.command, assignment)
                except (TaskActionError, ValidationError) as error:
                    answer = error.messages[0] if isinstance(error, ValidationError) else str(error)
        with transaction.atomic():
            text_reply(person, answer, community_id=person.community_id)
    return answer
