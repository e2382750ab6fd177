"""Browser notifications: the service worker, the web app manifest, and saving or removing a
browser's push subscription (JSON in, JSON out, CSRF-protected like every other POST)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from notifications.push import SubscriptionError, push_is_configured, push_subscribe, push_unsubscribe

# A subscription's JSON is a few hundred bytes; anything much larger is not one.
MAX_BODY_BYTES = 4096


@cache
def _service_worker_source() -> str:
    return Path(finders.find("js/sw.js")).read_text(encoding="utf-8")


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, from the site's root so that its scope is the whole site."""
    response = HttpResponse(_service_worker_source(), content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    # Browsers check for a new worker at most daily anyway; never serve them a stale one.
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def web_manifest(request: HttpRequest) -> JsonResponse:
    manifest = {
        "name": _("Mutual aid"),
        "short_name": _("Mutual aid"),
        "start_url": reverse("inbox"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1d4f91",
    }
    response = JsonResponse(manifest, content_type="application/manifest+json")
    return response


def _error(reason: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


def _json_body(request: HttpRequest) -> object:
    if request.content_type != "application/json":
        # A form post (its multipart body already read as a form) is no subscription.
        raise SubscriptionError(_("Send the browser's subscription as a JSON object."))
    if len(request.body) > MAX_BODY_BYTES:
        raise SubscriptionError(_("The subscription is too large."))
    try:
        return json.loads(request.body or b"null")
    except (UnicodeDecodeError, ValueError):
        raise SubscriptionError(_("Send the browser's subscription as a JSON object.")) from None


@login_required
@require_POST
def subscribe(request: HttpRequest) -> JsonResponse:
    if not push_is_configured():
        return _error(_("Notifications are not set up on this service."), status=409)
    try:
        push_subscribe(person=request.user, data=_json_body(request))
    except SubscriptionError as error:
        return _error(str(error))
    return JsonResponse({"subscribed": True}, status=201)


@login_required
@require_POST
def unsubscribe(request: HttpRequest) -> JsonResponse:
    try:
        data = _json_body(request)
        endpoint = data.get("endpoint") if isinstance(data, dict) else None
        removed = push_unsubscribe(person=request.user, endpoint=endpoint)
    except SubscriptionError as error:
        return _error(str(error))
    return JsonResponse({"subscribed": False, "removed": removed})
