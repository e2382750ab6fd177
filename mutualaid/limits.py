"""Rate limits against abuse: sign-up, login, posting requests, socket messages.

All of them count with django-ratelimit, in the default cache (Redis in production). HTTP
views key on the request (the address, the person, a form field); a socket message has
no HTTP request, so it is counted under the person's id (a `key` callable).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable

from django.conf import settings
from django.utils.translation import gettext as _
from django_ratelimit.core import is_ratelimited

TOO_MANY = "Too many attempts"

logger = logging.getLogger(__name__)


def too_many_message() -> str:
    return _("Too many attempts in a short time. Please wait a little and try again.")


def client_address(request) -> str:
    """The address rate limits count by: the client's, also behind trusted reverse proxies.

    Each of the `TRUSTED_PROXY_COUNT` proxies appends the address it was reached from to
    X-Forwarded-For, so the client's is that many entries from the end; what stands before
    it was written by the client and is never believed. Without proxies (the default), or
    with a header that is too short or not an address, it is the connection's own.
    """
    remote = request.META.get("REMOTE_ADDR") or "0.0.0.0"
    hops = settings.TRUSTED_PROXY_COUNT
    if not hops:
        return remote
    chain = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    chain = [part for part in chain if part]
    if len(chain) < hops:
        return remote
    try:
        return str(ipaddress.ip_address(chain[-hops]))
    except ValueError:
        return remote


def request_is_limited(request, group: str, key: str | Callable[..., str] = "ip") -> bool:
    """Count this request against the group's rate; True when it is over the limit.

    With the cache (Redis) down, the request goes through: a person asking for help
    matters more than counting; the fault is logged.
    """
    try:
        return is_ratelimited(request, group=group, key=key, rate=settings.RATE_LIMITS[group], increment=True)
    except Exception:
        logger.warning("Rate limit %r not counted: the cache is unavailable", group, exc_info=True)
        return False


def person_is_limited(user_id: int, group: str) -> bool:
    """The same for a signed-in person outside HTTP (socket messages): django-ratelimit
    counts under the person's id, so no request is needed (its method filter is off)."""
    return request_is_limited(None, group, key=lambda _group, _request: str(user_id))
