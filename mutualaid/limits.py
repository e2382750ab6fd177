"""Rate limits against abuse: sign-up, login, posting requests, socket messages.

HTTP views use django-ratelimit. Sockets have no HTTP request to key on, so they count
per person in the same cache with `cache.add` + `cache.incr`, both atomic on Redis.
"""

from __future__ import annotations

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
