"""Signing coordinators and staff out when their short session ends (accounts/sessions.py),
and holding those who see other people's data at the second step of signing in
(accounts/two_factor.py)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from mutualaid.accounts.sessions import has_short_sessions, record_activity, session_has_expired
from mutualaid.accounts.two_factor import is_enrolled, two_factor_is_required


class ShortSessionsMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and has_short_sessions(user):
            if session_has_expired(request.session):
                logout(request)  # the view then sees an anonymous visitor: login pages ask again
                messages.info(request, _("Your session has ended: please log in again."))
            else:
                record_activity(request.session)
        return self.get_response(request)


# What someone half-way through signing in may still reach: signing out, the second step
# itself, the language menu, and what the browser fetches on its own.
TWO_FACTOR_OPEN_PREFIXES = (
    "/accounts/two-factor/",
    "/accounts/logout/",
    "/admin/logout/",
    "/i18n/",
    "/static/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/sw.js",
    "/manifest.webmanifest",
    "/favicon.ico",
)


def wants_json(request) -> bool:
    accept = request.headers.get("Accept", "")
    return (
        request.path.startswith(("/api/", "/open311/", "/accounts/me/push/"))
        or request.path.endswith(".json")
        or ("application/json" in accept and "text/html" not in accept)
    )


class TwoFactorMiddleware:
    """No page or API for a coordinator, referrer, staff member or superuser before the
    second step of signing in: those not yet enrolled are sent to enrolment, the others to
    the code page, then back to where they were going (mutualaid/accounts/two_factor.py)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(TWO_FACTOR_OPEN_PREFIXES)
            and two_factor_is_required(user, request.session)
            and not user.is_verified()
        ):
            return self.second_step(request, user)
        return self.get_response(request)

    def second_step(self, request, user) -> HttpResponse:
        target = "two-factor-verify" if is_enrolled(user) else "two-factor-enrol"
        if wants_json(request):
            return JsonResponse(
                {
                    "error": "two_factor_required",
                    "detail": _("Sign in with your one-time code first."),
                    "url": reverse(target),
                },
                status=403,
            )
        location = reverse(target)
        if request.method == "GET":
            location += "?" + urlencode({"next": request.get_full_path()})
        return redirect(location)
