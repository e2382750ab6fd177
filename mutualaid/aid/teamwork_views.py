"""Coordinators working on a request together: team notes and taking its call."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mutualaid.aid import selectors, services
from mutualaid.aid.coordinator_views import _coordinated_request, _override_page
from mutualaid.aid.forms import CallDoneForm, TeamNoteForm
from mutualaid.aid.views import add_service_errors


def _back(request: HttpRequest, help_request) -> HttpResponse:
    """Back where the button was (the call-back list or the dashboard), else the request page."""
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("coordinator-request", request_id=help_request.pk)


@login_required
@require_POST
def team_note_add(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request = _coordinated_request(request, request_id)
    form = TeamNoteForm(request.POST)
    if form.is_valid():
        try:
            services.team_note_add(
                help_request=help_request, coordinator=request.user, text=form.cleaned_data["text"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Note added for the team."))
            return redirect("coordinator-request", request_id=help_request.pk)
    return _override_page(request, help_request, team_note_form=form)


@login_required
@require_POST
def call_take(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request = _coordinated_request(request, request_id)
    try:
        taken = services.call_take(
            help_request=help_request, coordinator=request.user, kind=request.POST.get("kind", "call_back")
        )
    except services.TaskActionError as error:
        messages.error(request, str(error))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("This call (%(kind)s) is yours: the other coordinators see that you are calling.")
            % {"kind": taken.get_call_kind_display()},
        )
    return _back(request, help_request)


@login_required
@require_POST
def call_release(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request = _coordinated_request(request, request_id)
    try:
        services.call_release(help_request=help_request, coordinator=request.user)
    except services.TaskActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Released: another coordinator can take the call."))
    return _back(request, help_request)


@login_required
@require_POST
def call_done(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request = _coordinated_request(request, request_id)
    form = CallDoneForm(request.POST)
    if form.is_valid():
        try:
            services.call_done(
                help_request=help_request, coordinator=request.user, outcome=form.cleaned_data["outcome"]
            )
        except services.TaskActionError as error:
            messages.error(request, str(error))
        except ValidationError as error:
            add_service_errors(form, error)
            return _override_page(
                request, selectors.request_for_viewer(request.user, request_id), call_done_form=form
            )
        else:
            messages.success(request, _("Noted: the call is made, and what was said is in the team notes."))
        return _back(request, help_request)
    return _override_page(request, help_request, call_done_form=form)
