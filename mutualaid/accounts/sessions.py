"""Shorter sessions for the people who see every address (OWASP ASVS 4.0 L2, 3.3.2/3.3.4).

Coordinators, staff and superusers are signed out after `COORDINATOR_SESSION_IDLE_MINUTES`
without activity and `COORDINATOR_SESSION_MAX_HOURS` after they signed in, whatever they
do. Any request counts as activity, and so does an open live-update socket (the consumer
records it as it renews its groups): a dashboard left open on a desk stays signed in until
the absolute limit. Citizens and volunteers keep Django's session lifetime.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

SIGNED_IN_AT = "signed_in_at"
ACTIVE_AT = "active_at"
# Activity is written to the session at most this often: not a session save per request.
ACTIVITY_RESOLUTION_SECONDS = 60


def has_short_sessions(user: Any) -> bool:
    return bool(user.is_authenticated and (user.is_coordinator or user.is_staff or user.is_superuser))


def idle_seconds() -> float:
    return settings.COORDINATOR_SESSION_IDLE_MINUTES * 60


def session_has_expired(session: Any, now: float | None = None) -> bool:
    """True once a short session was idle too long or lived too long."""
    now = time.time() if now is None else now
    signed_in_at, active_at = session.get(SIGNED_IN_AT), session.get(ACTIVE_AT)
    if signed_in_at is None or active_at is None:
        return False  # signed in before these limits existed: counted from now on
    return (
        now - active_at > idle_seconds() + ACTIVITY_RESOLUTION_SECONDS
        or now - signed_in_at > settings.COORDINATOR_SESSION_MAX_HOURS * 3600
    )


def record_activity(session: Any, now: float | None = None) -> None:
    """Note activity on a short session (at most once a minute), keeping its stored expiry
    at the idle limit too, so that an abandoned session also dies in the session store."""
    now = time.time() if now is None else now
    if SIGNED_IN_AT not in session:
        session[SIGNED_IN_AT] = now
    if now - session.get(ACTIVE_AT, 0) >= ACTIVITY_RESOLUTION_SECONDS:
        session[ACTIVE_AT] = now
        session.set_expiry(int(idle_seconds()) + ACTIVITY_RESOLUTION_SECONDS)


@receiver(user_logged_in)
def start_counting_at_sign_in(sender, request, user, **kwargs) -> None:
    # Django keeps the session's data when the same person signs in again: start afresh.
    request.session.pop(SIGNED_IN_AT, None)
    request.session.pop(ACTIVE_AT, None)
    if has_short_sessions(user):
        record_activity(request.session)
