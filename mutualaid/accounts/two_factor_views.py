"""The second step of signing in: enrolling an authenticator app, giving its code (or a
recovery code), seeing recovery codes once, and a coordinator resetting a lost phone.

The rules are in mutualaid/accounts/two_factor.py; TwoFactorMiddleware sends people here.
"""

from __future__ import annotations

from urllib.parse import urlencode

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_otp import login as otp_login

from mutualaid.accounts import two_factor
from mutualaid.accounts.forms import OneTimeCodeForm, RecoveryCodeForm
from mutualaid.accounts.models import User
from mutualaid.aid import selectors
from mutualaid.aid.models import Community
from mutualaid.limits import request_is_limited, too_many_message

# Recovery codes wait here between the enrolment's POST and the page that shows them once.
NEW_CODES_SESSION_KEY = "two_factor_new_codes"


def _next(request: HttpRequest) -> str:
    """Where the person was going (only a path on this site), else the home page."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/"


def _only_those_who_use_it(user: User) -> None:
    """Citizens and volunteers have no second step (see two_factor.py)."""
    if not two_factor.role_requires_two_factor(user):
        raise Http404


def _person_key(group: str, request: HttpRequest) -> str:
    return str(request.user.pk)


def _too_many_codes(request: HttpRequest) -> bool:
    return request_is_limited(request, "two_factor", key=_person_key)


@login_required
def enrol(request: HttpRequest) -> HttpResponse:
    """Scan (or type) a new secret into an authenticator app and confirm it with a code.

    Someone already enrolled must have given a code in this session first: a password
    alone never replaces the authenticator."""
    user = request.user
    _only_those_who_use_it(user)
    if two_factor.is_enrolled(user) and not user.is_verified():
        return redirect(_with_next("two-factor-verify", _next(request)))
    if request.method == "POST":
        device = two_factor.pending_device(user)
        if device is None:  # the page was never shown: show it (with a secret) first
            return redirect(_with_next("two-factor-enrol", _next(request)))
    else:
        device = two_factor.enrolment_device(user)
    form = OneTimeCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if _too_many_codes(request):
            form.is_valid()
            form.add_error(None, too_many_message())
            status = 429
        elif form.is_valid():
            codes = two_factor.enrolment_confirm(
                user=user, device=device, code=form.cleaned_data["otp_token"]
            )
            if codes is not None:
                otp_login(request, device)
                request.session[NEW_CODES_SESSION_KEY] = codes
                messages.success(request, _("Two-step sign-in is on."))
                return redirect(_with_next("two-factor-recovery-codes", _next(request)))
            form.add_error(
                "otp_token",
                _("That code is not right: check the app's entry for this site, then type its newest code."),
            )
            status = 400
    svg = segno.make(device.config_url, error="m").svg_inline(
        scale=4, border=4, title=_("QR code of your secret key"), dark="#000", light="#fff"
    )
    return render(
        request,
        "accounts/two_factor_enrol.html",
        {
            "form": form,
            "qr_svg": svg,
            "secret": two_factor.secret_as_text(device),
            "config_url": device.config_url,
            "next": _next(request),
            "replacing": two_factor.is_enrolled(user),
        },
        status=status,
    )


@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """The code from the authenticator app, or a recovery code, after the password."""
    user = request.user
    _only_those_who_use_it(user)
    if not two_factor.is_enrolled(user):
        return redirect(_with_next("two-factor-enrol", _next(request)))
    if user.is_verified():
        return redirect(_next(request))
    using_recovery = "recovery_code" in request.POST
    form = OneTimeCodeForm(request.POST if request.method == "POST" and not using_recovery else None)
    recovery_form = RecoveryCodeForm(request.POST if using_recovery else None)
    status = 200
    if request.method == "POST":
        bound = recovery_form if using_recovery else form
        field = "recovery_code" if using_recovery else "otp_token"
        if _too_many_codes(request):
            bound.is_valid()
            bound.add_error(None, too_many_message())
            status = 429
        elif not using_recovery and bound.is_valid() and (wait := two_factor.seconds_to_wait(user)):
            bound.add_error(
                field,
                _("Too many wrong codes in a row: wait %(seconds)s seconds, then type the newest code.")
                % {"seconds": wait},
            )
            status = 429
        elif bound.is_valid():
            device = two_factor.code_verify(user=user, code=bound.cleaned_data[field])
            if device is not None:
                otp_login(request, device)
                if using_recovery:
                    left = two_factor.recovery_codes_left(user)
                    messages.warning(
                        request,
                        _(
                            "You used a recovery code: %(left)s left. "
                            "Make new ones on your account page before you run out."
                        )
                        % {"left": left},
                    )
                return redirect(_next(request))
            bound.add_error(
                field,
                _("That recovery code is not right or was already used.")
                if using_recovery
                else _("That code is not right: type the newest code your app shows."),
            )
            status = 400
    return render(
        request,
        "accounts/two_factor_verify.html",
        {
            "form": form,
            "recovery_form": recovery_form,
            "using_recovery": using_recovery,
            "next": _next(request),
        },
        status=status,
    )


@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """Recovery codes, shown once right after they were made; a verified person may make new ones."""
    user = request.user
    _only_those_who_use_it(user)
    if request.method == "POST":
        if not (two_factor.is_enrolled(user) and user.is_verified()):
            raise PermissionDenied
        request.session[NEW_CODES_SESSION_KEY] = two_factor.recovery_codes_renew(user=user)
        messages.success(request, _("New recovery codes are made: the old ones no longer work."))
        return redirect("two-factor-recovery-codes")
    codes = request.session.pop(NEW_CODES_SESSION_KEY, None)
    return render(
        request,
        "accounts/two_factor_recovery_codes.html",
        {
            "codes": codes,
            "left": two_factor.recovery_codes_left(user),
            "enrolled": two_factor.is_enrolled(user),
            "verified": user.is_verified(),
            "next": _next(request),
        },
    )


@login_required
@require_GET
def team(request: HttpRequest) -> HttpResponse:
    """A coordinator's list of the community's coordinators and referrers, to reset a lost phone."""
    community = selectors.community_for_coordinator(request.user, request.GET.get("community"))
    return render(
        request,
        "accounts/two_factor_team.html",
        {"community": community, "people": two_factor.people_to_reset(request.user, community.pk)},
    )


@login_required
@require_POST
def reset(request: HttpRequest, user_id: int) -> HttpResponse:
    person = User.objects.filter(pk=user_id).first()
    if person is None or not two_factor.can_reset(request.user, person):
        raise Http404
    two_factor.two_factor_reset(actor=request.user, person=person)
    messages.success(
        request,
        _("%(name)s's two-step sign-in is reset: they set up their app again at their next sign-in.")
        % {"name": person.display_name},
    )
    community = Community.objects.filter(pk=two_factor.community_id_of(person)).first()
    if request.user.is_superuser and community is not None:
        return redirect(reverse("coordinator-two-factor") + "?" + urlencode({"community": community.slug}))
    return redirect("coordinator-two-factor")


def _with_next(name: str, target: str) -> str:
    return reverse(name) + "?" + urlencode({"next": target})
