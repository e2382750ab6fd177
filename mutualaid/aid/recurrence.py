"""Repeat rules of recurring help: RFC 5545 RRULE strings through python-dateutil.

The rule holds how often and until when ("FREQ=WEEKLY;INTERVAL=2;UNTIL=20270131"); its
first day (`starts`) is kept beside it, and its day of the week is that day's.
"""

from __future__ import annotations

import datetime as dt

from dateutil.rrule import WEEKLY, rrule, rrulestr
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

# In a sentence: Dutch and French write them in lower case ("elke dinsdag", "chaque mardi").
DAY_NAMES = (
    pgettext_lazy("weekday in a sentence", "Monday"),
    pgettext_lazy("weekday in a sentence", "Tuesday"),
    pgettext_lazy("weekday in a sentence", "Wednesday"),
    pgettext_lazy("weekday in a sentence", "Thursday"),
    pgettext_lazy("weekday in a sentence", "Friday"),
    pgettext_lazy("weekday in a sentence", "Saturday"),
    pgettext_lazy("weekday in a sentence", "Sunday"),
)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def build_rule(every_weeks: int, starts: dt.date, until: dt.date | None = None) -> str:
    """The RRULE line (without DTSTART) for help every `every_weeks` weeks on `starts`'s day."""
    if every_weeks not in (1, 2):
        raise ValueError("Recurring help comes back every week or every two weeks.")
    if until is not None and until < starts:
        raise ValueError("A repeat cannot end before it starts.")
    rule = rrule(WEEKLY, interval=every_weeks, dtstart=_midnight(starts), until=until and _midnight(until))
    # str() gives "DTSTART:...\nRRULE:FREQ=...": keep the rule's own line.
    return next(line for line in str(rule).splitlines() if line.startswith("RRULE:")).removeprefix("RRULE:")


def weeks_between(rule: str) -> int:
    """The rule's INTERVAL (1 when it has none, as RFC 5545 says)."""
    parts = dict(part.split("=", 1) for part in rule.split(";") if "=" in part)
    return int(parts.get("INTERVAL", "1"))


def occurrence_dates(rule: str, starts: dt.date, first: dt.date, last: dt.date) -> list[dt.date]:
    """The days of the rule from `first` to `last`, both included."""
    if last < first:
        return []
    dates = rrulestr(rule, dtstart=_midnight(starts)).between(_midnight(first), _midnight(last), inc=True)
    return [moment.date() for moment in dates]


def describe(every_weeks: int, starts: dt.date, part_of_day: int, until: dt.date | None) -> str:
    """ "Every Tuesday morning, until 31 Jan 2027", in the reader's language."""
    from mutualaid.aid.models import PartOfDay

    values = {"day": DAY_NAMES[starts.weekday()], "part": PartOfDay(part_of_day).label.lower()}
    if every_weeks == 2:
        text = _("Every other %(day)s %(part)s") % values
    else:
        text = _("Every %(day)s %(part)s") % values
    if until is None:
        return text
    return _("%(repeat)s, until %(date)s") % {"repeat": text, "date": date_format(until, "SHORT_DATE_FORMAT")}
