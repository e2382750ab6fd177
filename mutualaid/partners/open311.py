"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) under /open311/v2/.

A city's 311 system or FixMyStreet files requests for people with a partner's key. One
service per active category (`service_code` = the category's slug), `jurisdiction_id` =
the community's slug (required when the deployment runs several). Both formats, XML and
JSON; errors are the spec's list of `code` and `description` (for machines, in English).
Requests are filed as phoned-in requests of the key's organisation: see docs/api.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from xml.etree import ElementTree

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import slug_re
from django.http import HttpRequest, HttpResponse
from django.urls import register_converter
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from mutualaid.aid.models import (
    MAX_PEOPLE_NEEDED,
    Category,
    Community,
    HelpRequest,
    RepeatEvery,
    SpokenLanguage,
    Urgency,
)
from mutualaid.limits import request_is_limited
from mutualaid.partners import intake, services
from mutualaid.partners.models import ApiKey

SPEC = "https://wiki.open311.org/GeoReport_v2"
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
# Element names of list items in XML (JSON has plain lists).
XML_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
MAX_DAYS = 90
MAX_RESULTS = 1000


class FormatConverter:
    regex = "xml|json"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(FormatConverter, "open311format")


class Open311Error(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _xml_element(tag: str, value) -> ElementTree.Element:
    element = ElementTree.Element(tag)
    if isinstance(value, dict):
        for key, child in value.items():
            element.append(_xml_element(key, child))
    elif isinstance(value, list):
        for child in value:
            element.append(_xml_element(XML_ITEMS.get(tag, "item"), child))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)
    return element


def render(fmt: str, root: str, data, status: int = 200) -> HttpResponse:
    """`data` as JSON, or as XML under `root` (a list's items named after the root)."""
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False)
    else:
        tree = _xml_element(root, data)
        body = '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(tree, encoding="unicode")
    return HttpResponse(body.encode("utf-8"), status=status, content_type=CONTENT_TYPES[fmt])


def error(fmt: str, code: int, description: str) -> HttpResponse:
    return render(fmt, "errors", [{"code": code, "description": description}], status=code)


def open311_view(*methods: str):
    """Parse nothing, catch `Open311Error` into the spec's error list; no CSRF (no cookies)."""

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, fmt: str, **kwargs) -> HttpResponse:
            if request.method not in methods:
                response = error(fmt, 405, f"method {request.method} not allowed here")
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, fmt=fmt, **kwargs)
            except Open311Error as failure:
                return error(fmt, failure.code, failure.description)

        return wrapper

    return decorate


def _params(request: HttpRequest):
    return request.POST if request.method == "POST" else request.GET


def jurisdiction(request: HttpRequest) -> Community:
    # In a POST's body (as the spec has it) or, as some clients send it, in the query.
    slug = (_params(request).get("jurisdiction_id") or request.GET.get("jurisdiction_id", "")).strip()
    if slug:
        # Text that is no slug (a NUL byte breaks a PostgreSQL query) is unknown too.
        community = Community.objects.filter(slug=slug).first() if slug_re.match(slug[:50]) else None
        if community is None:
            raise Open311Error(404, f"jurisdiction_id {slug[:50]!r} not found")
        return community
    communities = list(Community.objects.all()[:2])
    if len(communities) != 1:
        raise Open311Error(400, "jurisdiction_id is required (the community's slug)")
    return communities[0]


def authenticate(request: HttpRequest, community: Community) -> ApiKey:
    key = services.api_key_authenticate(_params(request).get("api_key", "").strip())
    if key is None:
        raise Open311Error(403, "api_key missing, unknown or revoked")
    if key.organisation.community_id != community.pk:
        raise Open311Error(403, f"this api_key is not valid for jurisdiction_id {community.slug!r}")
    if request_is_limited(request, "api", key=lambda _group, _request: f"api-key:{key.pk}"):
        raise Open311Error(429, "too many requests with this api_key; wait a little and try again")
    return key


@open311_view("GET")
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    base = request.build_absolute_uri("/open311/v2/")
    return render(
        fmt,
        "discovery",
        {
            "changeset": "2026-12-03T00:00:00Z",
            "contact": "The coordinators of each community (see the site).",
            "key_service": "Coordinators make API keys on their community's API keys page.",
            "endpoints": [
                {
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": base,
                    "changeset": "2026-12-03T00:00:00Z",
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )


def _service(category: Category, community: Community) -> dict:
    return {
        "service_code": category.slug,
        "service_name": category.label,
        "description": _("Help from a volunteer: %(category)s") % {"category": category.label},
        "metadata": True,
        "type": "realtime",
        "keywords": "",
        "group": community.name,
    }


@open311_view("GET")
def service_list(request: HttpRequest, fmt: str) -> HttpResponse:
    community = jurisdiction(request)
    categories = community.categories.filter(is_active=True).order_by("slug")
    return render(fmt, "services", [_service(category, community) for category in categories])


def _attribute(order: int, code: str, datatype: str, required: bool, description: str, values=(), hint=""):
    return {
        "variable": True,
        "code": code,
        "datatype": datatype,
        "required": required,
        "datatype_description": hint,
        "order": order,
        "description": description,
        "values": [{"key": key, "name": str(name)} for key, name in values],
    }


def service_attributes() -> list[dict]:
    return [
        _attribute(
            1,
            "urgency",
            "singlevaluelist",
            False,
            _("How soon is help needed?"),
            [(str(value), label) for value, label in Urgency.choices],
            hint="1 when not given",
        ),
        _attribute(
            2,
            "language",
            "singlevaluelist",
            False,
            _("The helper must speak"),
            SpokenLanguage.choices,
        ),
        _attribute(
            3,
            "when",
            "string",
            False,
            _("When is help wanted?"),
            hint="empty or 'any': any time; else up to 7 parts of days in the next 28 days as "
            "YYYY-MM-DD/morning|afternoon|evening, separated by commas",
        ),
        _attribute(4, "people", "number", False, _("For how many people?"), hint="1 to 50"),
        _attribute(
            5,
            "volunteers",
            "number",
            False,
            _("How many volunteers?"),
            hint=f"1 to {MAX_PEOPLE_NEEDED}: more than one when it takes several people; default 1; "
            "with a recurrence, each occurrence needs as many",
        ),
        _attribute(
            6,
            "recurrence",
            "singlevaluelist",
            False,
            _("Repeat"),
            [
                ("none", _("No, once")),
                ("weekly", RepeatEvery.WEEK.label),
                ("fortnightly", RepeatEvery.TWO_WEEKS.label),
            ],
            hint="none when not given; weekly or fortnightly needs 'when' to be one part of a day "
            f"within {settings.RECURRING_HELP_DAYS_AHEAD} days: the first occurrence, repeated on that "
            "day of the week and part of the day",
        ),
        _attribute(
            7,
            "recurrence_until",
            "string",
            False,
            _("Last day (optional)"),
            hint="YYYY-MM-DD, only with recurrence weekly or fortnightly; empty: until cancelled",
        ),
        _attribute(
            8,
            "consent",
            "singlevaluelist",
            True,
            _("The person agrees that a coordinator and a volunteer of this service contact them."),
            [("yes", _("Yes, they agree"))],
        ),
    ]


@open311_view("GET")
def service_definition(request: HttpRequest, service_code: str, fmt: str) -> HttpResponse:
    community = jurisdiction(request)
    if not (
        slug_re.match(service_code)
        and community.categories.filter(slug=service_code, is_active=True).exists()
    ):
        raise Open311Error(404, f"service_code {service_code[:50]!r} not found")
    return render(
        fmt, "service_definition", {"service_code": service_code, "attributes": service_attributes()}
    )


def request_document(help_request: HelpRequest) -> dict:
    return {
        "service_request_id": str(help_request.pk),
        "status": intake.open311_status(help_request),
        "status_notes": intake.STATUS_NOTES.get(help_request.status, ""),
        "service_name": help_request.category.label,
        "service_code": help_request.category.slug,
        "description": help_request.description,
        "agency_responsible": help_request.community.name,
        "service_notice": "",
        "requested_datetime": intake.iso(help_request.created_at),
        "updated_datetime": intake.iso(help_request.updated_at),
        "expected_datetime": intake.iso(intake.expected_datetime(help_request)),
        "address": help_request.address,
        "address_id": "",
        "zipcode": "",
        "lat": help_request.latitude,
        "long": help_request.longitude,
        "media_url": "",
    }


def _create(request: HttpRequest, fmt: str) -> HttpResponse:
    community = jurisdiction(request)
    key = authenticate(request, community)
    data = request.POST
    name = " ".join(
        part for part in (data.get("first_name", "").strip(), data.get("last_name", "").strip()) if part
    )
    try:
        details = intake.parse_details(
            community=community,
            service_code=data.get("service_code", "").strip(),
            description=data.get("description", ""),
            urgency=data.get("attribute[urgency]"),
            language=data.get("attribute[language]", ""),
            when=data.get("attribute[when]", ""),
            people=data.get("attribute[people]"),
            volunteers=data.get("attribute[volunteers]"),
            consent=data.get("attribute[consent]", ""),
            latitude=data.get("lat"),
            longitude=data.get("long"),
            address=data.get("address_string", ""),
            name=name,
            phone=data.get("phone", ""),
        )
        series_details = intake.parse_recurrence(
            data.get("attribute[recurrence]"), data.get("attribute[recurrence_until]"), details
        )
    except Category.DoesNotExist:
        raise Open311Error(400, f"service_code {data.get('service_code', '')[:50]!r} not found") from None
    except intake.BadInput as bad:
        raise Open311Error(400, str(bad)) from None
    try:
        if series_details is not None:
            # Recurring help: a series; its first occurrence is the request the client follows.
            help_request = services.partner_series_create(key=key, **series_details)
        else:
            help_request = services.partner_request_create(key=key, **details.as_kwargs())
    except ValidationError as invalid:  # the service's own checks, after ours
        raise Open311Error(400, "; ".join(invalid.messages)) from None
    return render(fmt, "service_requests", [{"service_request_id": str(help_request.pk)}])


def _date(params, name: str) -> dt.datetime | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        moment = parse_datetime(raw)
    except ValueError:
        moment = None
    if moment is None:
        raise Open311Error(400, f"{name} must be an ISO 8601 date and time, like 2026-12-01T00:00:00Z")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _search(request: HttpRequest, fmt: str) -> HttpResponse:
    community = jurisdiction(request)
    key = authenticate(request, community)
    params = request.GET
    found = services.partner_requests(key).select_related("community")
    ids = [part.strip() for part in params.get("service_request_id", "").split(",") if part.strip()]
    if ids:
        if not all(part.isdigit() and len(part) < 12 for part in ids):
            raise Open311Error(400, "service_request_id must be ids separated by commas")
        found = found.filter(pk__in=[int(part) for part in ids])
    else:
        # The spec: without ids, the last 90 days (at most) of the other filters.
        start, end = _date(params, "start_date"), _date(params, "end_date")
        if start and end and end - start > dt.timedelta(days=MAX_DAYS):
            raise Open311Error(400, f"start_date to end_date spans more than {MAX_DAYS} days")
        if start is None:
            start = (end or timezone.now()) - dt.timedelta(days=MAX_DAYS)
        found = found.filter(created_at__gte=start)
        if end is not None:
            found = found.filter(created_at__lte=end)
        codes = [part.strip() for part in params.get("service_code", "").split(",") if part.strip()]
        if not all(slug_re.match(code) for code in codes):
            raise Open311Error(400, "service_code must be codes separated by commas")
        if codes:
            found = found.filter(category__slug__in=codes)
        statuses = {part.strip() for part in params.get("status", "").split(",") if part.strip()}
        if statuses - {"open", "closed"}:
            raise Open311Error(400, "status must be open, closed or both separated by a comma")
        if statuses == {"open"}:
            found = found.filter(status__in=intake.OPEN_STATUSES)
        elif statuses == {"closed"}:
            found = found.filter(status__in=intake.CLOSED_STATUSES)
    return render(fmt, "service_requests", [request_document(item) for item in found[:MAX_RESULTS]])


@open311_view("GET", "POST")
def service_requests(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _create(request, fmt)
    return _search(request, fmt)


@open311_view("GET")
def service_request(request: HttpRequest, request_id: str, fmt: str) -> HttpResponse:
    community = jurisdiction(request)
    key = authenticate(request, community)
    found = None
    if request_id.isdigit() and len(request_id) < 12:
        found = services.partner_requests(key).select_related("community").filter(pk=int(request_id)).first()
    if found is None:
        raise Open311Error(404, f"service_request_id {request_id[:20]!r} not found")
    return render(fmt, "service_requests", [request_document(found)])
