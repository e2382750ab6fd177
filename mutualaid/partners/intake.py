"""What Open311 and /api/v1/ share: reading a partner's request into the service's terms,
and describing a request back (status, times) the same way for both."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.conf import settings
from django.core.validators import slug_re
from django.utils import timezone
from geopy.distance import great_circle

from mutualaid.aid.geocoding import GeocodingError, locate, neighbourhood_near
from mutualaid.aid.models import (
    MAX_PEOPLE_NEEDED,
    Category,
    Community,
    HelpRequest,
    PartOfDay,
    SpokenLanguage,
    Urgency,
)
from mutualaid.aid.places import Location
from mutualaid.aid.states import RequestStatus

# When a part of the day starts, for `expected_datetime` (local time).
PART_STARTS = {PartOfDay.MORNING: 8, PartOfDay.AFTERNOON: 13, PartOfDay.EVENING: 18}
PART_NAMES = {"morning": PartOfDay.MORNING, "afternoon": PartOfDay.AFTERNOON, "evening": PartOfDay.EVENING}
MAX_WINDOWS = 7
# A point farther from the community's centre is a mistake (a swapped lat/long, another city).
MAX_KM_FROM_CENTRE = 50
MAX_DAYS_AHEAD = 28
OPEN_STATUSES = (RequestStatus.OPEN, RequestStatus.PROPOSED, RequestStatus.ACCEPTED)
CLOSED_STATUSES = (RequestStatus.DONE, RequestStatus.CANCELLED, RequestStatus.EXPIRED)
# For machines (both APIs); people see the pages in their own language.
STATUS_NOTES = {
    RequestStatus.OPEN: "Looking for a volunteer.",
    RequestStatus.PROPOSED: "Proposed to a volunteer; waiting for their answer.",
    RequestStatus.ACCEPTED: "A volunteer accepted and will help.",
    RequestStatus.DONE: "Done: a volunteer helped.",
    RequestStatus.CANCELLED: "Cancelled.",
    RequestStatus.EXPIRED: "Expired: every requested time passed and no volunteer was found.",
}


class BadInput(ValueError):
    """A partner's input that cannot be used; the message says why (for a machine)."""


@dataclass
class Details:
    """The keyword arguments of `help_request_create` a partner decides."""

    category: Category
    description: str
    urgency: int
    location: Location
    time_windows: list[tuple[dt.date, int]]
    any_time: bool
    contact_name: str
    contact_phone: str
    language_needed: str
    people_needed: int = 1

    def as_kwargs(self) -> dict:
        return dict(self.__dict__)


def open311_status(help_request: HelpRequest) -> str:
    return "open" if help_request.status in OPEN_STATUSES else "closed"


def expected_datetime(help_request: HelpRequest) -> dt.datetime | None:
    """The start of the first time window (none for 'any time')."""
    windows = sorted(help_request.time_windows.all(), key=lambda window: (window.date, window.part_of_day))
    if help_request.any_time or not windows:
        return None
    first = windows[0]
    naive = dt.datetime.combine(first.date, dt.time(PART_STARTS[first.part_of_day]))
    return timezone.make_aware(naive, timezone.get_current_timezone())


def iso(moment: dt.datetime | None) -> str:
    """ISO 8601 with the time zone, in the deployment's local time, to the second."""
    if moment is None:
        return ""
    return timezone.localtime(moment).replace(microsecond=0).isoformat()


def parse_windows(text: str) -> list[tuple[dt.date, int]]:
    """'2026-12-04/morning, 2026-12-05/evening' -> windows; empty or 'any' -> none."""
    text = (text or "").strip().lower()
    if text in ("", "any"):
        return []
    windows = []
    today = timezone.localdate()
    for part in text.split(","):
        day_text, _slash, part_text = part.strip().partition("/")
        try:
            day = dt.date.fromisoformat(day_text)
        except ValueError:
            raise BadInput(f"'when': {part.strip()!r} is not YYYY-MM-DD/morning|afternoon|evening") from None
        if part_text not in PART_NAMES:
            raise BadInput(f"'when': {part.strip()!r} is not YYYY-MM-DD/morning|afternoon|evening")
        if not today <= day <= today + dt.timedelta(days=MAX_DAYS_AHEAD):
            raise BadInput(f"'when': {day} is not between today and {MAX_DAYS_AHEAD} days from now")
        windows.append((day, PART_NAMES[part_text]))
    if len(set(windows)) > MAX_WINDOWS:
        raise BadInput(f"'when': at most {MAX_WINDOWS} parts of days")
    return sorted(set(windows))


# `attribute[recurrence]` (Open311) and `recurrence` (/api/v1/): weeks between occurrences.
RECURRENCE_WEEKS = {"none": 0, "weekly": 1, "fortnightly": 2}


def parse_recurrence(recurrence, until, details: Details) -> dict | None:
    """None for a one-off request; else `help_series_create`'s keyword arguments: the first
    day and part of the day are `when`'s one window, and the series runs until `until` (a
    date) or until cancelled. Each occurrence is for that week (no urgency) and asks for as
    many volunteers as `volunteers` (1 by default)."""
    recurrence = recurrence or "none"
    key = recurrence.strip().lower() if isinstance(recurrence, str) else "?"
    if key not in RECURRENCE_WEEKS:
        raise BadInput(f"recurrence must be one of {', '.join(RECURRENCE_WEEKS)}")
    until_text = (until or "").strip() if isinstance(until, str) else until
    if not RECURRENCE_WEEKS[key]:
        if until_text:
            raise BadInput("recurrence_until is only for a weekly or fortnightly recurrence")
        return None
    if len(details.time_windows) != 1:
        raise BadInput(
            f"recurrence {key}: 'when' must be exactly one part of a day, YYYY-MM-DD/morning|afternoon|"
            "evening: the first occurrence (the series repeats on that day of the week)"
        )
    starts, part_of_day = details.time_windows[0]
    days_ahead = settings.RECURRING_HELP_DAYS_AHEAD
    if starts >= timezone.localdate() + dt.timedelta(days=days_ahead):
        raise BadInput(f"recurrence {key}: the first day ('when') must be within {days_ahead} days")
    until_date = None
    if isinstance(until_text, dt.date):
        until_date = until_text
    elif until_text:
        try:
            until_date = dt.date.fromisoformat(until_text)
        except ValueError:
            raise BadInput(f"recurrence_until: {until_text[:20]!r} is not a date YYYY-MM-DD") from None
    if until_date is not None and until_date < starts:
        raise BadInput("recurrence_until: the last day cannot be before the first ('when')")
    return {
        "category": details.category,
        "description": details.description,
        "location": details.location,
        "language_needed": details.language_needed,
        "contact_name": details.contact_name,
        "contact_phone": details.contact_phone,
        "every_weeks": RECURRENCE_WEEKS[key],
        "starts": starts,
        "part_of_day": part_of_day,
        "until": until_date,
        "people_needed": details.people_needed,
    }


def parse_location(latitude, longitude, address: str) -> Location:
    address = (address or "").strip()
    if latitude not in (None, "") or longitude not in (None, ""):
        try:
            lat, lon = float(latitude), float(longitude)
        except (TypeError, ValueError):
            raise BadInput("lat and long must both be numbers") from None
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise BadInput("lat and long are out of range")
        return Location(lat, lon, address, neighbourhood_near(lat, lon))
    if not address:
        raise BadInput("give a location: lat and long, or address_string")
    try:
        return locate(address)
    except GeocodingError as error:
        raise BadInput(f"address_string: {error}") from None


def parse_details(
    *,
    community: Community,
    service_code: str,
    description: str,
    urgency,
    language: str,
    when: str,
    people,
    consent: str,
    latitude,
    longitude,
    address: str,
    name: str,
    phone: str,
    volunteers=None,
) -> Details:
    """Check what a partner sent; `Category.DoesNotExist` for an unknown service code."""
    texts = (
        service_code,
        description,
        language,
        when,
        address,
        name,
        phone,
        urgency,
        people,
        consent,
        volunteers,
    )
    if any(isinstance(text, str) and "\x00" in text for text in texts):
        # PostgreSQL cannot store a NUL character; no person types one.
        raise BadInput("text must not contain NUL characters")
    if not slug_re.match(service_code or ""):
        raise Category.DoesNotExist
    category = Category.objects.get(community=community, slug=service_code, is_active=True)
    if (consent or "").strip().lower() != "yes":
        raise BadInput("consent: the person must agree to be contacted (attribute consent = yes)")
    description = (description or "").strip()
    if not description:
        raise BadInput("description is required")
    if len(description) > 1900:
        raise BadInput("description is longer than 1900 characters")
    try:
        urgency_value = int(urgency) if urgency not in (None, "") else Urgency.THIS_WEEK
    except (TypeError, ValueError):
        urgency_value = -1
    if urgency_value not in Urgency.values:
        raise BadInput(f"urgency must be one of {', '.join(map(str, Urgency.values))}")
    language = (language or "").strip()
    if language and language not in SpokenLanguage.values:
        raise BadInput(f"language must be one of {', '.join(SpokenLanguage.values)}")
    if people not in (None, ""):
        try:
            people_count = int(people)
        except (TypeError, ValueError):
            people_count = 0
        if not 1 <= people_count <= 50:
            raise BadInput("people must be a whole number from 1 to 50")
        description = f"{description}\n\n(People: {people_count})"
    people_needed = 1
    if volunteers not in (None, ""):
        try:
            people_needed = int(volunteers)
        except (TypeError, ValueError):
            people_needed = 0
        if not 1 <= people_needed <= MAX_PEOPLE_NEEDED:
            raise BadInput(f"volunteers must be a whole number from 1 to {MAX_PEOPLE_NEEDED}")
    name, phone = (name or "").strip(), (phone or "").strip()
    if len(name) > 120 or len(phone) > 32 or len(address or "") > 255:
        raise BadInput("too long: the name has at most 120 characters, phone 32, address 255")
    if not name:
        raise BadInput("the person's name is required (first_name, last_name)")
    if sum(character.isdigit() for character in phone) < 6:
        raise BadInput("phone is required: a coordinator or volunteer calls the person back")
    windows = parse_windows(when)
    location = parse_location(latitude, longitude, address)
    centre = (community.latitude, community.longitude)
    if great_circle(centre, (location.latitude, location.longitude)).km > MAX_KM_FROM_CENTRE:
        raise BadInput(f"the location is more than {MAX_KM_FROM_CENTRE} km from {community.name}")
    return Details(
        category=category,
        description=description,
        urgency=urgency_value,
        location=location,
        time_windows=windows,
        any_time=not windows,
        contact_name=name,
        contact_phone=phone,
        language_needed=language,
        people_needed=people_needed,
    )
