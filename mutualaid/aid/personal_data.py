"""People's data: what we hold about someone, forgetting them, and forgetting old tasks.

Deleting an account keeps the community's statistics true (a request still counts as
helped in its neighbourhood and category) while removing everything that says who, where
exactly, or what was written: names, contact details, addresses, descriptions, the reasons
people gave in the history, and the e-mails in the outbox that carry any of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from mutualaid.accounts.models import User
from mutualaid.aid import services
from mutualaid.aid.models import (
    Assignment,
    AuditEntry,
    ConcernReport,
    CoordinatorMessage,
    HelpRequest,
    StatusChange,
    TaskExpense,
    TaskFeedback,
    TeamNote,
    VolunteerCheck,
    VolunteerOffer,
)
from mutualaid.aid.places import coarse_point
from mutualaid.aid.services.series import series_forget_person
from mutualaid.aid.states import (
    CANCELLABLE_REQUEST_STATUSES,
    FINISHED_REQUEST_STATUSES,
    LIVE_ASSIGNMENT_STATUSES,
    AssignmentStatus,
)
from notifications.events import close_live_sockets
from notifications.models import OutgoingMessage, PushSubscription

FORGOTTEN = "(removed)"


def personal_data_export(person: User) -> dict:
    """Everything the service holds about a person, as JSON-ready data."""
    requests = (
        HelpRequest.objects.filter(requester=person)
        .select_related("category")
        .prefetch_related("time_windows", "status_changes")
    )
    offer = VolunteerOffer.objects.filter(volunteer=person).prefetch_related("skills").first()
    assignments = Assignment.objects.filter(volunteer=person).select_related("help_request__category")
    return {
        "exported_at": timezone.now().isoformat(),
        "account": {
            "username": person.username,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": person.email,
            "phone": str(person.phone),
            "phone_to_check": person.phone_to_check,
            "community": person.community.name if person.community else None,
            "preferred_language": person.preferred_language,
            "email_notifications": person.email_notifications,
            "push_notifications_in_browsers": [
                {"endpoint": subscription.endpoint, "since": subscription.created_at.isoformat()}
                for subscription in PushSubscription.objects.filter(person=person).order_by("pk")
            ],
            "sms_notifications": person.sms_notifications,
            "date_joined": person.date_joined.isoformat(),
        },
        "help_requests": [
            {
                "id": help_request.pk,
                "created_at": help_request.created_at.isoformat(),
                "category": help_request.category.label,
                "description": help_request.description,
                "note_for_volunteer": help_request.note_for_volunteer,
                "urgency": help_request.urgency,
                "address": help_request.address,
                "latitude": help_request.latitude,
                "longitude": help_request.longitude,
                "status": help_request.status,
                "any_time": help_request.any_time,
                "time_windows": [
                    {"date": window.date.isoformat(), "part_of_day": window.get_part_of_day_display()}
                    for window in help_request.time_windows.all()
                ],
                "history": [
                    {
                        "at": change.at.isoformat(),
                        "subject": change.subject,
                        "to": change.to_status,
                        # What they wrote themselves (a cancel reason), not others' words.
                        **({"reason": change.reason} if change.actor_id == person.pk else {}),
                    }
                    for change in help_request.status_changes.all()
                ],
                # Once done: their thanks or "did not come", and what they paid back.
                "answer_after_the_task": _feedback_export(help_request),
                "expense": _expense_export(help_request),
            }
            for help_request in requests
        ],
        "volunteer_offer": None
        if offer is None
        else {
            "skills": [skill.name for skill in offer.skills.all()],
            "address": offer.address,
            "latitude": offer.latitude,
            "longitude": offer.longitude,
            "max_km": offer.max_km,
            "availability": offer.availability,
            "capacity": offer.capacity,
            "is_paused": offer.is_paused,
        },
        # Checks coordinators recorded about them (vetting): what, when, until when.
        "checks": [
            {
                "kind": check.kind,
                "checked_on": check.checked_on.isoformat(),
                "expires_on": check.expires_on.isoformat() if check.expires_on else None,
            }
            for check in VolunteerCheck.objects.filter(volunteer=person).order_by("checked_on", "pk")
        ],
        # Tasks done for others: what and when, not whom (that is the other person's data).
        "tasks_as_volunteer": [
            {
                "category": assignment.help_request.category.label,
                "status": assignment.status,
                "proposed_at": assignment.proposed_at.isoformat(),
                "km": assignment.km,
                "responded_at": assignment.responded_at.isoformat() if assignment.responded_at else None,
                "decline_reason": assignment.decline_reason,
                "hours_spent": assignment.hours_spent,
                "expense": _expense_export(assignment.help_request, by_them=True)
                if assignment.status == AssignmentStatus.DONE
                else None,
            }
            for assignment in assignments
        ],
        # Messages to them, e-mails and texts: when and about what (the bodies may name other
        # people).
        "emails": [
            {
                "channel": email.channel,
                "subject": email.subject,
                "to": email.to_address,
                "created_at": email.created_at.isoformat(),
                "sent_at": email.sent_at.isoformat() if email.sent_at else None,
                "delivery_status": email.delivery_status,
            }
            for email in OutgoingMessage.objects.filter(recipient=person).order_by("created_at", "pk")
        ],
        # What the audit log records them doing (coordinators' actions, their own deletion).
        "recorded_actions": [
            {"at": entry.at.isoformat(), "action": entry.action, "subject": entry.subject}
            for entry in AuditEntry.objects.filter(actor=person).order_by("at", "pk")
        ],
    }


def _feedback_export(help_request: HelpRequest) -> dict | None:
    feedback = TaskFeedback.objects.filter(help_request=help_request).first()
    if feedback is None:
        return None
    return {"kind": feedback.kind, "message": feedback.message, "given_at": feedback.given_at.isoformat()}


def _expense_export(help_request: HelpRequest, *, by_them: bool = False) -> dict | None:
    """The amount and its state; the receipt note to the volunteer who wrote it only."""
    expense = TaskExpense.objects.filter(help_request=help_request).first()
    if expense is None:
        return None
    return {
        "amount_eur": str(expense.amount),
        "status": expense.status,
        "recorded_at": expense.recorded_at.isoformat(),
        **({"receipt_note": expense.receipt_note} if by_them else {}),
    }


def _forget_reasons(changes: QuerySet[StatusChange]) -> None:
    """Redact what people wrote in the history; keep who, what, when, from and to.

    The database lets only `reason` (and `at`) of a status change be rewritten (migration
    0007); system codes ("declined", "expired"...) say nothing about anyone and stay.
    """
    prefix = StatusChange.COORDINATOR_PREFIX
    written = changes.exclude(reason="").exclude(
        reason__in=[*StatusChange.SYSTEM_REASONS, FORGOTTEN, prefix + FORGOTTEN]
    )
    written.filter(reason__startswith=prefix).update(reason=prefix + FORGOTTEN)
    written.update(reason=FORGOTTEN)


def _task_links(assignment_ids) -> list[str]:
    return [reverse("task-detail", args=[pk]) for pk in assignment_ids]


def _forget_emails_linking(links: list[str], **only) -> None:
    """Drop outbox e-mails whose body links to one of these pages (sent or still waiting)."""
    if not links:
        return
    carrying = Q()
    for link in links:
        # Links end with "/": ".../tasks/12/" is not found inside ".../tasks/123/".
        carrying |= Q(body__contains=link)
    OutgoingMessage.objects.filter(carrying, **only).delete()


def _forget_request_details(help_request: HelpRequest) -> None:
    latitude, longitude = coarse_point(help_request.latitude, help_request.longitude)
    help_request.description = FORGOTTEN
    help_request.address = ""
    help_request.latitude, help_request.longitude = latitude, longitude
    help_request.contact_name = ""
    help_request.contact_phone = ""
    help_request.note_for_volunteer = ""
    help_request.text_caller = False


def _forget_closing_words(requests: QuerySet[HelpRequest], *, volunteer: User | None = None) -> None:
    """What people wrote once the task was done: the thanks or complaint, and the expenses'
    receipt notes, reasons and settlements (of these requests, and of the volunteer's tasks)."""
    TaskFeedback.objects.filter(help_request__in=requests).exclude(message="").update(message="")
    expenses = Q(help_request__in=requests)
    if volunteer is not None:
        expenses |= Q(assignment__volunteer=volunteer)
    TaskExpense.objects.filter(expenses).update(receipt_note="", dispute_reason="", settlement_note="")


def account_delete(*, person: User) -> None:
    """Release what they hold, then anonymise them and their requests for the statistics."""
    series_forget_person(person)  # first: no occurrence is filed for them any more
    for help_request in HelpRequest.objects.filter(requester=person, status__in=CANCELLABLE_REQUEST_STATUSES):
        services.help_request_cancel(help_request=help_request, actor=person, reason="account deleted")
    for assignment in Assignment.objects.filter(volunteer=person, status__in=LIVE_ASSIGNMENT_STATUSES):
        services.assignment_withdraw(assignment=assignment, volunteer=person, reason="account deleted")
    with transaction.atomic():
        close_live_sockets(user_id=person.pk)  # their open pages stop hearing at once
        services.audit(actor=None, action="account_deleted", subject=person)
        own_requests = HelpRequest.objects.filter(requester=person)
        for help_request in own_requests.select_for_update():
            _forget_request_details(help_request)
            help_request.save()
        _forget_reasons(StatusChange.objects.filter(Q(help_request__in=own_requests) | Q(actor=person)))
        # The team's notes about their requests speak of them.
        TeamNote.objects.filter(help_request__in=own_requests).exclude(text=FORGOTTEN).update(text=FORGOTTEN)
        _forget_closing_words(own_requests, volunteer=person)
        Assignment.objects.filter(Q(volunteer=person) | Q(help_request__in=own_requests)).exclude(
            decline_reason=""
        ).update(decline_reason="")
        # The outbox: nothing more goes to them, and no copy of their data stays in it. E-mails
        # to them; proposals of their requests to volunteers (the description); e-mails to
        # requesters they helped (their name and phone).
        OutgoingMessage.objects.filter(recipient=person).delete()
        PushSubscription.objects.filter(person=person).delete()
        _forget_emails_linking(
            _task_links(Assignment.objects.filter(help_request__in=own_requests).values_list("pk", flat=True))
        )
        helped = Assignment.objects.filter(volunteer=person).select_related("help_request")
        # Texts to the requesters and callers they helped name them ("Fatima will come").
        OutgoingMessage.objects.filter(
            help_request__in=[assignment.help_request_id for assignment in helped],
            channel=OutgoingMessage.Channel.SMS,
        ).exclude(recipient=person).delete()
        # Texts about their own requests (proposals name the area and the kind of help).
        OutgoingMessage.objects.filter(help_request__in=own_requests).delete()
        for assignment in helped:
            if assignment.help_request.requester_id is not None:
                _forget_emails_linking(
                    [reverse("request-detail", args=[assignment.help_request_id])],
                    recipient_id=assignment.help_request.requester_id,
                )
        VolunteerOffer.objects.filter(volunteer=person).delete()
        VolunteerCheck.objects.filter(volunteer=person).delete()  # the audit log keeps that one was made
        person.username = f"deleted-{person.pk}"
        person.first_name = person.last_name = person.email = person.phone = person.phone_to_check = ""
        person.sms_notifications = False
        person.is_active = False
        person.is_coordinator = False
        person.is_staff = False
        person.is_superuser = False
        person.set_unusable_password()
        person.save()
        # Their other sessions end too: the password hash changed, so Django's session
        # verification drops them at their next request.


def personal_data_purge(
    *, older_than_days: int | None = None, progress: Callable[[int, int], None] = lambda done, total: None
) -> int:
    """Forget the details of requests done, cancelled or expired long ago; returns how many.

    With them: the reasons written in their history, the volunteers' decline reasons, and,
    past the same period, e-mails in the outbox (sent or given up) and the bodies of
    coordinators' messages. Returns how many requests had details to forget.
    """
    days = settings.PERSONAL_DATA_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - dt.timedelta(days=days)
    all_finished = HelpRequest.objects.filter(status__in=FINISHED_REQUEST_STATUSES, updated_at__lt=cutoff)
    with transaction.atomic():
        _forget_reasons(StatusChange.objects.filter(help_request__in=all_finished))
        Assignment.objects.filter(help_request__in=all_finished).exclude(decline_reason="").update(
            decline_reason=""
        )
        # Messages older than the period: proposals carry descriptions, acceptances the
        # volunteer's phone. Those still being retried stay until they are sent or given up.
        OutgoingMessage.objects.filter(created_at__lt=cutoff).exclude(
            status=OutgoingMessage.Status.PENDING
        ).delete()
        CoordinatorMessage.objects.filter(sent_at__lt=cutoff).exclude(body=FORGOTTEN).update(
            subject=FORGOTTEN, body=FORGOTTEN
        )
        TeamNote.objects.filter(help_request__in=all_finished).exclude(text=FORGOTTEN).update(text=FORGOTTEN)
        _forget_closing_words(all_finished)
        # A safeguarding concern is kept while open; once dealt with, for the same period.
        ConcernReport.objects.filter(
            status=ConcernReport.Status.DEALT_WITH, dealt_with_at__lt=cutoff
        ).exclude(text=FORGOTTEN).update(text=FORGOTTEN)
    finished = all_finished.exclude(
        Q(description=FORGOTTEN)
        & Q(address="")
        & Q(contact_name="")
        & Q(contact_phone="")
        & Q(note_for_volunteer="")
    )
    ids = list(finished.values_list("pk", flat=True))
    for done, start in enumerate(range(0, len(ids), 200), start=1):
        with transaction.atomic():
            batch = list(HelpRequest.objects.select_for_update().filter(pk__in=ids[start : start + 200]))
            for help_request in batch:
                _forget_request_details(help_request)
            # Texts to callers went to the number being forgotten.
            OutgoingMessage.objects.filter(help_request__in=batch, recipient__isnull=True).delete()
            HelpRequest.objects.bulk_update(
                batch,
                [
                    "description",
                    "address",
                    "latitude",
                    "longitude",
                    "contact_name",
                    "contact_phone",
                    "note_for_volunteer",
                    "text_caller",
                ],
            )
        progress(min(done * 200, len(ids)), len(ids))
    return len(ids)
