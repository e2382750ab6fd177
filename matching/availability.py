"""When a volunteer is free, in the engine's slot numbers.

The weekly grid gives slots 0..20 (7 days x morning, afternoon, evening). "Available now"
(a volunteer's switch for the next AVAILABLE_NOW_HOURS) is for urgent requests only, so its
slots get labels of their own, NOW_SLOT_OFFSET + the weekly slot: an urgent request lists
both labels for each of its parts of days, an ordinary request only the weekly one. The
engine needs no new rule: two slot lists share a label or they don't.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from mutualaid.aid.models import PART_OF_DAY_ENDS_AT_HOUR, PartOfDay, Urgency

NOW_SLOT_OFFSET = 100
# The hour (local time) at which each part of the day begins for "available now".
PART_OF_DAY_STARTS_AT_HOUR = {PartOfDay.MORNING: 0, PartOfDay.AFTERNOON: 12, PartOfDay.EVENING: 17}


def weekly_slots_between(start: dt.datetime, end: dt.datetime) -> set[int]:
    """The weekly slots whose part of a day overlaps [start, end), in the service's local time."""
    start, end = timezone.localtime(start), timezone.localtime(end)
    slots: set[int] = set()
    day = start.date()
    while day <= end.date():
        for part in PartOfDay:
            part_start = dt.datetime.combine(day, dt.time(PART_OF_DAY_STARTS_AT_HOUR[part]), start.tzinfo)
            part_end = dt.datetime.combine(day, dt.time(PART_OF_DAY_ENDS_AT_HOUR[part]), start.tzinfo)
            if part_start < end and start < part_end:
                slots.add(day.weekday() * 3 + part)
        day += dt.timedelta(days=1)
    return slots


def available_now_slots(available_now_until: dt.datetime | None, now: dt.datetime) -> set[int]:
    """The slots a volunteer's "available now" switch adds (empty once it has run out)."""
    if available_now_until is None or available_now_until <= now:
        return set()
    return weekly_slots_between(now, available_now_until)


def volunteer_slots(
    availability: list[int], available_now_until: dt.datetime | None, now: dt.datetime
) -> list[int]:
    """A volunteer's slot labels for the engine: the weekly grid, plus "now" labels."""
    return sorted(
        set(availability) | {NOW_SLOT_OFFSET + slot for slot in available_now_slots(available_now_until, now)}
    )


def request_slots(weekly_slots: list[int], urgency: int) -> list[int]:
    """A request's slot labels for the engine: an urgent one is open to "available now" too."""
    if urgency < Urgency.TODAY:
        return list(weekly_slots)
    return sorted(set(weekly_slots) | {NOW_SLOT_OFFSET + slot for slot in weekly_slots})
