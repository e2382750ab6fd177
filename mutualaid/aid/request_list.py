"""The coordinators' request list: the filter form, the search, and the map's points (the
same filtered requests as the list, all its pages).

A few queries whatever the community's size: counting and one page of requests from the
database, never the whole community in Python (a crisis brings thousands of requests).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass

from django import forms
from django.core.paginator import Page, Paginator
from django.db.models import Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mutualaid.aid.models import Assignment, Category, Community, HelpRequest, Urgency
from mutualaid.aid.places import coarse_point
from mutualaid.aid.states import LIVE_ASSIGNMENT_STATUSES, RequestStatus

PER_PAGE = 50
ALL_STATUSES = "all"
WAITING_CHOICES = [
    ("", _("Any time")),
    ("1h", _("More than an hour")),
    ("4h", _("More than 4 hours")),
    ("24h", _("More than a day")),
    ("72h", _("More than 3 days")),
]
WAITING_HOURS = {"1h": 1, "4h": 4, "24h": 24, "72h": 72}
SORTS = {
    "waiting": ("created_at", "pk"),
    "urgency": ("-urgency", "created_at", "pk"),
    "newest": ("-created_at", "-pk"),
}
SORT_CHOICES = [
    ("waiting", _("Waiting longest first")),
    ("urgency", _("Most urgent first")),
    ("newest", _("Newest first")),
]


class RequestFilterForm(forms.Form):
    """What a coordinator looks for: read from the query string, every field optional."""

    q = forms.CharField(
        label=_("Name, phone or request number"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[(status.value, status.label) for status in RequestStatus] + [(ALL_STATUSES, _("All"))],
    )
    neighbourhood = forms.ChoiceField(label=_("Neighbourhood"), required=False)
    category = forms.TypedChoiceField(label=_("Kind of help"), required=False, coerce=int, empty_value=None)
    urgency = forms.TypedChoiceField(
        label=_("Urgency"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", _("All")), *Urgency.choices],
    )
    waiting = forms.ChoiceField(label=_("Waiting"), required=False, choices=WAITING_CHOICES)
    sort = forms.ChoiceField(label=_("Order"), required=False, choices=SORT_CHOICES)
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, data, *, categories: list[Category], neighbourhoods: list[str]) -> None:
        super().__init__(data)
        self.fields["category"].choices = [("", _("All"))] + [
            (category.pk, category.label)
            for category in sorted(categories, key=lambda category: category.label)
        ]
        self.fields["neighbourhood"].choices = [("", _("All"))] + [(name, name) for name in neighbourhoods]

    def filters(self) -> dict:
        """The valid fields' values, defaults for the rest (an unreadable filter is ignored)."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {
            "query": cleaned.get("q", "").strip(),
            "status": cleaned.get("status") or RequestStatus.OPEN,
            "neighbourhood": cleaned.get("neighbourhood") or "",
            "category": cleaned.get("category"),
            "urgency": cleaned.get("urgency"),
            "waiting": cleaned.get("waiting") or "",
            "sort": cleaned.get("sort") or "waiting",
            "page": cleaned.get("page") or 1,
        }


def neighbourhoods_of(community: Community) -> list[str]:
    """The neighbourhoods the community's requests are in, for the filter's choices."""
    names = (
        HelpRequest.objects.filter(community=community)
        .exclude(neighbourhood="")
        .values_list("neighbourhood", flat=True)
        .distinct()
        .order_by("neighbourhood")
    )
    return list(names)


PHONE_CHARACTERS = re.compile(r"^[\d\s+()./-]+$")


def _national_digits(digits: str) -> str:
    """A Belgian number's digits without its trunk 0 or country code, as E.164 stores them
    after +32: '0470 11 22 33', '+32 470 11 22 33' and '0032470112233' all give 470112233."""
    for prefix in ("0032", "32", "0"):
        if digits.startswith(prefix) and (prefix != "32" or len(digits) >= 10):
            return digits[len(prefix) :]
    return digits


def search_condition(query: str) -> Q:
    """A name, a phone number (in any usual writing, or a part of one) or a request number.

    '#123' is a request number; digits starting with 0 or + are a phone number; other digits
    are a request number, and a phone number too when there are six or more of them.
    """
    if query.startswith("#") and query[1:].strip().isdigit():
        return Q(pk=int(query[1:].strip()))
    if PHONE_CHARACTERS.match(query):
        digits = re.sub(r"\D", "", query)
        if not digits:
            return Q(pk__in=[])
        phone = _national_digits(digits)
        by_phone = Q(contact_phone__contains=phone) | Q(requester__phone__contains=phone)
        if query.lstrip().startswith(("0", "+")):
            return by_phone
        by_number = Q(pk=int(digits)) if len(digits) <= 9 else Q(pk__in=[])
        return by_number | by_phone if len(digits) >= 6 else by_number
    condition = Q()
    for word in query.split()[:5]:
        condition &= (
            Q(contact_name__icontains=word)
            | Q(requester__first_name__icontains=word)
            | Q(requester__last_name__icontains=word)
        )
    return condition


def filtered_requests(
    community: Community, filters: dict, *, now: dt.datetime | None = None
) -> QuerySet[HelpRequest]:
    """The community's requests the filters let through, in the order asked for."""
    requests = HelpRequest.objects.filter(community=community)
    if filters["status"] != ALL_STATUSES:
        requests = requests.filter(status=filters["status"])
    if filters["query"]:
        requests = requests.filter(search_condition(filters["query"]))
    if filters["neighbourhood"]:
        requests = requests.filter(neighbourhood=filters["neighbourhood"])
    if filters["category"] is not None:
        requests = requests.filter(category_id=filters["category"])
    if filters["urgency"] is not None:
        requests = requests.filter(urgency=filters["urgency"])
    if filters["waiting"]:
        since = (now or timezone.now()) - dt.timedelta(hours=WAITING_HOURS[filters["waiting"]])
        requests = requests.filter(created_at__lte=since)
    return requests.order_by(*SORTS[filters["sort"]])


def request_page(community: Community, filters: dict) -> Page:
    """One page of the filtered requests, each with its category, requester and live task."""
    live = Assignment.objects.filter(status__in=LIVE_ASSIGNMENT_STATUSES).select_related("volunteer")
    requests = (
        filtered_requests(community, filters)
        .select_related("category", "requester", "call_taken_by")
        .prefetch_related(Prefetch("assignments", queryset=live, to_attr="live_assignments"))
    )
    return Paginator(requests, PER_PAGE).get_page(filters["page"])


@dataclass(frozen=True)
class MapPoints:
    """What the dashboard map draws, as compact JSON: thousands of points stay small."""

    centre: list[float]
    request_url: str
    categories: list[str]
    urgencies: dict[int, str]
    requests: list[list]
    volunteers: list[list]

    def as_json(self) -> dict:
        return self.__dict__


def community_categories(community: Community) -> list[Category]:
    return list(Category.objects.filter(community=community).order_by("pk"))


def community_map_points(
    community: Community, categories: list[Category], requests: QuerySet[HelpRequest] | None = None
) -> dict:
    """The requests the list's filters let through (`filtered_requests`; the community's open
    ones without any), exact (its coordinators may see them), as [latitude, longitude, number,
    urgency, category index], and its available volunteers counted per coarse cell, as
    [latitude, longitude, how many]: never a volunteer's home."""
    index = {category.pk: position for position, category in enumerate(categories)}
    if requests is None:
        requests = HelpRequest.objects.filter(community=community, status=RequestStatus.OPEN)
    requests = requests.values_list("latitude", "longitude", "pk", "urgency", "category_id")
    cells = Counter(
        coarse_point(latitude, longitude)
        for latitude, longitude in community.volunteer_offers.filter(is_paused=False).values_list(
            "latitude", "longitude"
        )
    )
    return MapPoints(
        centre=[community.latitude, community.longitude],
        request_url=reverse("coordinator-request", args=[0]),
        categories=[category.label for category in categories],
        urgencies={value: str(label) for value, label in Urgency.choices},
        requests=[
            [round(latitude, 5), round(longitude, 5), pk, urgency, index[category_id]]
            for latitude, longitude, pk, urgency, category_id in requests.order_by("pk")
        ],
        volunteers=[[latitude, longitude, count] for (latitude, longitude), count in sorted(cells.items())],
    ).as_json()
