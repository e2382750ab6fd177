"""E-mail for people who are not online, in their own language.

`queue_emails` writes to the outbox (`notifications.outbox`) inside the service's
transaction, so a mail exists exactly when its change does; the worker sends the outbox
after the commit and retries, so a slow or broken mail server never blocks or undoes a change.
"""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from notifications.models import OutgoingMessage
from notifications.outbox import queue_messages


def _wants_mail(user) -> bool:
    return bool(user is not None and user.is_active and user.email and user.email_notifications)


def _render(user, template: str, subject: str, context: dict, proposal=None) -> OutgoingMessage:
    with translation.override(user.preferred_language):
        body = render_to_string(template, {"user": user, "site_url": settings.SITE_URL, **context})
    return OutgoingMessage(
        recipient=user, to_address=user.email, subject=str(subject), body=body, proposal=proposal
    )


def task_emails(*, help_request, change: str, volunteers: list, assignment=None) -> list[OutgoingMessage]:
    """Proposals to volunteers; acceptance and completion to the requester, if opted in."""
    emails = []
    if change == "proposed":
        for volunteer in volunteers:
            if _wants_mail(volunteer):
                with translation.override(volunteer.preferred_language):
                    subject = _("A neighbour needs help: %(category)s") % {
                        "category": help_request.category.label
                    }
                link = reverse("task-detail", args=[assignment.pk]) if assignment else reverse("inbox")
                # Coarse on purpose: no name, no address before the volunteer accepts.
                emails.append(
                    _render(
                        volunteer,
                        "notifications/email_proposal.txt",
                        subject,
                        {"help_request": help_request, "assignment": assignment, "link": link},
                        proposal=assignment if assignment is not None and assignment.pk else None,
                    )
                )
    elif change in ("accepted", "done") and _wants_mail(help_request.requester):
        requester = help_request.requester
        with translation.override(requester.preferred_language):
            subject = (
                _("Someone is coming to help you") if change == "accepted" else _("Your request is done")
            )
        link = reverse("request-detail", args=[help_request.pk])
        volunteer = volunteers[0] if volunteers else None
        emails.append(
            _render(
                requester,
                f"notifications/email_{change}.txt",
                subject,
                {"help_request": help_request, "volunteer": volunteer, "link": link},
            )
        )
    return emails


def reminder_emails(assignment, window) -> list[OutgoingMessage]:
    """The day before an accepted task: when and where, and how to give it back."""
    volunteer, help_request = assignment.volunteer, assignment.help_request
    if not _wants_mail(volunteer):
        return []
    with translation.override(volunteer.preferred_language):
        subject = _("Reminder: tomorrow you help with %(category)s") % {
            "category": help_request.category.label
        }
        when = str(window)
    link = reverse("task-detail", args=[assignment.pk])
    message = _render(
        volunteer,
        "notifications/email_reminder.txt",
        subject,
        {"help_request": help_request, "assignment": assignment, "when": when, "link": link},
    )
    message.reminder_of = assignment
    return [message]


def queue_emails(emails: list[OutgoingMessage]) -> None:
    """Save to the outbox inside the caller's transaction; the worker sends after commit."""
    queue_messages(emails)
