"""E-mail, through Django's configured backend (EMAIL_BACKEND: console by default, SMTP in
production), to people who chose it (`User.email_notifications`)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from mutualaid.aid.identity import email_signature
from notifications.kinds import ChangeKind
from notifications.models import OutgoingMessage
from notifications.notice import Notice

NAME = OutgoingMessage.Channel.EMAIL
KINDS = (
    ChangeKind.PROPOSED,
    ChangeKind.ACCEPTED,
    ChangeKind.DONE,
    ChangeKind.REMINDER,
    ChangeKind.THANKED,
    ChangeKind.NOT_HELPED,
    ChangeKind.EXPENSE_DISPUTED,
    ChangeKind.SHORT_STAFFED,
)


def chosen_by(user) -> bool:
    return bool(user is not None and user.is_active and user.email and user.email_notifications)


def compose(notice: Notice) -> OutgoingMessage | None:
    """The e-mail for a notice, or None when it sends none."""
    person, help_request = notice.recipient, notice.help_request
    if notice.kind not in KINDS or not chosen_by(person):
        return None
    with translation.override(person.preferred_language):
        if notice.kind == ChangeKind.REMINDER:
            subject = _("Reminder: tomorrow you help with %(category)s") % {
                "category": help_request.category.label
            }
            template = "notifications/email_reminder.txt"
            link = reverse("task-detail", args=[notice.assignment.pk])
        elif notice.kind == ChangeKind.PROPOSED:
            subject = _("A neighbour needs help: %(category)s") % {"category": help_request.category.label}
            template = "notifications/email_proposal.txt"
            assignment = notice.assignment
            link = reverse("task-detail", args=[assignment.pk]) if assignment else reverse("inbox")
        elif notice.kind == ChangeKind.THANKED:
            # The kind of help and the person's words: no name, address or phone of theirs.
            subject = _("Thank you for your help with %(category)s") % {
                "category": help_request.category.label
            }
            template = "notifications/email_thanked.txt"
            done = help_request.assignments.filter(volunteer=person, status="done").first()
            link = reverse("task-detail", args=[done.pk]) if done else reverse("inbox")
        elif notice.kind in (ChangeKind.NOT_HELPED, ChangeKind.EXPENSE_DISPUTED):
            if notice.kind == ChangeKind.NOT_HELPED:
                subject = _("Request #%(id)s: the help did not come") % {"id": help_request.pk}
            else:
                subject = _("Request #%(id)s: an expense is disputed") % {"id": help_request.pk}
            template = f"notifications/email_{notice.kind}.txt"
            link = reverse("coordinator-request", args=[help_request.pk])
        elif notice.kind == ChangeKind.SHORT_STAFFED:
            subject = _("Still short of volunteers: %(category)s") % {"category": help_request.category.label}
            template = "notifications/email_short_staffed.txt"
            page = "coordinator-request" if notice.to_coordinator else "request-detail"
            link = reverse(page, args=[help_request.pk])
        elif notice.to_referrer:
            if notice.kind not in (ChangeKind.ACCEPTED, ChangeKind.DONE):
                return None
            if notice.kind == ChangeKind.ACCEPTED:
                subject = _("Help is arranged for request #%(id)s") % {"id": help_request.pk}
            else:
                subject = _("Request #%(id)s is done") % {"id": help_request.pk}
            template = "notifications/email_referral.txt"
            link = reverse("referrals")
        else:
            if notice.kind == ChangeKind.ACCEPTED:
                subject = _("Someone is coming to help you")
            else:
                subject = _("Your request is done")
            template = f"notifications/email_{notice.kind}.txt"
            link = reverse("request-detail", args=[help_request.pk])
        # Coarse on purpose in a proposal: no name, no address before the volunteer accepts.
        body = render_to_string(
            template,
            {
                "user": person,
                "site_url": settings.SITE_URL,
                "help_request": help_request,
                "assignment": notice.assignment,
                "volunteer": None if notice.to_referrer else notice.volunteer,
                "kind": str(notice.kind),
                "to_coordinator": notice.to_coordinator,
                "accepted": help_request.places_accepted() if help_request.people_needed > 1 else 0,
                "when": str(notice.window) if notice.window else "",
                "link": link,
                "signature": email_signature(help_request.community),
            },
        )
    proposal = notice.assignment if notice.kind == ChangeKind.PROPOSED else None
    return OutgoingMessage(
        channel=NAME,
        recipient=person,
        to_address=person.email,
        subject=str(subject),
        body=body,
        proposal=proposal if proposal is not None and proposal.pk else None,
    )


def send(message: OutgoingMessage) -> None:
    send_mail(message.subject, message.body, None, [message.to_address], fail_silently=False)
