"""`/healthz`, `/readyz` and `/metrics`: for load balancers, orchestrators and Prometheus.

They are answered by `ProbesMiddleware` before the rest of the stack (no HTTPS redirect, no
host check, no session, no CSRF, no rate limit), so a probe on a loopback port of one
daphne gets an answer whatever Host it sends. The URL patterns name them for `reverse()`.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from worker.jobs import latest_heartbeat_age_seconds

logger = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 2.0


def healthz(request) -> HttpResponse:
    """The process is up and answering: no database, no Redis."""
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


def _database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return False, f"{type(error).__name__}: {error}"[:200]
    return True, "ok"


def _redis() -> tuple[bool, str]:
    if not settings.REDIS_URL:
        return True, "not configured"  # the embedded default: the in-memory layer and cache
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    except Exception as error:
        return False, f"{type(error).__name__}: {error}"[:200]
    finally:
        client.close()
    return True, "ok"


def _worker() -> tuple[bool, str]:
    try:
        age = latest_heartbeat_age_seconds()
    except Exception as error:
        return False, f"{type(error).__name__}: {error}"[:200]
    limit = settings.READY_WORKER_MAX_AGE_SECONDS
    if age is None:
        return False, "no worker heartbeat yet"
    if age > limit:
        return False, f"youngest heartbeat {age:.0f} s old (more than {limit:.0f} s)"
    return True, f"youngest heartbeat {age:.0f} s old"


def readyz(request) -> JsonResponse:
    """200 when the database answers, Redis (if configured) answers and a worker is alive; else 503."""
    parts = {}
    for name, check in (("database", _database), ("redis", _redis), ("worker", _worker)):
        ready, detail = check()
        parts[name] = {"ready": ready, "detail": detail}
    ready = all(part["ready"] for part in parts.values())
    if not ready:
        logger.warning(
            "Not ready: %s", {name: part["detail"] for name, part in parts.items() if not part["ready"]}
        )
    return JsonResponse({"ready": ready, **parts}, status=200 if ready else 503)


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(network, strict=False) for network in settings.METRICS_ALLOWED_NETWORKS]


def metrics_allowed(request) -> bool:
    """A bearer token, or a peer in METRICS_ALLOWED_NETWORKS.

    The peer is the socket's address (REMOTE_ADDR), never a forwarded header. A request that
    came through a trusted reverse proxy (it carries X-Forwarded-For) is the proxy's peer,
    whoever sent it, so only the token lets it in.
    """
    token = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token):
        return True
    if settings.TRUSTED_PROXY_COUNT and "HTTP_X_FORWARDED_FOR" in request.META:
        return False
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in network for network in _networks())


def metrics(request) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponse("forbidden", status=403, content_type="text/plain; charset=utf-8")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
