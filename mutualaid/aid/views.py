"""Pages for citizens, volunteers and coordinators: parse, check, call a service, render."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from matching import explain
from matching.reasons import reason_label
from mutualaid.aid import geocoding, selectors, services
from mutualaid.aid.forms import (
    CancelForm,
    DeclineForm,
    DoneForm,
    ExpenseDisputeForm,
    ExpenseForm,
    ExpenseSettleForm,
    FeedbackForm,
    HelpRequestForm,
    NoteForm,
    PausePeriodForm,
    RepeatingHelpRequestForm,
    VolunteerOfferForm,
    help_request_form_initial,
    repeat_details,
)
from mutualaid.aid.models import Community, TaskExpense, TaskFeedback, VolunteerOffer
from mutualaid.aid.services.assignments import SUSPENDED_MESSAGE
from mutualaid.aid.services.series import help_series_create
from mutualaid.aid.states import CANCELLABLE_REQUEST_STATUSES, InvalidTransition
from mutualaid.limits import request_is_limited, too_many_message
from mutualaid.reports import statistics


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "aid/home.html", {"communities": Community.objects.only("name", "slug")})


def _community_of(request: HttpRequest):
    if request.user.community is None:
        raise Http404
    return request.user.community


def request_details(data: dict) -> dict:
    """What a request form (the citizen's or the phone intake) passes to the service."""
    fields = (
        "category",
        "description",
        "urgency",
        "location",
        "time_windows",
        "any_time",
        "language_needed",
        "people_needed",
        "idempotency_key",
    )
    return {field: data[field] for field in fields}


def add_service_errors(form, error: ValidationError) -> None:
    for field, field_errors in error.message_dict.items():
        form.add_error(field if field in form.fields else None, field_errors)


@login_required
def my_requests(request: HttpRequest) -> HttpResponse:
    help_requests = selectors.requests_of_citizen(request.user)
    return render(
        request,
        "aid/my_requests.html",
        {"help_requests": help_requests, "series_list": selectors.series_of_citizen(request.user)},
    )


@login_required
def request_create(request: HttpRequest) -> HttpResponse:
    community = _community_of(request)
    form = RepeatingHelpRequestForm(request.POST or None, community=community)
    if request.method == "POST" and request_is_limited(request, "post_request", key="user"):
        form.is_valid()
        form.add_error(None, too_many_message())
        return render(request, "aid/request_form.html", {"form": form, "community": community}, status=429)
    if request.method == "POST" and form.is_valid() and form.cleaned_data["repeat"]:
        try:
            series = help_series_create(
                community=community,
                requester=request.user,
                created_by=request.user,
                **repeat_details(form.cleaned_data),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _series_posted(request, series)
    elif request.method == "POST" and form.is_valid():
        try:
            help_request = services.help_request_create(
                community=community,
                requester=request.user,
                created_by=request.user,
                **request_details(form.cleaned_data),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Your request is posted. We are looking for a volunteer."))
            return redirect("request-detail", request_id=help_request.pk)
    return render(request, "aid/request_form.html", {"form": form, "community": community})


def _series_posted(request: HttpRequest, series) -> HttpResponse:
    messages.success(
        request, _("Your repeated request is posted: %(rule)s.") % {"rule": series.label_with_people}
    )
    first = series.occurrences.order_by("series_date").first()
    if first is None:  # its first day is further ahead than the worker files them
        return redirect("my-requests")
    return redirect("request-detail", request_id=first.pk)


@login_required
def request_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request = selectors.request_for_viewer(request.user, request_id)
    live = help_request.live_assignments[0] if help_request.live_assignments else None
    return render(
        request,
        "aid/request_detail.html",
        {
            "help_request": help_request,
            "live_assignment": live,
            # Who is coming: several volunteers' names for a task that needs them.
            "coming": help_request.coming() if help_request.needs_several else [],
            "waiting_reason": reason_label(help_request.unassigned_reason)
            if help_request.unassigned_reason
            else "",
            "cancel_form": CancelForm(),
            "note_form": NoteForm(initial={"note": help_request.note_for_volunteer}),
            "history": help_request.status_changes.filter(subject="request").select_related("actor"),
            **closing_context(help_request),
            "series": selectors.series_for_viewer(help_request.series) if help_request.series_id else None,
            "pause_form": PausePeriodForm(),
        },
    )


def closing_context(help_request, *, for_coordinator: bool = False) -> dict:
    """Once done: the person's answer (thanks or "did not come") and the task's expense; a
    coordinator answers only for someone who phoned (a person with an account answers
    themselves)."""
    if help_request.status != "done":
        return {}
    return {
        "can_answer": not for_coordinator or help_request.requester_id is None,
        "settle_form": ExpenseSettleForm(),
        "feedback": TaskFeedback.objects.filter(help_request=help_request).first(),
        "expense": TaskExpense.objects.filter(help_request=help_request).first(),
        "feedback_form": FeedbackForm(),
        "dispute_form": ExpenseDisputeForm(),
    }


@login_required
def request_edit(request: HttpRequest, request_id: int) -> HttpResponse:
    """Change what, when and where while no volunteer has accepted."""
    help_request = selectors.request_for_viewer(request.user, request_id)
    if help_request.status not in services.EDITABLE_REQUEST_STATUSES:
        messages.error(request, _("A volunteer has accepted: add a note for them instead."))
        return redirect("request-detail", request_id=help_request.pk)
    form = HelpRequestForm(
        request.POST or None,
        community=help_request.community,
        initial=help_request_form_initial(help_request),
    )
    if request.method == "POST" and form.is_valid():
        try:
            details = request_details(form.cleaned_data)
            details.pop("idempotency_key")  # a change is not a new filing
            services.help_request_edit(help_request=help_request, actor=request.user, **details)
        except ValidationError as error:
            add_service_errors(form, error)
        except services.TaskActionError as error:
            messages.error(request, str(error))
            return redirect("request-detail", request_id=help_request.pk)
        else:
            messages.success(request, _("Your request is changed. We are looking for a volunteer again."))
            return redirect("request-detail", request_id=help_request.pk)
    return render(
        request,
        "aid/request_form.html",
        {"form": form, "community": help_request.community, "help_request": help_request},
    )


@login_required
@require_POST
def request_note(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request = selectors.request_for_viewer(request.user, request_id)
    form = NoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["note"]))
        return redirect("request-detail", request_id=help_request.pk)
    try:
        services.help_request_add_note(
            help_request=help_request, actor=request.user, note=form.cleaned_data["note"]
        )
    except (services.TaskActionError, ValidationError) as error:
        messages.error(
            request, " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        )
    else:
        messages.success(request, _("Your note is passed on to the volunteer."))
    return redirect("request-detail", request_id=help_request.pk)


@login_required
@require_http_methods(["GET", "POST"])
def request_cancel(request: HttpRequest, request_id: int) -> HttpResponse:
    """GET asks "are you sure?" (a page, so it works without JavaScript); POST cancels."""
    help_request = selectors.request_for_viewer(request.user, request_id)
    if request.method == "GET":
        if help_request.status not in CANCELLABLE_REQUEST_STATUSES:
            return redirect("request-detail", request_id=help_request.pk)
        form = CancelForm(initial={"reason": request.GET.get("reason", "")[:255]})
        return render(request, "aid/request_cancel.html", {"help_request": help_request, "cancel_form": form})
    form = CancelForm(request.POST)
    if not form.is_valid():  # only a reason longer than the field allows (browsers stop it)
        messages.error(request, " ".join(form.errors["reason"]))
        return redirect("request-detail", request_id=help_request.pk)
    try:
        services.help_request_cancel(
            help_request=help_request, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except services.TaskActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Your request is cancelled."))
    return redirect("request-detail", request_id=help_request.pk)


@login_required
def offer_edit(request: HttpRequest) -> HttpResponse:
    community = _community_of(request)
    offer = VolunteerOffer.objects.filter(volunteer=request.user).first()
    initial = None
    if offer is not None:
        initial = {
            "skills": list(offer.skills.all()),
            "address": offer.address,
            "latitude": offer.latitude if not offer.address else None,
            "longitude": offer.longitude if not offer.address else None,
            "max_km": offer.max_km,
            "availability": offer.availability,
            "capacity": offer.capacity,
            "languages": offer.languages,
        }
    form = VolunteerOfferForm(request.POST or None, initial=initial, community=community)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.volunteer_offer_save(
                volunteer=request.user,
                community=community,
                skills=data["skills"],
                location=data["location"],
                max_km=data["max_km"],
                availability=data["availability"],
                capacity=data["capacity"],
                languages=data["languages"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request, _("Thank you! Your offer is saved; proposals will appear in your inbox.")
            )
            return redirect("inbox")
    return render(request, "aid/offer_form.html", {"form": form, "offer": offer})


@login_required
@require_POST
def offer_pause(request: HttpRequest) -> HttpResponse:
    offer = VolunteerOffer.objects.filter(volunteer=request.user).first()
    if offer is None:
        raise Http404
    paused = request.POST.get("paused") == "1"
    services.volunteer_offer_set_paused(offer=offer, paused=paused)
    messages.success(request, _("Paused: you get no new proposals.") if paused else _("Welcome back!"))
    return redirect("inbox")


@login_required
@require_POST
def offer_available_now(request: HttpRequest) -> HttpResponse:
    offer = VolunteerOffer.objects.filter(volunteer=request.user).first()
    if offer is None:
        raise Http404
    available = request.POST.get("available") == "1"
    offer = services.volunteer_offer_set_available_now(offer=offer, available=available)
    if available:
        until = date_format(timezone.localtime(offer.available_now_until), "TIME_FORMAT")
        messages.success(
            request, _("Thank you! Urgent requests can reach you until %(time)s.") % {"time": until}
        )
    else:
        messages.success(request, _("Switched off: back to the times in your offer."))
    return redirect("inbox")


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    offer = VolunteerOffer.objects.filter(volunteer=request.user).first()
    if offer is None:
        return redirect("offer-edit")
    inbox = selectors.inbox_of_volunteer(request.user)
    # Idle: say why nothing was proposed, and what would help.
    waiting_list_position = services.waiting_list_position(offer)
    idle = not inbox["proposed"] and not offer.is_paused and waiting_list_position is None
    return render(
        request,
        "aid/inbox.html",
        {
            "inbox": inbox,
            "idle_advice": explain.why_no_proposal(request.user) if idle else None,
            "offer": offer,
            "waiting_list_position": waiting_list_position,
            "available_now": offer.is_available_now(),
            "available_now_hours": round(settings.AVAILABLE_NOW_HOURS),
            "decline_form": DeclineForm(),
            "history": statistics.volunteer_history(request.user),
            "suspended_message": SUSPENDED_MESSAGE,
        },
    )


def task_page(request: HttpRequest, assignment, *, done_form=None, expense_form=None, status: int = 200):
    """A volunteer's task, with the forms a refused post left filled in (and their messages)."""
    if VolunteerOffer.objects.filter(volunteer=request.user, suspended_at__isnull=False).exists():
        # A suspended volunteer opens no task: they are told why they cannot, and whom to ask.
        return render(
            request,
            "aid/suspended.html",
            {"suspended_message": SUSPENDED_MESSAGE, "community": request.user.community},
            status=403,
        )
    help_request = assignment.help_request
    community = help_request.community
    with_expense = help_request.category.carries_expenses
    return render(
        request,
        "aid/task_detail.html",
        {
            "task": selectors.task_for_volunteer(assignment),
            "decline_form": DeclineForm(),
            "done_form": done_form or DoneForm(community=community, with_expense=with_expense),
            "expense_form": expense_form or ExpenseForm(community=community),
            "with_expense": with_expense,
            "expense_cap": community.expense_cap,
            "series": (
                selectors.series_for_volunteer(help_request.series, request.user)
                if help_request.series_id
                else None
            ),
        },
        status=status,
    )


@login_required
def task_detail(request: HttpRequest, assignment_id: int) -> HttpResponse:
    return task_page(request, selectors.assignment_for_volunteer(request.user, assignment_id))


def _task_action(request: HttpRequest, assignment_id: int, action: Callable, success: str) -> HttpResponse:
    assignment = selectors.assignment_for_volunteer(request.user, assignment_id)
    try:
        action(assignment)
    except (services.TaskActionError, InvalidTransition) as error:
        messages.error(request, str(error))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, success)
    return redirect("task-detail", assignment_id=assignment.pk)


@login_required
@require_POST
def task_accept(request: HttpRequest, assignment_id: int) -> HttpResponse:
    return _task_action(
        request,
        assignment_id,
        lambda assignment: services.assignment_accept(assignment=assignment, volunteer=request.user),
        _("Thank you! The requester now sees that you are coming."),
    )


@login_required
@require_POST
def task_decline(request: HttpRequest, assignment_id: int) -> HttpResponse:
    form = DeclineForm(request.POST)
    assignment = selectors.assignment_for_volunteer(request.user, assignment_id)
    if not form.is_valid():  # only a reason longer than the field allows (browsers stop it)
        messages.error(request, " ".join(form.errors["reason"]))
        return redirect("task-detail", assignment_id=assignment.pk)
    try:
        services.assignment_decline(
            assignment=assignment, volunteer=request.user, reason=form.cleaned_data["reason"]
        )
    except (services.TaskActionError, InvalidTransition) as error:
        messages.error(request, str(error))
        return redirect("task-detail", assignment_id=assignment.pk)
    messages.success(request, _("Declined. We will look for someone else."))
    return redirect("inbox")


@login_required
@require_POST
def task_done(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """Done, with the hours and (shopping, pharmacy) what the volunteer paid: both or neither."""
    assignment = selectors.assignment_for_volunteer(request.user, assignment_id)
    help_request = assignment.help_request
    with_expense = help_request.category.carries_expenses
    form = DoneForm(request.POST, community=help_request.community, with_expense=with_expense)
    if form.is_valid():
        amount = form.cleaned_data.get("amount")
        try:
            with transaction.atomic():
                services.assignment_complete(
                    assignment=assignment,
                    volunteer=request.user,
                    hours_spent=form.cleaned_data["hours_spent"],
                )
                if amount is not None:
                    services.expense_record(
                        assignment=assignment,
                        volunteer=request.user,
                        amount=amount,
                        receipt_note=form.cleaned_data["receipt_note"],
                    )
        except ValidationError as error:
            add_service_errors(form, error)
        except (services.TaskActionError, InvalidTransition) as error:
            messages.error(request, str(error))
            return redirect("task-detail", assignment_id=assignment.pk)
        else:
            messages.success(request, _("Marked as done. Thank you for helping!"))
            return redirect("task-detail", assignment_id=assignment.pk)
    return task_page(request, assignment, done_form=form, status=400)


@login_required
@require_GET
def place_description(request: HttpRequest) -> JsonResponse:
    """A point clicked on the map, in words, so the person can check it is their street."""
    try:
        latitude, longitude = float(request.GET["latitude"]), float(request.GET["longitude"])
    except (KeyError, ValueError):
        return JsonResponse({"error": _("Give latitude and longitude as numbers.")}, status=400)
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):  # also refuses nan and inf
        return JsonResponse({"error": _("Latitude and longitude are outside the map.")}, status=400)
    return JsonResponse({"description": geocoding.describe_point(latitude, longitude)})


@login_required
@require_POST
def task_give_back(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """ "I can't any more" (the reminder links here): the task goes back to matching at once."""
    assignment = selectors.assignment_for_volunteer(request.user, assignment_id)
    try:
        services.assignment_give_back(assignment=assignment, volunteer=request.user)
    except (services.TaskActionError, InvalidTransition) as error:
        messages.error(request, str(error))
        return redirect("task-detail", assignment_id=assignment.pk)
    messages.success(
        request, _("The task is given back; we offer it to someone else now. Thank you for telling us.")
    )
    return redirect("inbox")
