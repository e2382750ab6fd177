"""Middleware for running the service: probes first, request metrics, no caching of personal pages."""

from __future__ import annotations

import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpResponseNotAllowed
from django.urls import resolve
from django.urls.exceptions import Resolver404

from mutualaid.operations import views
from mutualaid.operations.metrics import HTTP_LATENCY, HTTP_REQUESTS

PROBES = {"/healthz": views.healthz, "/readyz": views.readyz, "/metrics": views.metrics}


def _not_allowed(request) -> HttpResponseNotAllowed:
    return HttpResponseNotAllowed(["GET", "HEAD"])


class ProbesMiddleware:
    """Answers the probes before anything else runs (first in MIDDLEWARE).

    No HTTPS redirect, no ALLOWED_HOSTS check, no session or CSRF: a probe on a daphne's
    loopback port works with any Host header, and none of these answers builds a URL.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is not None and request.method not in ("GET", "HEAD"):
            probe = _not_allowed
        if self.is_async:
            return self._async_call(request, probe)
        if probe is not None:
            return probe(request)
        return self.get_response(request)

    async def _async_call(self, request, probe):
        if probe is not None:
            if probe in (views.healthz, _not_allowed):
                return probe(request)  # no database: no thread needed
            return await sync_to_async(probe)(request)  # the database thread, as for any sync view
        return await self.get_response(request)


def _view_name(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return "<unmatched>"  # never the path itself: unbounded label values
    return match.view_name or "<unnamed>"


class RequestMetricsMiddleware:
    """Counts each response by view name, method and status, and times it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._async_call(request)
        started = time.perf_counter()
        response = self.get_response(request)
        self._record(request, response, started)
        return response

    async def _async_call(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        self._record(request, response, started)
        return response

    @staticmethod
    def _record(request, response, started: float) -> None:
        view = _view_name(request)
        method = request.method if request.method in {"GET", "POST", "HEAD", "OPTIONS"} else "other"
        HTTP_REQUESTS.labels(view, method, str(response.status_code)).inc()
        HTTP_LATENCY.labels(view).observe(time.perf_counter() - started)


class NoStoreForSignedInMiddleware:
    """`Cache-Control: no-store` on every response to a signed-in person.

    Their pages hold personal data (requests, tasks with addresses, the inbox, the account,
    the coordinators' pages): no browser or proxy cache may keep a copy. Static files are
    served before this (WhiteNoise) and keep their long caching; so does what a view marks
    `public` itself (a community's colours and logo, the same for everyone).
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        public = response.get("Cache-Control", "").startswith("public")
        if user is not None and user.is_authenticated and not public:
            response["Cache-Control"] = "no-store"
        return response
