"""The public transparency page with its open data, and the coordinators' CSV export."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.utils import timezone, translation
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from mutualaid.aid import services
from mutualaid.aid.models import Community
from mutualaid.aid.selectors import community_for_coordinator
from mutualaid.reports import charts, exports, hsds, statistics, suppression

EXPORT_DEFAULT_DAYS = 30
# Far-off dates would overflow the export's date arithmetic (30 days before the end, the
# day after it, the time-zone shift of the start); no request is that old or that new.
EXPORT_EARLIEST = dt.date(2000, 1, 1)
EXPORT_LATEST = dt.date(9000, 12, 31)


def _public_period(community: Community) -> dt.date:
    """The published figures stop at the start of the current month.

    Figures that moved with every new request would let a daily visitor spot the one
    request of the day in a neighbourhood; monthly steps blur that.
    """
    return timezone.localdate(timezone=statistics.community_time_zone(community)).replace(day=1)


def _public_figures(slug: str) -> tuple[Community, statistics.PublicFigures]:
    community = get_object_or_404(Community, slug=slug)
    return community, statistics.public_figures(community, until=_public_period(community))


def licence() -> dict[str, str]:
    """The open data's licence (OPEN_DATA_LICENCE_NAME and _URL: a city may choose its own)."""
    return {"name": settings.OPEN_DATA_LICENCE_NAME, "url": settings.OPEN_DATA_LICENCE_URL}


def _open_data(response: HttpResponse) -> HttpResponse:
    # Anonymised figures for anyone, including other sites' scripts (no cookies involved),
    # with their licence in a header too (RFC 8288's "license" relation) for the CSV.
    response["Access-Control-Allow-Origin"] = "*"
    response["Link"] = f'<{settings.OPEN_DATA_LICENCE_URL}>; rel="license"'
    return response


def _key_figures(figures: statistics.PublicFigures) -> list[tuple[str, str]]:
    median = figures["median_hours_to_help"]
    return [
        (_("Requests for help"), charts.value_text(figures["requests_total"])),
        (_("Requests where a volunteer helped"), charts.value_text(figures["requests_helped"])),
        (
            _("Requests whose time passed with no volunteer found"),
            charts.value_text(figures["requests_time_passed"]),
        ),
        (
            _("Median time from asking to being helped"),
            ngettext("%(hours)s hour", "%(hours)s hours", median) % {"hours": median}
            if median is not None
            else _("not published: fewer than 5 requests helped"),
        ),
    ]


@require_safe
def transparency(request: HttpRequest, slug: str) -> HttpResponse:
    community, figures = _public_figures(slug)
    return render(
        request,
        "reports/transparency.html",
        {
            "community": community,
            "figures": figures,
            "last_day": figures["until"] - dt.timedelta(days=1),
            "threshold": suppression.THRESHOLD,
            "key_figures": _key_figures(figures),
            "neighbourhood_chart": charts.public_table_chart(
                figures["requests_by_neighbourhood"],
                chart_id="requests-by-neighbourhood",
                title=_("Requests per neighbourhood"),
                label_heading=_("Neighbourhood"),
            ),
            "category_chart": charts.public_table_chart(
                figures["requests_by_category"],
                chart_id="requests-by-category",
                title=_("Requests per kind of help"),
                label_heading=_("Kind of help"),
            ),
            "monthly_chart": charts.monthly_chart(
                figures["requests_by_month"],
                chart_id="requests-by-month",
                title=_("Requests per month, and how many of them were helped"),
            ),
            "licence": licence(),
        },
    )


@require_safe
def transparency_csv(request: HttpRequest, slug: str) -> HttpResponse:
    community, figures = _public_figures(slug)
    response = HttpResponse(
        "".join(exports.csv_lines(exports.public_figures_rows(figures))),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="transparency-{community.slug}.csv"'
    return _open_data(response)


def public_figures_document(community: Community, figures: statistics.PublicFigures) -> dict:
    """The public figures as the JSON page and /api/v1/figures give them (shape below)."""
    data = {
        "community": {"name": community.name, "slug": community.slug},
        "period": {
            "from": figures["since"].isoformat() if figures["since"] else None,
            "until": figures["until"].isoformat() if figures["until"] else None,
        },
        "suppression": {
            "threshold": suppression.THRESHOLD,
            "small": suppression.SMALL,
            "hidden": suppression.HIDDEN,
        },
        "requests_total": figures["requests_total"],
        "requests_helped": figures["requests_helped"],
        "requests_time_passed": figures["requests_time_passed"],
        "median_hours_to_help": figures["median_hours_to_help"],
        "requests_by_neighbourhood": figures["requests_by_neighbourhood"],
        "requests_by_category": figures["requests_by_category"],
        "requests_by_month": figures["requests_by_month"],
        "licence": licence(),
    }
    return data


def community_public_figures(community: Community) -> dict:
    """The same suppressed figures as the public page, for one community."""
    return public_figures_document(
        community, statistics.public_figures(community, until=_public_period(community))
    )


@require_safe
def transparency_json(request: HttpRequest, slug: str) -> HttpResponse:
    """The figures as JSON (the same, suppressed, as the page). Shape::

        {
          "community": {"name": str, "slug": str},
          "period": {"from": "YYYY-MM-DD" | null, "until": "YYYY-MM-DD" (excluded) | null},
          "suppression": {"threshold": 5, "small": "<5", "hidden": "hidden"},
          "requests_total": int | "<5",
          "requests_helped": int | "<5",
          "requests_time_passed": int | "<5",
          "median_hours_to_help": int | null,
          "requests_by_neighbourhood": [{"label": str, "requests": int | "<5" | "hidden"}] | null,
          "requests_by_category": [same] | null,
          "requests_by_month": [{"month": "YYYY-MM", "requests": int | "<5" | "hidden",
                                 "helped": same}] | null,
          "licence": {"name": str, "url": str}
        }

    A table is null when it cannot be published without exposing a small count.
    """
    community, figures = _public_figures(slug)
    data = public_figures_document(community, figures)
    return _open_data(JsonResponse(data))


@require_safe
def transparency_hsds(request: HttpRequest, slug: str) -> HttpResponse:
    """The community's listing for services directories, in Open Referral HSDS 3.0's JSON
    (`mutualaid/reports/hsds.py`); its texts in the language asked for."""
    community = get_object_or_404(Community, slug=slug)
    response = JsonResponse(hsds.directory_document(community), json_dumps_params={"ensure_ascii": False})
    response["Content-Language"] = translation.get_language()
    return _open_data(response)


class BadDateRange(ValueError):
    """The export's start or end cannot be used; the message says why."""


def _date_parameter(request: HttpRequest, name: str) -> dt.date | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    try:
        day = parse_date(raw)
    except ValueError:  # well formed but impossible, like 2025-02-30
        day = None
    if day is None:
        raise BadDateRange(
            _("'%(name)s' must be a date written as YYYY-MM-DD, like 2025-03-01; got '%(value)s'.")
            % {"name": name, "value": raw[:40]}
        )
    return min(max(day, EXPORT_EARLIEST), EXPORT_LATEST)


def _export_range(request: HttpRequest, today: dt.date) -> tuple[dt.date, dt.date]:
    start, end = _date_parameter(request, "start"), _date_parameter(request, "end")
    end = end or today
    start = start or end - dt.timedelta(days=EXPORT_DEFAULT_DAYS - 1)
    if start > end:
        raise BadDateRange(
            _("The start (%(start)s) is after the end (%(end)s).") % {"start": start, "end": end}
        )
    return start, end


@login_required
@never_cache
@require_safe
def coordinator_export(request: HttpRequest) -> HttpResponse:
    """Requests created from start to end (included; default: the last 30 days) as CSV.

    Personal data: only for the coordinators of the community (others get a 404).
    """
    community = community_for_coordinator(request.user, request.GET.get("community"))
    today = timezone.localdate(timezone=statistics.community_time_zone(community))
    try:
        start, end = _export_range(request, today)
    except BadDateRange as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    # Who took personal data out of the service, and which, is for the audit log to say.
    services.audit(
        actor=request.user,
        community_id=community.pk,
        action="export",
        after={"start": start.isoformat(), "end": end.isoformat()},
    )
    lines = exports.csv_lines(exports.coordinator_export_rows(community, start=start, end=end))
    response = StreamingHttpResponse(exports.streamed(request, lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="requests-{community.slug}-{start}-{end}.csv"'
    return response
