"""Building a community's history for the report tests, with times the test controls."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from mutualaid.accounts.models import User
from mutualaid.aid import services
from mutualaid.aid.models import Assignment, Category, Community, HelpRequest, StatusChange
from mutualaid.aid.places import Location
from tests.conftest import post_request

WILSELE = Location(50.9100, 4.7000, "Kapelstraat 7, 3012 Wilsele", "Wilsele")
HEVERLEE = Location(50.8600, 4.6900, "Waversebaan 20, 3001 Heverlee", "Heverlee")


def local(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    """A moment on the community's clock (settings.TIME_ZONE)."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=timezone.get_default_timezone())


def set_created(help_request: HelpRequest, moment: dt.datetime) -> None:
    HelpRequest.objects.filter(pk=help_request.pk).update(created_at=moment)


def set_request_change_time(help_request: HelpRequest, to_status: str, moment: dt.datetime) -> None:
    StatusChange.objects.filter(
        help_request=help_request, subject=StatusChange.Subject.REQUEST, to_status=to_status
    ).update(at=moment)


def accepted(help_request: HelpRequest, volunteer: User, *, km: float = 1.2) -> Assignment:
    assignment = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=km)
    return services.assignment_accept(assignment=assignment, volunteer=volunteer)


def done(help_request: HelpRequest, volunteer: User, *, hours: float | None = None) -> Assignment:
    assignment = accepted(help_request, volunteer)
    return services.assignment_complete(assignment=assignment, volunteer=volunteer, hours_spent=hours)


def requests_in(
    count: int, requester: User, community: Community, category: Category, location: Location
) -> list[HelpRequest]:
    return [post_request(requester, community, category, location=location) for _ in range(count)]


def last_month() -> dt.datetime:
    """A moment in the month before the current one: inside the public figures' period."""
    first_of_month = timezone.localdate().replace(day=1)
    return local(first_of_month.year, first_of_month.month, 1) - dt.timedelta(days=10)
