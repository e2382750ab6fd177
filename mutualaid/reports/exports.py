"""CSV files: the coordinators' export (personal data) and the public open data (none).

Both are produced row by row so a large export never sits whole in memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import re
from collections.abc import AsyncIterator, Iterable, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest

from mutualaid.aid.models import Assignment, Community, HelpRequest
from mutualaid.reports.statistics import PublicFigures, community_time_zone

EXPORT_HEADER = [
    "request_id",
    "created",
    "category",
    "urgency",
    "status",
    "neighbourhood",
    "address",
    "requester_name",
    "requester_phone",
    "volunteer_name",
    "volunteer_phone",
    "assignment_status",
    "km",
    "proposed_at",
    "responded_at",
    "hours_spent",
]
# Rows fetched per query (and per prefetch of their assignments) while streaming.
CHUNK_SIZE = 500
# Lines handed over per trip to the database thread when serving over ASGI.
LINES_PER_BATCH = 200


class _Echo:
    """A file-like object that hands back what csv.writer writes (no buffer kept)."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE_LIKE = re.compile(r"[+-]?[\d\s()./-]*")


def spreadsheet_safe(value: str) -> str:
    """Text a spreadsheet will not run as a formula (people type their own names).

    A leading quote marks the cell as text; phone numbers such as "+32 470..." are left
    as they are, since they cannot call anything.
    """
    if value.startswith(_FORMULA_START) and not _PHONE_LIKE.fullmatch(value):
        return "'" + value
    return value


def _local(moment: dt.datetime | None, community: Community) -> str:
    if moment is None:
        return ""
    return moment.astimezone(community_time_zone(community)).isoformat(timespec="minutes")


def export_requests(community: Community, *, start: dt.date, end: dt.date) -> QuerySet[HelpRequest]:
    """The community's requests created from start to end (both included), oldest first."""
    zone = community_time_zone(community)
    newest_first = Assignment.objects.select_related("volunteer").order_by("-proposed_at", "-pk")
    return (
        HelpRequest.objects.filter(
            community=community,
            created_at__gte=dt.datetime.combine(start, dt.time.min, tzinfo=zone),
            created_at__lt=dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone),
        )
        .select_related("category", "requester")
        .prefetch_related(Prefetch("assignments", queryset=newest_first, to_attr="assignments_newest_first"))
        .order_by("created_at", "pk")
    )


def coordinator_export_rows(community: Community, *, start: dt.date, end: dt.date) -> Iterator[list[str]]:
    """The header, then one row per request with its latest assignment (if any).

    Two queries per CHUNK_SIZE requests (the requests, then their assignments).
    """
    yield EXPORT_HEADER
    for help_request in export_requests(community, start=start, end=end).iterator(chunk_size=CHUNK_SIZE):
        requester = help_request.requester
        latest = help_request.assignments_newest_first[0] if help_request.assignments_newest_first else None
        volunteer = latest.volunteer if latest else None
        row = [
            str(help_request.pk),
            _local(help_request.created_at, community),
            help_request.category.name,
            help_request.get_urgency_display(),
            help_request.get_status_display(),
            help_request.neighbourhood,
            help_request.address,
            # Phone intake: no account, the caller's name and number were taken down.
            requester.display_name if requester else help_request.contact_name,
            str(requester.phone) if requester else help_request.contact_phone,
            volunteer.display_name if volunteer else "",
            str(volunteer.phone) if volunteer else "",
            latest.get_status_display() if latest else "",
            f"{latest.km:.1f}" if latest else "",
            _local(latest.proposed_at, community) if latest else "",
            _local(latest.responded_at, community) if latest else "",
            "" if latest is None or latest.hours_spent is None else f"{latest.hours_spent:g}",
        ]
        yield [spreadsheet_safe(cell) for cell in row]


def public_figures_rows(figures: PublicFigures) -> Iterator[list[object]]:
    """The open data CSV: figure, group, value (one figure per line, "" group for totals)."""
    yield ["figure", "group", "value"]
    yield ["period_from", "", figures["since"].isoformat() if figures["since"] else ""]
    yield ["period_until", "", figures["until"].isoformat() if figures["until"] else ""]
    yield ["requests_total", "", figures["requests_total"]]
    yield ["requests_helped", "", figures["requests_helped"]]
    yield ["requests_time_passed", "", figures["requests_time_passed"]]
    median = figures["median_hours_to_help"]
    yield ["median_hours_to_help", "", "" if median is None else median]
    for table in ("requests_by_neighbourhood", "requests_by_category"):
        cells = figures[table]
        if cells is None:
            yield [table, "", "withheld"]
            continue
        for cell in cells:
            yield [table, spreadsheet_safe(cell["label"]), cell["requests"]]
    months = figures["requests_by_month"]
    if months is None:
        yield ["requests_by_month", "", "withheld"]
        yield ["helped_by_month", "", "withheld"]
        return
    for figure, key in (("requests_by_month", "requests"), ("helped_by_month", "helped")):
        for cell in months:
            yield [figure, cell["month"], cell[key]]


def streamed(request: HttpRequest, lines: Iterator[str]) -> Iterator[str] | AsyncIterator[str]:
    """`lines` in the form the server streams without loading them all first.

    Under ASGI (daphne), Django would gather a synchronous iterator into one list
    before sending it; an asynchronous one is sent as it comes. The database work
    stays synchronous, in batches, on the request's own thread.
    """
    if isinstance(request, ASGIRequest):
        return _in_batches(lines)
    return lines


async def _in_batches(lines: Iterator[str]) -> AsyncIterator[str]:
    def next_batch() -> str:
        return "".join(itertools.islice(lines, LINES_PER_BATCH))

    try:
        while batch := await sync_to_async(next_batch)():
            yield batch
    finally:
        close = getattr(lines, "close", None)
        if close is not None:
            await sync_to_async(close)()
