"""What volunteers pay for shopping and pharmacy runs, and getting it back.

The volunteer records the amount (at most the community's `expense_cap`); the person
confirms they paid it back or disputes it with a reason; a coordinator settles a dispute
(or an expense left unconfirmed) with a note. Every step is audited and announced.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mutualaid.accounts.models import User
from mutualaid.aid.models import Assignment, Community, TaskExpense
from mutualaid.aid.money import format_money
from mutualaid.aid.services._records import (
    TaskActionError,
    locked_assignment,
    locked_request,
    publish,
    require_coordinator,
)
from mutualaid.aid.services.audit import audit
from mutualaid.aid.services.closing import answers_for
from mutualaid.aid.states import AssignmentStatus
from notifications.kinds import ChangeKind

TEXT_MAX_LENGTH = 500
RECEIPT_NOTE_MAX_LENGTH = 200


def check_amount(amount: Decimal, community: Community) -> Decimal:
    """The amount in euros and cents, or ValidationError saying what is wrong, at the field."""
    try:
        amount = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({"amount": _("Give the amount in euros, e.g. 12,50.")}) from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationError({"amount": _("Give the amount you paid, more than 0.")})
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationError({"amount": _("Give the amount in euros and cents, e.g. 12,50.")})
    if amount > community.expense_cap:
        raise ValidationError(
            {
                "amount": _(
                    "At most %(cap)s per task in %(community)s. If you paid more, ask the coordinators "
                    "before recording it."
                )
                % {"cap": format_money(community.expense_cap), "community": community}
            }
        )
    return amount


def _recorded(expense: TaskExpense) -> dict:
    return {"status": expense.status, "amount": str(expense.amount)}


@transaction.atomic
def expense_record(
    *, assignment: Assignment, volunteer: User, amount: Decimal, receipt_note: str = ""
) -> TaskExpense:
    """The volunteer says what they paid, once the task is done (with marking it done, or
    after); they may correct it until the person has answered."""
    assignment, help_request = locked_assignment(assignment.pk)
    if assignment.volunteer_id != volunteer.pk:
        raise PermissionDenied
    if not help_request.category.carries_expenses:
        raise TaskActionError(_("This kind of help has no expenses to record."))
    if assignment.status != AssignmentStatus.DONE:
        raise TaskActionError(_("Record what you paid when you mark the task as done, or after."))
    amount = check_amount(amount, help_request.community)
    receipt_note = receipt_note.strip()
    if len(receipt_note) > RECEIPT_NOTE_MAX_LENGTH:
        raise ValidationError(
            {
                "receipt_note": _("Keep the note under %(count)s characters.")
                % {"count": RECEIPT_NOTE_MAX_LENGTH}
            }
        )
    expense = TaskExpense.objects.select_for_update().filter(assignment=assignment).first()
    before = {}
    if expense is None:
        expense = TaskExpense(assignment=assignment, help_request=help_request)
    elif expense.status != TaskExpense.Status.RECORDED:
        raise TaskActionError(_("The person has already answered: ask the coordinators to change it."))
    else:
        before = _recorded(expense)
    expense.amount, expense.receipt_note = amount, receipt_note
    expense.save()
    audit(
        actor=volunteer,
        action="expense_recorded",
        subject=help_request,
        before=before,
        after=_recorded(expense),
    )
    publish(help_request, ChangeKind.EXPENSE, [volunteer.pk])
    return expense


def _locked_expense(expense: TaskExpense) -> tuple[TaskExpense, object]:
    help_request = locked_request(expense.help_request_id)
    return TaskExpense.objects.select_for_update().get(pk=expense.pk), help_request


def _answer(expense: TaskExpense, actor: User, status: str, reason: str = "") -> TaskExpense:
    expense, help_request = _locked_expense(expense)
    if not answers_for(actor, help_request):
        raise PermissionDenied
    if expense.status != TaskExpense.Status.RECORDED:
        raise TaskActionError(_("This expense was already answered."))
    before = _recorded(expense)
    expense.status, expense.answered_at, expense.dispute_reason = status, timezone.now(), reason
    expense.save(update_fields=["status", "answered_at", "dispute_reason"])
    action = "expense_repaid" if status == TaskExpense.Status.REPAID else "expense_disputed"
    audit(actor=actor, action=action, subject=help_request, before=before, after=_recorded(expense))
    kind = ChangeKind.EXPENSE if status == TaskExpense.Status.REPAID else ChangeKind.EXPENSE_DISPUTED
    publish(help_request, kind, [expense.assignment.volunteer_id])
    return expense


@transaction.atomic
def expense_confirm_repaid(*, expense: TaskExpense, actor: User) -> TaskExpense:
    """The person (or a coordinator for them) says the volunteer got their money back."""
    return _answer(expense, actor, TaskExpense.Status.REPAID)


@transaction.atomic
def expense_dispute(*, expense: TaskExpense, actor: User, reason: str) -> TaskExpense:
    """The person does not agree with the amount: the coordinators settle it."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say in a few words what is wrong with the amount.")})
    if len(reason) > TEXT_MAX_LENGTH:
        raise ValidationError(
            {"reason": _("Keep it under %(count)s characters.") % {"count": TEXT_MAX_LENGTH}}
        )
    return _answer(expense, actor, TaskExpense.Status.DISPUTED, reason)


@transaction.atomic
def expense_settle(*, expense: TaskExpense, coordinator: User, note: str) -> TaskExpense:
    """A coordinator settles a dispute, or an expense the person never confirmed, with a
    note of what was agreed."""
    note = note.strip()
    if not note:
        raise ValidationError({"note": _("Say how it was settled.")})
    if len(note) > TEXT_MAX_LENGTH:
        raise ValidationError({"note": _("Keep it under %(count)s characters.") % {"count": TEXT_MAX_LENGTH}})
    expense, help_request = _locked_expense(expense)
    require_coordinator(coordinator, help_request.community_id)
    if expense.status not in (TaskExpense.Status.RECORDED, TaskExpense.Status.DISPUTED):
        raise TaskActionError(_("This expense is already settled."))
    before = _recorded(expense)
    expense.status, expense.settled_by, expense.settled_at = (
        TaskExpense.Status.SETTLED,
        coordinator,
        timezone.now(),
    )
    expense.settlement_note = note
    expense.save(update_fields=["status", "settled_by", "settled_at", "settlement_note"])
    audit(
        actor=coordinator,
        action="expense_settled",
        subject=help_request,
        before=before,
        after=_recorded(expense),
    )
    publish(help_request, ChangeKind.EXPENSE, [expense.assignment.volunteer_id])
    return expense


def unconfirmed_expense_days() -> int:
    """After how many days an unconfirmed expense shows on the coordinators' dashboard."""
    return settings.EXPENSE_UNCONFIRMED_DAYS


def unconfirmed_since(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=unconfirmed_expense_days())
