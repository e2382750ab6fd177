"""Closing the loop once a task is done: thanks or "the help did not come", and expenses.

The request's citizen answers on their request page; a coordinator of the community may
answer for someone who phoned (from the coordinators' request page, which the answer
returns to). Only the task's volunteer records what they paid. Plain forms, then a redirect
with a message: all of it works without JavaScript.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mutualaid.aid import selectors, services
from mutualaid.aid.forms import ExpenseDisputeForm, ExpenseForm, ExpenseSettleForm, FeedbackForm
from mutualaid.aid.models import TaskExpense
from mutualaid.aid.states import InvalidTransition


def _back(request: HttpRequest, help_request) -> HttpResponse:
    """To the page the answer came from: the citizen's own, or the coordinators'."""
    if help_request.requester_id == request.user.pk:
        return redirect("request-detail", request_id=help_request.pk)
    return redirect("coordinator-request", request_id=help_request.pk)


def _error_text(error: Exception) -> str:
    return " ".join(error.messages) if isinstance(error, ValidationError) else str(error)


def _feedback(request: HttpRequest, request_id: int, give, success: str) -> HttpResponse:
    help_request = selectors.request_for_viewer(request.user, request_id)
    form = FeedbackForm(request.POST)
    if not form.is_valid():  # only a message longer than the field allows (browsers stop it)
        messages.error(request, " ".join(form.errors["message"]))
        return _back(request, help_request)
    try:
        give(help_request=help_request, actor=request.user, message=form.cleaned_data["message"])
    except PermissionDenied:
        raise Http404 from None
    except (services.TaskActionError, ValidationError) as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, success)
    return _back(request, help_request)


@login_required
@require_POST
def request_thank(request: HttpRequest, request_id: int) -> HttpResponse:
    return _feedback(
        request, request_id, services.task_thank, _("Thank you! Your thanks are passed on to the volunteer.")
    )


@login_required
@require_POST
def request_not_helped(request: HttpRequest, request_id: int) -> HttpResponse:
    return _feedback(
        request,
        request_id,
        services.task_report_not_helped,
        _("We are sorry. The coordinators are told and will contact you."),
    )


def _expense_of(request: HttpRequest, request_id: int) -> TaskExpense:
    help_request = selectors.request_for_viewer(request.user, request_id)
    expense = TaskExpense.objects.filter(help_request=help_request).select_related("assignment").first()
    if expense is None:
        raise Http404
    return expense


@login_required
@require_POST
def expense_repaid(request: HttpRequest, request_id: int) -> HttpResponse:
    expense = _expense_of(request, request_id)
    try:
        services.expense_confirm_repaid(expense=expense, actor=request.user)
    except PermissionDenied:
        raise Http404 from None
    except services.TaskActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Noted: you paid the volunteer back. Thank you!"))
    return _back(request, expense.help_request)


@login_required
@require_POST
def expense_dispute(request: HttpRequest, request_id: int) -> HttpResponse:
    expense = _expense_of(request, request_id)
    form = ExpenseDisputeForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["reason"]))
        return _back(request, expense.help_request)
    try:
        services.expense_dispute(expense=expense, actor=request.user, reason=form.cleaned_data["reason"])
    except PermissionDenied:
        raise Http404 from None
    except (services.TaskActionError, ValidationError) as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, _("The coordinators are told and will settle it with you."))
    return _back(request, expense.help_request)


@login_required
@require_POST
def expense_settle(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request = selectors.request_for_viewer(request.user, request_id)
    if not selectors.is_coordinator_of(request.user, help_request.community_id):
        raise Http404
    expense = _expense_of(request, request_id)
    form = ExpenseSettleForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["note"]))
        return redirect("coordinator-request", request_id=help_request.pk)
    try:
        services.expense_settle(expense=expense, coordinator=request.user, note=form.cleaned_data["note"])
    except (services.TaskActionError, ValidationError) as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, _("The expense is settled."))
    return redirect("coordinator-request", request_id=help_request.pk)


@login_required
def task_expense(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """The volunteer records what they paid (after marking the task done, or to correct it)."""
    from mutualaid.aid.views import task_page

    assignment = selectors.assignment_for_volunteer(request.user, assignment_id)
    if request.method != "POST":
        return redirect("task-detail", assignment_id=assignment.pk)
    form = ExpenseForm(request.POST, community=assignment.help_request.community)
    if form.is_valid():
        try:
            services.expense_record(
                assignment=assignment,
                volunteer=request.user,
                amount=form.cleaned_data["amount"],
                receipt_note=form.cleaned_data["receipt_note"],
            )
        except ValidationError as error:
            for field, field_errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, field_errors)
        except (services.TaskActionError, InvalidTransition) as error:
            messages.error(request, str(error))
            return redirect("task-detail", assignment_id=assignment.pk)
        else:
            messages.success(request, _("Recorded. The person sees the amount and confirms paying you back."))
            return redirect("task-detail", assignment_id=assignment.pk)
    # The refused amount stays in its field, with the message beside it.
    return task_page(request, assignment, expense_form=form, status=400)
