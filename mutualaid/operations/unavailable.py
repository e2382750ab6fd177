"""Answers for requests the service cannot serve right now, or cannot read at all.

- The database unavailable (every pooled connection busy for DATABASE_POOL_TIMEOUT_SECONDS,
  the server restarting, a connection it ended): 503 with Retry-After, never a 500. Pages
  get a short HTML page that needs no database; `/api/` and `/open311/` get JSON in their
  own error formats.
- A NUL byte in any query or form parameter: 400 before a view reads it (PostgreSQL
  refuses NUL in text, which surfaced as a 500 from the admin's filters).
"""

from __future__ import annotations

import logging
import sys

from django import db
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import defaults

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
API_PREFIX = "/api/"
OPEN311_PREFIX = "/open311/"


def is_database_unavailable(error: BaseException | None) -> bool:
    """Whether `error` means the database cannot be reached now (worth retrying), not a bug."""
    return isinstance(error, (db.OperationalError, db.InterfaceError))


def _answer(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    path = request.path_info
    if path.startswith(OPEN311_PREFIX):
        return JsonResponse([{"code": status, "description": message}], status=status, safe=False)
    if path.startswith(API_PREFIX):
        return JsonResponse({"error": code, "detail": message}, status=status)
    page = format_html(
        '<!doctype html><html lang="{}"><head><meta charset="utf-8"><title>{}</title></head>'
        "<body><main><h1>{}</h1><p>{}</p></main></body></html>",
        get_language() or "en",
        message,
        message,
        _("Please go back and try again.") if status == 400 else _("Please try again in a few seconds."),
    )
    return HttpResponse(page, status=status, content_type="text/html; charset=utf-8")


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    response = _answer(request, 503, "unavailable", _("The service is busy right now."))
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def nul_byte_response(request: HttpRequest) -> HttpResponse:
    return _answer(request, 400, "bad_request", _("The request contains a character that is not allowed."))


def has_nul_byte(request: HttpRequest) -> bool:
    """A NUL byte in any query or form parameter name or value."""
    if request.method == "POST":
        # Read the raw body first: parsing a multipart form would consume the stream, and a
        # view that reads `request.body` itself (the JSON API, push subscriptions) would fail.
        request.body  # noqa: B018
    for parameters in (request.GET, request.POST):
        for name, values in parameters.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return True
    return False


class RejectNulBytesMiddleware:
    """400 for a NUL byte in the query or the form, before any view (or the admin) reads it."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if has_nul_byte(request):
            return nul_byte_response(request)
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """503 with Retry-After when a view fails because the database cannot be reached."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_unavailable(exception):
            return None
        logger.warning("Database unavailable for %s %s: %s", request.method, request.path, exception)
        return database_unavailable_response(request)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database that cannot be reached outside a view (a middleware) is a 503 too."""
    if is_database_unavailable(sys.exc_info()[1]):
        return database_unavailable_response(request)
    return defaults.server_error(request)
