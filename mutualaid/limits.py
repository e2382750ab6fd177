"""Rate limits against abuse: sign-up, login, posting requests, socket messages.

HTTP views use django-ratelimit. Sockets have no HTTP request to key on, so they count
per person in the same cache with `cache.add` + `cache.incr`, both atomic on Redis.
"""

from __future__ import annotations

import ipaddress
import logging
import time

from django.conf import settings
from django.core.cache import cache
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


def request_is_limited(request, group: str, key: str = "ip") -> bool:
    """Count this request against the group's rate; True when it is over the limit.

    With the cache (Redis) down, the request goes through: a person asking for help
    matters more than counting; the fault is logged.
    """
    try:
        return is_ratelimited(request, group=group, key=key, rate=settings.RATE_LIMITS[group], increment=True)
    except Exception:
        logger.warning("Rate limit %r not counted: the cache is unavailable", group, exc_info=True)
        return False


def _parse(rate: str) -> tuple[int, int]:
    count, period = rate.split("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[-1]] * int(period[:-1] or 1)
    return int(count), seconds


def person_is_limited(user_id: int, group: str) -> bool:
    """The same for a signed-in person outside HTTP (socket messages), in fixed windows."""
    limit, seconds = _parse(settings.RATE_LIMITS[group])
    window = int(time.time() // seconds)
    key = f"rate:{group}:{user_id}:{window}"
    try:
        cache.add(key, 0, timeout=seconds + 1)
        return cache.incr(key) > limit
    except ValueError:  # expired between add and incr: a new window has begun
        cache.add(key, 1, timeout=seconds + 1)
        return False
    except Exception:
        logger.warning("Rate limit %r not counted: the cache is unavailable", group, exc_info=True)
        return False
