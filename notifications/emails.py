"""E-mail for people who are not online, in their own language.

`queue_emails` writes to the outbox inside the service's transaction, so a mail
exists exactly when its change does; the worker sends the outbox after the commit and
retries, so a slow or broken mail server never blocks or undoes a change.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from matching.scheduling import wake_worker
from mutualaid.aid.states import AssignmentStatus
from notifications.models import OutgoingEmail

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


def _wants_mail(user) -> bool:
    return bool(user is not None and user.is_active and user.email and user.email_notifications)


def _render(user, template: str, subject: str, context: dict, proposal=None) -> OutgoingEmail:
    with translation.override(user.preferred_language):
        body = render_to_string(template, {"user": user, "site_url": settings.SITE_URL, **context})
    return OutgoingEmail(
        recipient=user, to_address=user.email, subject=str(subject), body=body, proposal=proposal
    )


def task_emails(*, help_request, change: str, volunteers: list, assignment=None) -> list[OutgoingEmail]:
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


def queue_emails(emails: list[OutgoingEmail]) -> None:
    """Save to the outbox inside the caller's transaction; wake the worker after commit."""
    if emails:
        OutgoingEmail.objects.bulk_create(emails)
        transaction.on_commit(wake_worker)


def _obsolete(email: OutgoingEmail) -> str:
    """Why a waiting e-mail is no longer worth sending, or "" if it still is."""
    proposal = email.proposal
    if proposal is not None and proposal.status != AssignmentStatus.PROPOSED:
        return f"not sent: the proposal was {proposal.status} before it went out"
    if email.recipient is not None and not email.recipient.is_active:
        return "not sent: the account was closed before it went out"
    return ""


def send_pending_emails(*, limit: int = 50) -> int:
    """Send what waits in the outbox; a failure is kept for a later try. Returns sent.

    The matching worker calls this between its rounds: a mail server that takes every
    connection and never answers would hold it for EMAIL_TIMEOUT per mail, so once a round
    has spent that long, the rest of the outbox waits for the next round. Each mail is
    claimed under a row lock that other workers skip (PostgreSQL), so several workers
    never send one mail twice.
    """
    sent = 0
    tried: list[int] = []
    budget_ends = time.monotonic() + max(1, settings.EMAIL_TIMEOUT or 10)
    while len(tried) < limit:
        if tried and time.monotonic() > budget_ends:
            logger.warning("Sending e-mails is slow; the rest of the outbox waits for the next round")
            break
        with transaction.atomic():
            email = (
                OutgoingEmail.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
                .exclude(pk__in=tried)
                .select_related("proposal", "recipient")
                .order_by("created_at", "pk")
                .first()
            )
            if email is None:
                break
            tried.append(email.pk)
            sent += _send_one(email)
    return sent


def _send_one(email: OutgoingEmail) -> int:
    """Send one claimed mail and record the outcome; 1 if it went out."""
    obsolete = _obsolete(email)
    if obsolete:
        email.attempts = MAX_ATTEMPTS
        email.last_error = obsolete[:255]
        email.save(update_fields=["attempts", "last_error"])
        return 0
    try:
        send_mail(email.subject, email.body, None, [email.to_address], fail_silently=False)
    except Exception as error:
        email.attempts += 1
        email.last_error = f"{type(error).__name__}: {error}"[:255]
        email.save(update_fields=["attempts", "last_error"])
        logger.warning("E-mail %s not sent (attempt %d): %s", email.pk, email.attempts, error)
        return 0
    email.attempts += 1
    email.sent_at = timezone.now()
    email.save(update_fields=["attempts", "sent_at"])
    return 1
