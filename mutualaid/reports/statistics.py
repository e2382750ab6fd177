"""Figures about a community, computed with aggregate queries. Read-only: nothing here writes.

Who may see what is the caller's business, except for `public_figures`, which is safe
to publish as it is (anonymised and small-cell suppressed).
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from typing import TypedDict
from zoneinfo import ZoneInfo

from django.db.models import Count, Min, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from matching.reasons import reason_label
from mutualaid.accounts.models import User
from mutualaid.aid.models import (
    Assignment,
    Category,
    Community,
    HelpRequest,
    StatusChange,
    VolunteerOffer,
    localized_name,
)
from mutualaid.aid.states import AssignmentStatus, RequestStatus
from mutualaid.reports.suppression import (
    HIDDEN,
    THRESHOLD,
    PublishedCount,
    suppress_small_counts,
    suppress_total,
)

ACCEPTANCE_WINDOW_DAYS = 30
# A volunteer who marks a task done without saying how long it took still gave time.
DEFAULT_HOURS_PER_TASK = 1.0
# The open figures' series: the whole months before the published period's end.
SERIES_MONTHS = 12


def community_time_zone(community: Community) -> ZoneInfo:
    """The zone in which the community's days begin and end (and its nights are quiet)."""
    return ZoneInfo(community.time_zone)


def _start_of_day(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone)


def _request_changes(community: Community, to_status: str) -> QuerySet[StatusChange]:
    return StatusChange.objects.filter(
        help_request__community=community, subject=StatusChange.Subject.REQUEST, to_status=to_status
    )


def _hours_and_tasks(assignments: QuerySet[Assignment]) -> tuple[float, int]:
    totals = assignments.filter(status=AssignmentStatus.DONE).aggregate(
        tasks=Count("pk"), hours=Sum(Coalesce("hours_spent", Value(DEFAULT_HOURS_PER_TASK)))
    )
    return round(totals["hours"] or 0.0, 1), totals["tasks"]


class DashboardCounters(TypedDict):
    open: int
    proposed: int
    accepted: int
    expired: int
    done_today: int
    median_minutes_to_acceptance: float | None
    volunteers_available: int
    hours_given_total: float
    tasks_done_total: int


def dashboard_counters(community: Community, *, today: dt.date | None = None) -> DashboardCounters:
    """The coordinator's headline numbers (five queries, whatever the community's size).

    - open, proposed, accepted, expired: requests in that status now (expired: every
      chosen time passed with no one found; a coordinator may call them);
    - done_today: requests that became done today (a day in the community's time zone);
    - median_minutes_to_acceptance: over the requests first accepted in the last 30 days
      (today included), the median of first acceptance minus creation; None without any;
    - volunteers_available: offers that are not paused;
    - hours_given_total, tasks_done_total: over all completed assignments. A task done
      without hours counts as one hour (DEFAULT_HOURS_PER_TASK).
    """
    zone = community_time_zone(community)
    today = today or timezone.localdate(timezone=zone)
    tomorrow = _start_of_day(today + dt.timedelta(days=1), zone)

    statuses = HelpRequest.objects.filter(community=community).aggregate(
        open=Count("pk", filter=Q(status=RequestStatus.OPEN)),
        proposed=Count("pk", filter=Q(status=RequestStatus.PROPOSED)),
        accepted=Count("pk", filter=Q(status=RequestStatus.ACCEPTED)),
        expired=Count("pk", filter=Q(status=RequestStatus.EXPIRED)),
    )
    done_today = (
        _request_changes(community, RequestStatus.DONE)
        .filter(at__gte=_start_of_day(today, zone), at__lt=tomorrow)
        .aggregate(n=Count("help_request", distinct=True))["n"]
    )
    window_start = _start_of_day(today - dt.timedelta(days=ACCEPTANCE_WINDOW_DAYS - 1), zone)
    # Filtering the joined changes before annotating keeps the join to acceptances only.
    first_acceptances = (
        HelpRequest.objects.filter(
            community=community,
            status_changes__subject=StatusChange.Subject.REQUEST,
            status_changes__to_status=RequestStatus.ACCEPTED,
        )
        .annotate(first_accepted_at=Min("status_changes__at"))
        .filter(first_accepted_at__gte=window_start, first_accepted_at__lt=tomorrow)
        .values_list("created_at", "first_accepted_at")
    )
    minutes = [(accepted - created).total_seconds() / 60 for created, accepted in first_acceptances]
    hours_given, tasks_done = _hours_and_tasks(Assignment.objects.filter(help_request__community=community))
    return {
        **statuses,
        "done_today": done_today,
        "median_minutes_to_acceptance": round(statistics.median(minutes), 1) if minutes else None,
        "volunteers_available": VolunteerOffer.objects.filter(
            community=community, is_paused=False, suspended_at__isnull=True
        ).count(),
        "hours_given_total": hours_given,
        "tasks_done_total": tasks_done,
    }


@dataclass(frozen=True)
class UnmatchedRequest:
    """An open request and why the last matching run left it waiting."""

    help_request: HelpRequest
    reason_code: str
    reason_label: str


def unmatched_requests(community: Community) -> list[UnmatchedRequest]:
    """The community's open requests, oldest first, each with its waiting reason.

    A request matching has not looked at yet has an empty code.
    """
    open_requests = (
        HelpRequest.objects.filter(community=community, status=RequestStatus.OPEN)
        .select_related("category", "requester")
        .order_by("created_at", "pk")
    )
    return [
        UnmatchedRequest(
            help_request=help_request,
            reason_code=help_request.unassigned_reason,
            reason_label=(
                reason_label(help_request.unassigned_reason)
                if help_request.unassigned_reason
                else _("Not looked at by matching yet")
            ),
        )
        for help_request in open_requests
    ]


@dataclass(frozen=True)
class ShortageRow:
    """Open requests against available volunteers for one category or neighbourhood.

    gap = open_requests - available_volunteers: above zero, help is short there.
    """

    label: str
    open_requests: int
    available_volunteers: int

    @property
    def gap(self) -> int:
        return self.open_requests - self.available_volunteers


class Shortage(TypedDict):
    by_category: list[ShortageRow]
    by_neighbourhood: list[ShortageRow]


def _count_per_category(rows: QuerySet) -> Coalesce:
    """A subquery counting `rows` (which have a `category` field) for the outer category."""
    counts = rows.filter(category=OuterRef("pk")).order_by().values("category").annotate(n=Count("pk"))
    return Coalesce(Subquery(counts.values("n")), 0)


def _by_gap(rows: list[ShortageRow]) -> list[ShortageRow]:
    return sorted(rows, key=lambda row: (-row.gap, row.label))


def volunteer_shortage(community: Community) -> Shortage:
    """Where help is short: per category and per neighbourhood, largest gap first (3 queries).

    Per category: open requests needing it against available (not paused) volunteers
    offering it; offered categories are listed even when both are zero. Per
    neighbourhood: open requests there against available volunteers living there.
    """
    open_requests = HelpRequest.objects.filter(community=community, status=RequestStatus.OPEN)
    available = VolunteerOffer.objects.filter(community=community, is_paused=False, suspended_at__isnull=True)
    offering = VolunteerOffer.skills.through.objects.filter(
        volunteeroffer__community=community,
        volunteeroffer__is_paused=False,
        volunteeroffer__suspended_at__isnull=True,
    )
    # Counting in subqueries: two counted joins on one query would multiply each other.
    categories = (
        Category.objects.filter(community=community)
        .annotate(
            open_requests=_count_per_category(open_requests),
            available_volunteers=_count_per_category(offering),
        )
        .values_list("name", "name_nl", "name_fr", "is_active", "open_requests", "available_volunteers")
    )
    by_category = [
        ShortageRow(
            label=localized_name(name, dutch, french), open_requests=requests, available_volunteers=volunteers
        )
        for name, dutch, french, is_active, requests, volunteers in categories
        if is_active or requests
    ]

    requests_there = dict(open_requests.values_list("neighbourhood").annotate(n=Count("pk")).order_by())
    volunteers_there = dict(available.values_list("neighbourhood").annotate(n=Count("pk")).order_by())
    by_neighbourhood = [
        ShortageRow(
            label=name or _("Neighbourhood not known"),
            open_requests=requests_there.get(name, 0),
            available_volunteers=volunteers_there.get(name, 0),
        )
        for name in set(requests_there) | set(volunteers_there)
    ]
    return {"by_category": _by_gap(by_category), "by_neighbourhood": _by_gap(by_neighbourhood)}


class VolunteerHistory(TypedDict):
    tasks_done: int
    hours_given: float


def volunteer_history(user: User) -> VolunteerHistory:
    """What one volunteer has given, for their own profile (one query).

    A task done without hours counts as one hour. Only ever shown to the volunteer
    themselves: the service does not rank people.
    """
    hours_given, tasks_done = _hours_and_tasks(Assignment.objects.filter(volunteer=user))
    return {"tasks_done": tasks_done, "hours_given": hours_given}


class PublicCell(TypedDict):
    label: str
    requests: PublishedCount


class MonthCell(TypedDict):
    month: str  # "2026-11"
    requests: PublishedCount
    helped: PublishedCount


class PublicFigures(TypedDict):
    since: dt.date | None
    until: dt.date | None
    requests_total: PublishedCount
    requests_helped: PublishedCount
    requests_time_passed: PublishedCount
    median_hours_to_help: int | None
    requests_by_neighbourhood: list[PublicCell] | None
    requests_by_category: list[PublicCell] | None
    requests_by_month: list[MonthCell] | None


def _published_table(counts: dict[str, int]) -> list[PublicCell] | None:
    published = suppress_small_counts(counts)
    if published is None:
        return None
    return [{"label": label, "requests": published[label]} for label in sorted(published, key=str.casefold)]


def _months_before(until: dt.date, months: int) -> list[dt.date]:
    """The first days of the `months` whole months before `until`'s month, oldest first."""
    firsts, month = [], until.replace(day=1)
    for _month in range(months):
        month = (month - dt.timedelta(days=1)).replace(day=1)
        firsts.append(month)
    return firsts[::-1]


def monthly_series(
    community: Community,
    requests: QuerySet[HelpRequest],
    done_changes: Q,
    *,
    until: dt.date | None,
    zone: ZoneInfo,
    months: int = SERIES_MONTHS,
) -> list[MonthCell] | None:
    """Requests per month of creation and how many of them were helped, for the whole months
    before `until` (one query). Each column is suppressed as a table of its own (months
    with 1 to 4 are "<5", and another hidden where a total would give one away); None when
    the requests cannot be published safely, every "helped" hidden when those cannot."""
    until = until or timezone.localdate(timezone=zone)
    firsts = _months_before(until, months)
    in_window = requests.filter(
        created_at__gte=_start_of_day(firsts[0], zone),
        created_at__lt=_start_of_day(until.replace(day=1), zone),
    )

    counted = (
        in_window.annotate(month=TruncMonth("created_at", tzinfo=zone))
        .values("month")
        .annotate(asked=Count("pk", distinct=True), helped=Count("pk", distinct=True, filter=done_changes))
        .order_by()
    )
    found = {row["month"].strftime("%Y-%m"): row for row in counted}
    months = [first.strftime("%Y-%m") for first in firsts]
    asked = suppress_small_counts({month: found[month]["asked"] if month in found else 0 for month in months})
    helped = suppress_small_counts(
        {month: found[month]["helped"] if month in found else 0 for month in months}
    )
    if asked is None:
        return None
    if helped is None:  # too few helped to show per month: the requests still are
        helped = dict.fromkeys(months, HIDDEN)
    return [{"month": month, "requests": asked[month], "helped": helped[month]} for month in months]


def public_figures(
    community: Community, *, since: dt.date | None = None, until: dt.date | None = None
) -> PublicFigures:
    """The anonymised figures of the transparency page and its open data (five queries).

    Counts the requests created from `since` (included) to `until` (excluded), days in
    the community's time zone; None leaves that end open. Published: the number of
    requests (cancelled ones included), per neighbourhood and per category (offered
    categories appear with 0),
    how many were helped (done before `until`), how many expired (every chosen time passed
    with no one found, and not given new times since), and the median hours from creation
    to done, rounded to the hour; and a series of the last whole months (`monthly_series`).

    Small-cell suppression (see `mutualaid.reports.suppression` for the full rule): a
    count from 1 to 4 is "<5"; where the total would let a reader subtract their way to
    such a cell, the next smallest cell is "hidden" too; a table that cannot be
    protected is None. The median is None unless at least 5 requests were helped. Rows
    are alphabetical, never by size. Nothing about a single request is published: no
    names, addresses, ids, descriptions or times.
    """
    zone = community_time_zone(community)
    requests = HelpRequest.objects.filter(community=community)
    done_changes = Q(status_changes__subject=StatusChange.Subject.REQUEST) & Q(
        status_changes__to_status=RequestStatus.DONE
    )
    if since:
        requests = requests.filter(created_at__gte=_start_of_day(since, zone))
    if until:
        requests = requests.filter(created_at__lt=_start_of_day(until, zone))
        done_changes &= Q(status_changes__at__lt=_start_of_day(until, zone))

    per_neighbourhood = dict(requests.values_list("neighbourhood").annotate(n=Count("pk")).order_by())
    known = _("Neighbourhood not known")
    if "" in per_neighbourhood:
        per_neighbourhood[known] = per_neighbourhood.pop("") + per_neighbourhood.get(known, 0)
    per_category: dict[str, int] = {}
    categories = (
        Category.objects.filter(community=community)
        .annotate(n=_count_per_category(requests))
        .values_list("name", "name_nl", "name_fr", "is_active", "n")
    )
    for english, dutch, french, is_active, count in categories:
        name = localized_name(english, dutch, french)
        if is_active or count:
            # Two categories may share a name; the public sees one row for it.
            per_category[name] = per_category.get(name, 0) + count
    counted = requests.aggregate(
        total=Count("pk"), time_passed=Count("pk", filter=Q(status=RequestStatus.EXPIRED))
    )
    total = counted["total"]
    helped = (
        requests.filter(done_changes)
        .annotate(done_at=Min("status_changes__at"))
        .values_list("created_at", "done_at")
    )
    hours_to_help = [(done - created).total_seconds() / 3600 for created, done in helped]
    by_month = monthly_series(community, requests, done_changes, until=until, zone=zone)
    return {
        "since": since,
        "until": until,
        "requests_total": suppress_total(total),
        "requests_helped": suppress_total(len(hours_to_help)),
        "requests_time_passed": suppress_total(counted["time_passed"]),
        "median_hours_to_help": (
            round(statistics.median(hours_to_help)) if len(hours_to_help) >= THRESHOLD else None
        ),
        "requests_by_neighbourhood": _published_table(per_neighbourhood),
        "requests_by_category": _published_table(per_category),
        "requests_by_month": by_month,
    }
