"""Signing coordinators and staff out when their short session ends (accounts/sessions.py)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.utils.translation import gettext as _

from mutualaid.accounts.sessions import has_short_sessions, record_activity, session_has_expired


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
