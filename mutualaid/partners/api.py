"""The JSON API under /api/v1/ (django-ninja): a partner's requests, the categories and the
public figures, with `Authorization: Bearer <key>` or a referrer's session (signed in on the
site: they act for their organisation, under the referrer rules, with Django's CSRF check
for unsafe methods). The same services as the pages and Open311 underneath; errors as
`{"error": "<code>", "detail": "..."}` (for machines, in English). OpenAPI at
/api/v1/openapi.json, browsable docs at /api/v1/docs (served from django-ninja's own static
files: no CDN).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest
from ninja import Field, NinjaAPI, Query, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.pagination import PageNumberPagination, paginate
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from mutualaid.aid.forms import IDEMPOTENCY_KEY_PATTERN
from mutualaid.aid.models import Category, HelpRequest
from mutualaid.aid.services import TaskActionError
from mutualaid.limits import request_is_limited
from mutualaid.operations.unavailable import database_unavailable_response
from mutualaid.partners import intake, referrals, services
from mutualaid.partners.models import ApiKey, PartnerOrganisation, Referrer
from mutualaid.reports.views import community_public_figures


class RateLimited(Exception):
    pass


class CsrfFailed(Exception):
    pass


SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


class ApiKeyBearer(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        key = services.api_key_authenticate(token.strip())
        if key is None:
            return None
        if request_is_limited(request, "api", key=lambda _group, _request: f"api-key:{key.pk}"):
            raise RateLimited
        return key


class ReferrerSession(APIKeyCookie):
    """A referrer signed in on the site (Django's session cookie): they act for their
    organisation. Any other signed-in person is no caller of this API.

    As Django does for session authentication, an unsafe method needs the CSRF token
    (the `csrftoken` cookie's value in `X-CSRFToken`), so no other site can make a
    referrer's browser file or cancel a request. A request that carries an Authorization
    header is judged by its key alone."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=False)  # checked below, once the session is a referrer's

    def authenticate(self, request: HttpRequest, key: str | None) -> Referrer | None:
        if not key or "Authorization" in request.headers:
            return None
        referrer = referrals.active_referrer(request.user)
        if referrer is None:
            return None
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise CsrfFailed
        if request_is_limited(request, "api", key=lambda _group, _request: f"api-referrer:{referrer.pk}"):
            raise RateLimited
        return referrer


api = NinjaAPI(
    title="Mutual aid API",
    version="1",
    description="Requests from partners: file, follow and cancel help requests for people "
    "who asked a partner organisation; the categories and the public figures of the key's "
    "community. Authenticate with `Authorization: Bearer <key>` (keys from a coordinator), "
    "or, in the browser, as a referrer signed in on the site (their organisation's "
    "requests; unsafe methods need the CSRF token in `X-CSRFToken`).",
    auth=[ApiKeyBearer(), ReferrerSession()],
    urls_namespace="api-v1",
)


def _organisation(request: HttpRequest) -> PartnerOrganisation:
    """The organisation the caller acts for: the key's, or the signed-in referrer's."""
    return request.auth.organisation


def _error(request, code: str, detail: str, status: int):
    return api.create_response(request, {"error": code, "detail": detail}, status=status)


@api.exception_handler(AuthenticationError)
def _unauthorized(request, exc):
    return _error(
        request,
        "unauthorized",
        "missing, unknown or revoked key (Authorization: Bearer <key>), and no referrer signed in",
        401,
    )


@api.exception_handler(CsrfFailed)
def _csrf_failed(request, exc):
    return _error(
        request,
        "forbidden",
        "CSRF check failed: with a session, send the csrftoken cookie's value in the X-CSRFToken header",
        403,
    )


@api.exception_handler(RateLimited)
def _rate_limited(request, exc):
    return _error(
        request, "rate_limited", "too many requests with this key; wait a little and try again", 429
    )


@api.exception_handler(NinjaValidationError)
def _invalid(request, exc):
    detail = "; ".join(
        f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', '')}"
        for error in exc.errors
    )
    return _error(request, "invalid", detail, 400)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _error(request, "not_found", "no such request among your organisation's", 404)


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def _database_unavailable(request, exc):
    # As for pages (the middleware): the database unreachable or the pool busy is a 503.
    return database_unavailable_response(request)


@api.exception_handler(HttpError)
def _http_error(request, exc):
    codes = {400: "invalid", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 409: "conflict"}
    return _error(request, codes.get(exc.status_code, "error"), str(exc), exc.status_code)


class ErrorOut(Schema):
    error: str = Field(examples=["invalid"])
    detail: str


class CategoryOut(Schema):
    code: str
    name: str


class RequestIn(Schema):
    category: str = Field(description="a category's code (GET /categories)", examples=["shopping"])
    description: str = Field(max_length=1900)
    name: str = Field(description="the person's name, for the call back", max_length=120)
    phone: str = Field(max_length=32)
    consent: bool = Field(description="the person agreed to be contacted by this service; must be true")
    latitude: float | None = None
    longitude: float | None = None
    address: str = Field("", description="geocoded when no latitude and longitude are given", max_length=255)
    urgency: int = Field(1, description="1: this week, 2: in the next two days, 3: today")
    language: str = Field("", description="a language the helper must speak (nl, fr, en...)")
    when: list[str] = Field(
        [], description="up to 7 parts of days as YYYY-MM-DD/morning|afternoon|evening; empty: any time"
    )
    people: int | None = Field(None, description="for how many people (1 to 50)")
    volunteers: int | None = Field(
        None,
        description="how many volunteers the task needs (1 to 6; more than one to carry furniture); "
        "with a recurrence, each occurrence needs as many",
    )
    recurrence: Literal["none", "weekly", "fortnightly"] = Field(
        "none",
        description="weekly or fortnightly: recurring help; `when` is then one part of a day within "
        "the days filed ahead (7 by default), the first occurrence, repeated on that day of the week; "
        "the answer is the first occurrence, and the next ones are filed a week ahead",
    )
    recurrence_until: dt.date | None = Field(
        None, description="the last day of the recurring help; none: until cancelled"
    )


class RequestOut(Schema):
    id: str
    status: Literal["open", "proposed", "accepted", "done", "cancelled", "expired"]
    open311_status: Literal["open", "closed"]
    status_notes: str
    category: str
    description: str
    urgency: int
    address: str
    latitude: float
    longitude: float
    any_time: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    expected_at: dt.datetime | None = Field(description="the start of the first time window")

    @staticmethod
    def resolve_id(obj: HelpRequest) -> str:
        return str(obj.pk)

    @staticmethod
    def resolve_open311_status(obj: HelpRequest) -> str:
        return intake.open311_status(obj)

    @staticmethod
    def resolve_status_notes(obj: HelpRequest) -> str:
        return intake.STATUS_NOTES.get(obj.status, "")

    @staticmethod
    def resolve_category(obj: HelpRequest) -> str:
        return obj.category.slug

    @staticmethod
    def resolve_expected_at(obj: HelpRequest) -> dt.datetime | None:
        return intake.expected_datetime(obj)


def _visible_requests(request: HttpRequest):
    """A key's: every request of its organisation. A referrer's session: the referrer rules,
    as on their page: their organisation's referrals only (not what its keys filed)."""
    organisation = _organisation(request)
    requests = services.organisation_requests(organisation)
    if isinstance(request.auth, Referrer):
        requests = requests.filter(referral__organisation=organisation)
    return requests


def _own_request(request: HttpRequest, request_id: int) -> HelpRequest:
    found = _visible_requests(request).filter(pk=request_id).first()
    if found is None:
        raise Http404
    return found


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 429: ErrorOut}


@api.get(
    "/categories", response={200: list[CategoryOut], **ERRORS}, summary="The categories (services) offered"
)
def categories(request):
    community = _organisation(request).community
    return [
        {"code": category.slug, "name": category.label}
        for category in community.categories.filter(is_active=True).order_by("slug")
    ]


@api.get("/requests", response={200: list[RequestOut], **ERRORS}, summary="Your organisation's requests")
@paginate(PageNumberPagination, page_size=50, max_page_size=200)
def list_requests(request):
    return _visible_requests(request)


@api.post("/requests", response={201: RequestOut, **ERRORS}, summary="File a request for someone")
def create_request(request, data: RequestIn):
    """With a referrer's session, the request is their referral (the neighbour's consent
    recorded by them), as on the referral page. With `recurrence` weekly or fortnightly, a
    series is filed and the answer is its first occurrence (with a session, the referral)."""
    organisation = _organisation(request)
    try:
        details = intake.parse_details(
            community=organisation.community,
            service_code=data.category,
            description=data.description,
            urgency=data.urgency,
            language=data.language,
            when=",".join(data.when),
            people=data.people,
            volunteers=data.volunteers,
            consent="yes" if data.consent else "",
            latitude=data.latitude,
            longitude=data.longitude,
            address=data.address,
            name=data.name,
            phone=data.phone,
        )
        series_details = intake.parse_recurrence(data.recurrence, data.recurrence_until, details)
    except Category.DoesNotExist:
        raise HttpError(400, f"category {data.category[:50]!r} is not offered (GET /categories)") from None
    except intake.BadInput as bad:
        raise HttpError(400, str(bad)) from None
    # A retried call with the same Idempotency-Key files nothing new: the answer is the
    # request the first call filed (keys are per organisation).
    idempotency_key = request.headers.get("Idempotency-Key", "")
    if idempotency_key and not IDEMPOTENCY_KEY_PATTERN.fullmatch(idempotency_key):
        raise HttpError(400, "Idempotency-Key: 8 to 64 letters, digits, '-' or '_'")
    try:
        if series_details is not None and isinstance(request.auth, Referrer):
            help_request = referrals.referral_series_create(
                referrer=request.auth,
                consent=data.consent,
                idempotency_key=idempotency_key,
                **series_details,
            )
        elif series_details is not None:
            help_request = services.partner_series_create(
                key=request.auth, idempotency_key=idempotency_key, **series_details
            )
        elif isinstance(request.auth, Referrer):
            help_request = referrals.referral_create(
                referrer=request.auth,
                consent=data.consent,
                idempotency_key=idempotency_key,
                **details.as_kwargs(),
            )
        else:
            help_request = services.partner_request_create(
                key=request.auth, idempotency_key=idempotency_key, **details.as_kwargs()
            )
    except DjangoValidationError as error:
        raise HttpError(400, "; ".join(error.messages)) from None
    except PermissionDenied:  # the referrer or their organisation deactivated meanwhile
        raise AuthenticationError from None
    return Status(201, _own_request(request, help_request.pk))


@api.get("/requests/{int:request_id}", response={200: RequestOut, **ERRORS}, summary="One of your requests")
def read_request(request, request_id: int):
    return _own_request(request, request_id)


@api.post(
    "/requests/{int:request_id}/cancel",
    response={200: RequestOut, 409: ErrorOut, **ERRORS},
    summary="Cancel one of your requests (a volunteer on it is told)",
)
def cancel_request(request, request_id: int, reason: str = Query("", max_length=200)):
    """No body needed; say why in the query (`?reason=...`), if you like. A referrer's
    session cancels only the requests that referrer filed (403 for a colleague's)."""
    help_request = _own_request(request, request_id)
    try:
        if isinstance(request.auth, Referrer):
            referrals.referral_cancel(referrer=request.auth, help_request=help_request, reason=reason.strip())
        else:
            services.partner_request_cancel(
                key=request.auth, help_request=help_request, reason=reason.strip()
            )
    except TaskActionError as error:
        raise HttpError(409, str(error)) from None
    except PermissionDenied:
        if isinstance(request.auth, Referrer):
            raise HttpError(403, "only the referrer who filed this request can cancel it") from None
        raise Http404 from None
    return _own_request(request, request_id)


@api.get("/figures", response={200: dict, **ERRORS}, summary="The public figures of your community")
def figures(request):
    """The same anonymised, suppressed figures as the community's public transparency page."""
    return community_public_figures(_organisation(request).community)
