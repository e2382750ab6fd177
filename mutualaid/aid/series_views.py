"""Recurring help's pages: the citizen (or their coordinator) cancels or pauses a series
from one of its requests; a volunteer accepts every week, or gives the commitment back."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from mutualaid.aid import selectors
from mutualaid.aid.forms import CancelForm, PausePeriodForm
from mutualaid.aid.models import HelpRequest, HelpSeries
from mutualaid.aid.services import TaskActionError
from mutualaid.aid.services.series import (
    assignment_accept_every_week,
    help_series_cancel,
    help_series_give_back_all,
    help_series_pause,
)
from mutualaid.aid.states import InvalidTransition


def _series_of(help_request: HelpRequest) -> HelpSeries:
    if help_request.series_id is None:
        raise Http404
    return HelpSeries.objects.select_related("category").get(pk=help_request.series_id)


@login_required
@require_http_methods(["GET", "POST"])
def series_cancel(request: HttpRequest, request_id: int) -> HttpResponse:
    """GET asks "are you sure?" (a page, so it works without JavaScript); POST stops the series."""
    help_request = selectors.request_for_viewer(request.user, request_id)
    series = _series_of(help_request)
    if request.method == "GET":
        if not series.active:
            return redirect("request-detail", request_id=help_request.pk)
        return render(
            request,
            "aid/series_cancel.html",
            {
                "help_request": help_request,
                "series": selectors.series_for_viewer(series),
                "form": CancelForm(),
            },
        )
    form = CancelForm(request.POST)
    if not form.is_valid():  # only a reason longer than the field allows (browsers stop it)
        messages.error(request, " ".join(form.errors["reason"]))
        return redirect("request-detail", request_id=help_request.pk)
    try:
        help_series_cancel(series=series, actor=request.user, reason=form.cleaned_data["reason"])
    except TaskActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The repeated help is cancelled, with its coming days."))
    return redirect("request-detail", request_id=help_request.pk)


@login_required
@require_POST
def series_pause(request: HttpRequest, request_id: int) -> HttpResponse:
    """Pause until a day (holidays), or resume with an empty day."""
    help_request = selectors.request_for_viewer(request.user, request_id)
    series = _series_of(help_request)
    form = PausePeriodForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["paused_until"]))
        return redirect("request-detail", request_id=help_request.pk)
    until = form.cleaned_data["paused_until"]
    try:
        help_series_pause(series=series, actor=request.user, until=until)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except TaskActionError as error:
        messages.error(request, str(error))
    else:
        if until is None:
            messages.success(request, _("The repeated help goes on again."))
        else:
            messages.success(
                request,
                _("Paused: no help until %(date)s, included.")
                % {"date": date_format(until, "SHORT_DATE_FORMAT")},
            )
    return redirect("request-detail", request_id=help_request.pk)


@login_required
@require_POST
def task_accept_every_week(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = selectors.assignment_for_volunteer(request.user, assignment_id)
    try:
        assignment_accept_every_week(assignment=assignment, volunteer=request.user)
    except (TaskActionError, InvalidTransition) as error:
        messages.error(request, str(error))
    else:
        # A task for several: one of its places is theirs each time, not the task.
        several = assignment.help_request.people_needed > 1
        messages.success(
            request,
            _("Thank you! You hold a place on the coming days too; each shows in your inbox.")
            if several
            else _("Thank you! You are the volunteer of the coming days too; each shows in your inbox."),
        )
    return redirect("task-detail", assignment_id=assignment.pk)


@login_required
@require_POST
def task_give_back_all(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = selectors.assignment_for_volunteer(request.user, assignment_id)
    series_id = assignment.help_request.series_id
    if series_id is None:
        raise Http404
    try:
        help_series_give_back_all(series=HelpSeries.objects.get(pk=series_id), volunteer=request.user)
    except TaskActionError as error:
        messages.error(request, str(error))
        return redirect("task-detail", assignment_id=assignment.pk)
    messages.success(
        request, _("You no longer come every week; we look for someone for the coming days. Thank you!")
    )
    return redirect("inbox")
