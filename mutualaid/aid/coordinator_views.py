"""Coordinators' pages: phone intake, call-backs, overrides and messages."""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from matching import explain
from matching.models import MatchingRun
from matching.reasons import reason_label
from mutualaid.accounts.models import User
from mutualaid.aid import request_list, selectors, services
from mutualaid.aid.forms import (
    AssignForm,
    AttachForm,
    CallDoneForm,
    CoordinatorMessageForm,
    PausePeriodForm,
    RepeatingPhoneIntakeForm,
    TeamNoteForm,
    UnassignForm,
    VolunteerCheckForm,
    VolunteerSearchForm,
    repeat_details,
)
from mutualaid.aid.models import CoordinatorMessage, VolunteerOffer
from mutualaid.aid.services.series import help_series_create
from mutualaid.aid.states import InvalidTransition
from mutualaid.aid.views import add_service_errors, closing_context, request_details
from mutualaid.reports import charts, statistics
from notifications.outbox import failed_recently, waiting_for_daily_cap


def _community(request: HttpRequest):
    return selectors.community_for_coordinator(request.user, request.GET.get("community"))


@login_required
def phone_intake(request: HttpRequest) -> HttpResponse:
    community = _community(request)
    form = RepeatingPhoneIntakeForm(request.POST or None, community=community)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        caller = {
            "community": community,
            "requester": None,
            "created_by": request.user,
            "contact_name": data["contact_name"],
            "contact_phone": data["contact_phone"],
            "text_caller": data["text_caller"],
        }
        try:
            if data["repeat"]:
                series = help_series_create(**caller, **repeat_details(data))
                filed = _("Repeated help filed for %(name)s: %(rule)s.") % {
                    "name": series.contact_name,
                    "rule": series.label_with_people,
                }
            else:
                help_request = services.help_request_create(**caller, **request_details(data))
                filed = _(
                    "Request #%(id)s filed for %(name)s. "
                    "You will find it on the call-back list once it moves."
                ) % {"id": help_request.pk, "name": help_request.contact_name}
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, filed)
            return redirect("coordinator-intake")
    return render(request, "aid/coordinator/intake.html", {"form": form, "community": community})


@login_required
def callbacks(request: HttpRequest) -> HttpResponse:
    community = _community(request)
    return render(
        request,
        "aid/coordinator/callbacks.html",
        {"community": community, "calls": selectors.callbacks_for_community(community)},
    )


@login_required
@require_POST
def callback_done(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request = selectors.request_for_viewer(request.user, request_id)
    services.help_request_mark_called_back(help_request=help_request, coordinator=request.user)
    messages.success(request, _("Noted: %(name)s was called back.") % {"name": help_request.contact_name})
    return redirect("coordinator-callbacks")


def _override_page(request: HttpRequest, help_request, **forms) -> HttpResponse:
    # Each volunteer with their load and why they were not chosen, so the reason can be checked.
    choices = explain.volunteers_for_request(help_request)
    live = help_request.live_assignments[0] if help_request.live_assignments else None
    # With a live task the form gives it to someone else instead: suggest another volunteer.
    others = [choice for choice in choices if live is None or choice.volunteer.pk != live.volunteer_id]
    several = help_request.needs_several
    context = {
        "help_request": help_request,
        "live_assignment": live,
        # A task for several volunteers: a place no one holds or is asked for can be given.
        "several": several,
        # An urgent request asked of several volunteers at once: each ask can be taken back.
        "asked_several": not several and len(help_request.live_assignments) > 1,
        "open_place": several
        and help_request.status in ("open", "proposed")
        and len(help_request.live_assignments) + help_request.places_done() < help_request.people_needed,
        "waiting_reason": reason_label(help_request.unassigned_reason)
        if help_request.unassigned_reason
        else "",
        "choices": choices,
        "assign_form": forms.get("assign_form")
        or AssignForm(
            volunteers=_volunteers(choices), initial={"volunteer": others[0].volunteer if others else None}
        ),
        "unassign_form": forms.get("unassign_form") or UnassignForm(),
        "attach_form": AttachForm(people=selectors.accounts_matching_caller(help_request))
        if help_request.requester_id is None
        else None,
        "hold_minutes": services.hold_minutes(),
        # The team's own work on the request (templates/aid/coordinator/_teamwork.html).
        "team_notes": selectors.team_notes_of_request(help_request),
        "team_note_form": forms.get("team_note_form") or TeamNoteForm(),
        "call_done_form": forms.get("call_done_form") or CallDoneForm(),
        "call_claim_minutes": services.call_claim_minutes(),
        "history": selectors.request_history_for_coordinators(help_request),
        "series": selectors.series_for_viewer(help_request.series) if help_request.series_id else None,
        "pause_form": PausePeriodForm(),
        "sent_messages": help_request.outgoing_messages.select_related("recipient").order_by(
            "created_at", "pk"
        ),
        **closing_context(help_request, for_coordinator=True),
    }
    return render(request, "aid/coordinator/request.html", context)


def _volunteers(choices):
    return User.objects.filter(pk__in=[choice.volunteer.pk for choice in choices])


def _coordinated_request(request: HttpRequest, request_id: int):
    help_request = selectors.request_for_viewer(request.user, request_id)
    if not selectors.is_coordinator_of(request.user, help_request.community_id):
        raise Http404
    return help_request


@login_required
def request_overview(request: HttpRequest, request_id: int) -> HttpResponse:
    return _override_page(request, _coordinated_request(request, request_id))


def _give_task(request: HttpRequest, help_request, give, success: str) -> HttpResponse:
    """The assign form, handed to `give` (assign or give to another); `success` names the volunteer."""
    form = AssignForm(
        request.POST, volunteers=_volunteers(selectors.volunteer_choices(help_request, limit=10_000))
    )
    if form.is_valid():
        volunteer = form.cleaned_data["volunteer"]
        try:
            give(
                volunteer=volunteer,
                coordinator=request.user,
                reason=form.cleaned_data["reason"],
                agreed_by_phone=form.cleaned_data["agreed_by_phone"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except (services.TaskActionError, InvalidTransition) as error:
            messages.error(request, str(error))
        else:
            messages.success(request, success % {"name": volunteer.display_name})
            return redirect("coordinator-request", request_id=help_request.pk)
    return _override_page(
        request, selectors.request_for_viewer(request.user, help_request.pk), assign_form=form
    )


@login_required
@require_POST
def request_assign(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request = _coordinated_request(request, request_id)
    give = functools.partial(services.assignment_assign_by_coordinator, help_request=help_request)
    return _give_task(request, help_request, give, _("Assigned to %(name)s."))


@login_required
@require_POST
def request_unassign(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request = _coordinated_request(request, request_id)
    form = UnassignForm(request.POST)
    live = help_request.live_assignments[0] if help_request.live_assignments else None
    chosen = request.POST.get("assignment", "")
    if chosen:  # one place of a task for several volunteers
        live = next((place for place in help_request.live_assignments if str(place.pk) == chosen), None)
    if form.is_valid() and live is not None:
        try:
            services.assignment_unassign(
                assignment=live, coordinator=request.user, reason=form.cleaned_data["reason"]
            )
        except (services.TaskActionError, InvalidTransition) as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                ngettext(
                    "The volunteer is released. The request is held for you for %(minutes)s minute: "
                    "give it to someone, or release the hold and matching looks again without them.",
                    "The volunteer is released. The request is held for you for %(minutes)s minutes: "
                    "give it to someone, or release the hold and matching looks again without them.",
                    services.hold_minutes(),
                )
                % {"minutes": services.hold_minutes()},
            )
            return redirect("coordinator-request", request_id=help_request.pk)
    elif live is None:
        messages.error(request, _("No volunteer holds this request."))
        return redirect("coordinator-request", request_id=help_request.pk)
    return _override_page(request, help_request, unassign_form=form)


@login_required
@require_POST
def request_reassign(request: HttpRequest, request_id: int) -> HttpResponse:
    """Give the live task to another volunteer instead, in one step."""
    help_request = _coordinated_request(request, request_id)
    live = help_request.live_assignments[0] if help_request.live_assignments else None
    if live is None:
        messages.error(request, _("No volunteer holds this request; assign one instead."))
        return redirect("coordinator-request", request_id=help_request.pk)
    give = functools.partial(services.assignment_reassign_by_coordinator, assignment=live)
    return _give_task(request, help_request, give, _("Given to %(name)s instead."))


@login_required
@require_POST
def request_hold(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request = _coordinated_request(request, request_id)
    try:
        help_request = services.help_request_hold(help_request=help_request, coordinator=request.user)
    except services.TaskActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("Held for you until %(time)s: matching leaves this request alone.")
            % {"time": time_format(timezone.localtime(help_request.held_until), "H:i")},
        )
    return redirect("coordinator-request", request_id=help_request.pk)


@login_required
@require_POST
def request_release_hold(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request = _coordinated_request(request, request_id)
    try:
        services.help_request_release_hold(help_request=help_request, coordinator=request.user)
    except services.TaskActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Hold released: matching may look at this request again."))
    return redirect("coordinator-request", request_id=help_request.pk)


@login_required
@require_POST
def request_attach(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request = _coordinated_request(request, request_id)
    form = AttachForm(request.POST, people=selectors.accounts_matching_caller(help_request))
    if form.is_valid():
        try:
            services.help_request_attach_to_account(
                help_request=help_request, person=form.cleaned_data["person"], coordinator=request.user
            )
        except (services.TaskActionError, ValidationError) as error:
            messages.error(request, " ".join(error.messages) if hasattr(error, "messages") else str(error))
        else:
            messages.success(request, _("The request now shows in their account."))
    else:
        messages.error(request, _("Choose the caller's account."))
    return redirect("coordinator-request", request_id=help_request.pk)


@login_required
def message_volunteers(request: HttpRequest) -> HttpResponse:
    community = _community(request)
    form = CoordinatorMessageForm(request.POST or None, community=community)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            sent = services.coordinator_message_send(
                coordinator=request.user,
                community=community,
                subject=data["subject"],
                body=data["body"],
                volunteer=data["volunteer"],
                skill=data["skill"],
                neighbourhood=data["neighbourhood"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                ngettext("Sent to %(count)s volunteer.", "Sent to %(count)s volunteers.", sent.recipients)
                % {"count": sent.recipients},
            )
            return redirect("coordinator-messages")
    log = CoordinatorMessage.objects.filter(community=community).select_related(
        "sender", "skill", "volunteer"
    )[:50]
    return render(
        request, "aid/coordinator/messages.html", {"form": form, "community": community, "log": log}
    )


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    community = selectors.community_for_coordinator(request.user, request.GET.get("community"))
    categories = request_list.community_categories(community)
    filter_form = request_list.RequestFilterForm(
        request.GET, categories=categories, neighbourhoods=request_list.neighbourhoods_of(community)
    )
    filters = filter_form.filters()  # an unreadable filter is left out; the form marks it
    requests_page = request_list.request_page(community, filters)
    for help_request in requests_page:
        help_request.waiting_reason = reason_label(help_request.unassigned_reason)
    board = selectors.community_board(community)
    last_run = MatchingRun.objects.filter(community=community).first()
    for column in board["columns"]:
        for help_request in column["requests"]:
            help_request.waiting_reason = reason_label(help_request.unassigned_reason)
    shortage = statistics.volunteer_shortage(community)
    return render(
        request,
        "aid/dashboard.html",
        {
            "community": community,
            "filter_form": filter_form,
            "filters": filters,
            "requests_page": requests_page,
            "page_query": _query_without_page(request),
            "board": board,
            "last_run": last_run,
            "counters": statistics.dashboard_counters(community),
            "skill_chart": charts.shortage_chart(
                shortage["by_category"],
                chart_id="shortage-by-category",
                title=_("Open requests and available volunteers per kind of help"),
                label_heading=_("Kind of help"),
            ),
            "area_chart": charts.shortage_chart(
                shortage["by_neighbourhood"],
                chart_id="shortage-by-neighbourhood",
                title=_("Open requests and available volunteers per neighbourhood"),
                label_heading=_("Neighbourhood"),
            ),
            "callbacks": selectors.callbacks_count(community),
            "outbox_failures": failed_recently(community_id=community.pk),
            "texts_waiting_for_cap": waiting_for_daily_cap(community_id=community.pk),
            "phones_to_check": community.members.exclude(phone_to_check="").count(),
            "sms_daily_cap": settings.SMS_DAILY_CAP,
            # The same requests as the list (every page of it), whatever the filters.
            "map_points": request_list.community_map_points(
                community, categories, request_list.filtered_requests(community, filters)
            ),
            "follow_ups": selectors.follow_ups_for_community(community),
        },
    )


def _query_without_page(request: HttpRequest) -> str:
    """The filters' query string for the page links (each adds its own page number)."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@login_required
@require_POST
def dashboard_match_now(request: HttpRequest) -> HttpResponse:
    community = selectors.community_for_coordinator(request.user, request.POST.get("community"))
    services.matching_run_now(community=community, coordinator=request.user)
    messages.success(request, _("Matching will run in a moment; new proposals appear here."))
    return redirect("dashboard")


@login_required
@require_GET
def volunteer_directory(request: HttpRequest) -> HttpResponse:
    """The community's volunteers: who they are, how to reach them, their load and checks."""
    community = _community(request)
    form = VolunteerSearchForm(request.GET or None)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    page = Paginator(selectors.volunteer_directory(community, query), selectors.DIRECTORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    offers = selectors.with_load(list(page.object_list))
    vetting = selectors.vetting_of([offer.volunteer_id for offer in offers])
    for offer in offers:
        offer.vetting = vetting[offer.volunteer_id]
        seen = [
            moment for moment in (offer.volunteer.last_login, offer.load.last_answer) if moment is not None
        ]
        offer.last_active = max(seen) if seen else None
    # The search (and a superuser's community) carried over to the other pages.
    kept = request.GET.copy()
    kept.pop("page", None)
    return render(
        request,
        "aid/coordinator/volunteers.html",
        {
            "community": community,
            "form": form,
            "query": query,
            "page": page,
            "offers": offers,
            "kept": kept.urlencode(),
            "waiting_count": services.waiting_volunteers(community).count(),
        },
    )


@login_required
def volunteer_checks(request: HttpRequest, volunteer_id: int) -> HttpResponse:
    """A volunteer's checks (vetting), and the form to record a new one."""
    community = _community(request)
    offer = get_object_or_404(
        VolunteerOffer.objects.select_related("volunteer"), volunteer_id=volunteer_id, community=community
    )
    form = VolunteerCheckForm(request.POST or None, initial={"checked_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            services.volunteer_check_record(
                volunteer=offer.volunteer, coordinator=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("Recorded: %(what)s for %(name)s.")
                % {
                    "what": dict(VolunteerCheckForm.base_fields["kind"].choices)[form.cleaned_data["kind"]],
                    "name": offer.volunteer.display_name,
                },
            )
            return redirect("coordinator-volunteer-checks", volunteer_id=volunteer_id)
    return render(
        request,
        "aid/coordinator/volunteer_checks.html",
        {
            "community": community,
            "offer": offer,
            "form": form,
            "vetting": selectors.vetting_of([offer.volunteer_id])[offer.volunteer_id],
        },
    )
