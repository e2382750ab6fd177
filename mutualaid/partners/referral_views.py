"""Partner organisations and their referrers: the coordinators' pages (register, invite,
deactivate, see the referrals) and the referrers' (join, file for a neighbour, follow)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mutualaid.aid import selectors
from mutualaid.aid.forms import CancelForm
from mutualaid.aid.services import TaskActionError
from mutualaid.aid.states import CANCELLABLE_REQUEST_STATUSES
from mutualaid.aid.views import add_service_errors, request_details
from mutualaid.limits import request_is_limited, too_many_message
from mutualaid.partners import referrals
from mutualaid.partners.forms import InvitationForm, JoinForm, OrganisationForm, ReferralForm
from mutualaid.partners.models import PartnerOrganisation, Referrer


def _coordinated_organisation(request: HttpRequest, organisation_id: int) -> PartnerOrganisation:
    organisation = PartnerOrganisation.objects.select_related("community").filter(pk=organisation_id).first()
    if organisation is None or not selectors.is_coordinator_of(request.user, organisation.community_id):
        raise Http404
    return organisation


@login_required
def organisations(request: HttpRequest) -> HttpResponse:
    community = selectors.community_for_coordinator(request.user, request.GET.get("community"))
    form = OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        organisation = referrals.organisation_register(
            community=community, name=form.cleaned_data["name"], coordinator=request.user
        )
        return redirect("coordinator-partner", organisation_id=organisation.pk)
    listed = community.partners.order_by("deactivated_at", "name")
    return render(
        request,
        "partners/organisations.html",
        {"community": community, "form": form, "organisations": listed},
    )


@login_required
def organisation_detail(request: HttpRequest, organisation_id: int) -> HttpResponse:
    organisation = _coordinated_organisation(request, organisation_id)
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = referrals.referrer_invite(
                organisation=organisation,
                email=form.cleaned_data["email"],
                invited_by=request.user,
                language=translation.get_language(),
            )
        except PermissionDenied:
            form.add_error(None, _("This organisation is deactivated: it invites no one."))
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
            return redirect("coordinator-partner", organisation_id=organisation.pk)
    return render(
        request,
        "partners/organisation.html",
        {
            "organisation": organisation,
            "community": organisation.community,
            "form": form,
            "referrers": organisation.referrers.select_related("user"),
            "invitations": organisation.invitations.filter(
                accepted_at__isnull=True, withdrawn_at__isnull=True
            ),
            "referrals": referrals.referrals_of_organisation(organisation),
        },
    )


@login_required
@require_POST
def organisation_deactivate(request: HttpRequest, organisation_id: int) -> HttpResponse:
    organisation = _coordinated_organisation(request, organisation_id)
    referrals.organisation_deactivate(organisation=organisation, actor=request.user)
    messages.success(
        request,
        _("%(name)s is deactivated: its referrers can no longer sign in and its keys are revoked.")
        % {"name": organisation.name},
    )
    return redirect("coordinator-partner", organisation_id=organisation.pk)


@login_required
@require_POST
def organisation_reactivate(request: HttpRequest, organisation_id: int) -> HttpResponse:
    organisation = _coordinated_organisation(request, organisation_id)
    if organisation.is_active:  # a second click, or another coordinator was quicker
        return redirect("coordinator-partner", organisation_id=organisation.pk)
    referrals.organisation_reactivate(organisation=organisation, actor=request.user)
    messages.success(
        request,
        _(
            "%(name)s is active again, and so are the referrers deactivated with it. Its revoked"
            " keys stay revoked: make new ones if it needs them."
        )
        % {"name": organisation.name},
    )
    return redirect("coordinator-partner", organisation_id=organisation.pk)


def _coordinated_referrer(request: HttpRequest, referrer_id: int) -> Referrer:
    referrer = Referrer.objects.select_related("organisation", "user").filter(pk=referrer_id).first()
    if referrer is None or not selectors.is_coordinator_of(request.user, referrer.organisation.community_id):
        raise Http404
    return referrer


@login_required
@require_POST
def referrer_deactivate(request: HttpRequest, referrer_id: int) -> HttpResponse:
    referrer = _coordinated_referrer(request, referrer_id)
    referrals.referrer_deactivate(referrer=referrer, actor=request.user)
    messages.success(request, _("%(name)s can no longer sign in.") % {"name": referrer.user.display_name})
    return redirect("coordinator-partner", organisation_id=referrer.organisation_id)


@login_required
@require_POST
def referrer_reactivate(request: HttpRequest, referrer_id: int) -> HttpResponse:
    referrer = _coordinated_referrer(request, referrer_id)
    if referrer.deactivated_at is None:  # a second click, or another coordinator was quicker
        return redirect("coordinator-partner", organisation_id=referrer.organisation_id)
    try:
        referrals.referrer_reactivate(referrer=referrer, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(name)s can sign in again.") % {"name": referrer.user.display_name})
    return redirect("coordinator-partner", organisation_id=referrer.organisation_id)


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    found = referrals.invitation_find(token)
    if found is None:
        return render(request, "partners/invitation_invalid.html", status=404)
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = referrals.invitation_accept(
                invitation=found,
                first_name=data["first_name"],
                last_name=data["last_name"],
                password=data["password1"],
                language=translation.get_language(),
            )
        except (PermissionDenied, ValidationError):
            return render(request, "partners/invitation_invalid.html", status=404)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome. You can now ask for help for a neighbour."))
        return redirect("referrals")
    return render(request, "partners/invitation.html", {"invitation": found, "form": form})


def _referrer_of(request: HttpRequest) -> Referrer:
    referrer = referrals.active_referrer(request.user)
    if referrer is None:
        raise Http404
    return referrer


@login_required
@require_GET
def referral_list(request: HttpRequest) -> HttpResponse:
    referrer = _referrer_of(request)
    return render(
        request,
        "partners/referrals.html",
        {
            "referrer": referrer,
            "referrals": referrals.referrals_of_organisation(referrer.organisation),
            "cancellable_statuses": CANCELLABLE_REQUEST_STATUSES,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def referral_cancel(request: HttpRequest, request_id: int) -> HttpResponse:
    """GET asks "are you sure?" (a page: no JavaScript needed); POST cancels. Only the
    referrer who filed it; their colleagues' referrals are theirs to cancel."""
    referrer = _referrer_of(request)
    referral = referrals.referral_for_referrer(referrer, request_id)
    if referral is None or referral.referrer_id != referrer.pk:
        raise Http404
    help_request = referral.help_request
    if request.method == "GET":
        if help_request.status not in CANCELLABLE_REQUEST_STATUSES:
            messages.info(
                request,
                _("Request #%(id)s is already %(status)s.")
                % {"id": help_request.pk, "status": help_request.get_status_display()},
            )
            return redirect("referrals")
        form = CancelForm(initial={"reason": request.GET.get("reason", "")[:255]})
        return render(
            request, "partners/referral_cancel.html", {"help_request": help_request, "cancel_form": form}
        )
    form = CancelForm(request.POST)
    if not form.is_valid():  # only a reason longer than the field allows (browsers stop it)
        messages.error(request, " ".join(form.errors["reason"]))
        return redirect("referrals")
    try:
        referrals.referral_cancel(
            referrer=referrer, help_request=help_request, reason=form.cleaned_data["reason"]
        )
    except TaskActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("Request #%(id)s for %(name)s is cancelled.")
            % {"id": help_request.pk, "name": help_request.contact_name},
        )
    return redirect("referrals")


@login_required
def referral_create(request: HttpRequest) -> HttpResponse:
    referrer = _referrer_of(request)
    community = referrer.organisation.community
    form = ReferralForm(request.POST or None, community=community)
    context = {"form": form, "community": community, "referrer": referrer}
    if request.method == "POST" and request_is_limited(request, "post_request", key="user"):
        form.is_valid()
        form.add_error(None, too_many_message())
        return render(request, "partners/referral_form.html", context, status=429)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            help_request = referrals.referral_create(
                referrer=referrer,
                consent=data["consent"],
                contact_name=data["contact_name"],
                contact_phone=data["contact_phone"],
                text_caller=data["text_caller"],
                **request_details(data),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("Request #%(id)s filed for %(name)s. We are looking for a volunteer.")
                % {"id": help_request.pk, "name": help_request.contact_name},
            )
            return redirect("referrals")
    return render(request, "partners/referral_form.html", context)
