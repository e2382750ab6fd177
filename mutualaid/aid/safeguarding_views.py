"""Safeguarding: anyone signed in tells the coordinators, privately, of a concern about the
person they deal with; coordinators list the concerns and suspend or reinstate volunteers."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mutualaid.aid import selectors, services
from mutualaid.aid.forms import ConcernForm, SuspendForm
from mutualaid.aid.models import ConcernReport
from mutualaid.aid.views import add_service_errors


def _concern_page(
    request: HttpRequest, help_request, *, about: str, back_url: str, about_label: str
) -> HttpResponse:
    try:
        services.person_of_concern(reporter=request.user, help_request=help_request, about=about)
    except PermissionDenied:
        raise Http404 from None  # the same answer as for a request they cannot see
    form = ConcernForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.concern_report_file(
                reporter=request.user, help_request=help_request, about=about, text=form.cleaned_data["text"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _(
                    "Thank you for telling us. A coordinator will look at it and may call you; "
                    "the person is not told."
                ),
            )
            return redirect(back_url)
    return render(
        request,
        "aid/concern_form.html",
        {"form": form, "about_label": about_label, "back_url": back_url, "community": help_request.community},
    )


@login_required
@require_http_methods(["GET", "POST"])
def concern_about_volunteer(request: HttpRequest, request_id: int) -> HttpResponse:
    """The requester's concern about the volunteer who came (or is coming)."""
    help_request = selectors.request_for_viewer(request.user, request_id)
    if help_request.requester_id != request.user.pk:
        raise Http404
    return _concern_page(
        request,
        help_request,
        about=ConcernReport.About.VOLUNTEER,
        back_url=reverse("request-detail", args=[help_request.pk]),
        about_label=_("the volunteer who helped with your request “%(category)s”")
        % {"category": help_request.category.label},
    )


@login_required
@require_http_methods(["GET", "POST"])
def concern_about_requester(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """A volunteer's concern about the person whose request was proposed to them."""
    assignment = selectors.assignment_for_volunteer(request.user, assignment_id)
    return _concern_page(
        request,
        assignment.help_request,
        about=ConcernReport.About.REQUESTER,
        back_url=reverse("task-detail", args=[assignment.pk]),
        about_label=_("the person who asked for help with “%(category)s”")
        % {"category": assignment.help_request.category.label},
    )


@login_required
@require_GET
def concerns(request: HttpRequest) -> HttpResponse:
    community = selectors.community_for_coordinator(request.user, request.GET.get("community"))
    return render(
        request,
        "aid/coordinator/concerns.html",
        {
            "community": community,
            "reports": selectors.concern_reports_for_community(community),
            "suspended": selectors.suspended_volunteers(community),
        },
    )


@login_required
@require_POST
def concern_dealt_with(request: HttpRequest, report_id: int) -> HttpResponse:
    report = selectors.concern_report_for_coordinator(request.user, report_id)
    try:
        services.concern_report_mark_dealt_with(report=report, coordinator=request.user)
    except services.TaskActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Marked as dealt with."))
    return redirect("coordinator-concerns")


@login_required
@require_http_methods(["GET", "POST"])
def volunteer_suspend(request: HttpRequest, volunteer_id: int) -> HttpResponse:
    offer = selectors.volunteer_offer_for_coordinator(request.user, volunteer_id)
    form = SuspendForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.volunteer_suspend(
                offer=offer, coordinator=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except services.TaskActionError as error:
            messages.error(request, str(error))
            return redirect("coordinator-concerns")
        else:
            messages.success(
                request,
                _("%(name)s is suspended: their tasks went back to matching, and they get no proposals.")
                % {"name": offer.volunteer.display_name},
            )
            return redirect("coordinator-concerns")
    return render(request, "aid/coordinator/suspend.html", {"offer": offer, "form": form})


@login_required
@require_POST
def volunteer_suspension_lift(request: HttpRequest, volunteer_id: int) -> HttpResponse:
    offer = selectors.volunteer_offer_for_coordinator(request.user, volunteer_id)
    try:
        services.volunteer_suspension_lift(offer=offer, coordinator=request.user)
    except services.TaskActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, _("The suspension of %(name)s is lifted.") % {"name": offer.volunteer.display_name}
        )
    return redirect("coordinator-concerns")
