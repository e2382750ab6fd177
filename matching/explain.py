"""Why a volunteer got no proposal: one answer for the volunteer's inbox and for the
coordinator's table of volunteers on a request page.

For one volunteer and one request the reason is the first obstacle met in the order
matching meets them (the engine's feasibility rules, then capacity, then the competition),
read from the same data matching loads (`matching.fairness` weighs recent turns the same
way), so what a person is told is what matching did.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from matching.availability import available_now_slots
from mutualaid.accounts.models import User
from mutualaid.aid import selectors
from mutualaid.aid.models import (
    Assignment,
    Category,
    HelpRequest,
    PartOfDay,
    TimeWindow,
    Urgency,
    VolunteerOffer,
    part_of_day_has_passed,
    vetted_volunteer_ids,
)
from mutualaid.aid.services._records import PLACE_HOLDING_STATUSES
from mutualaid.aid.states import LIVE_ASSIGNMENT_STATUSES, AssignmentStatus, RequestStatus

# The reasons, in the order they are checked.
CHOSEN = "chosen"
HAS_PLACE = "has_place"  # holds one of the places of a task for several volunteers
SUSPENDED = "suspended"
PAUSED = "paused"
WAITING_LIST = "waiting_list"
OWN_REQUEST = "own_request"
TIME_PASSED = "time_passed"
NO_SKILL = "no_skill"
NO_LANGUAGE = "no_language"
NOT_VETTED = "not_vetted"
OUT_OF_RANGE = "out_of_range"
NO_COMMON_SLOT = "no_common_slot"
DECLINED = "declined"
AT_CAPACITY = "at_capacity"
HELD = "held"
GIVEN_TO_ANOTHER = "given_to_another"
PLACES_TAKEN = "places_taken"  # a task for several volunteers: every place taken or asked
NEXT_RUN = "next_run"

# Requests a volunteer could still be proposed, or lost to someone else.
CONSIDERED_STATUSES = (RequestStatus.OPEN, RequestStatus.PROPOSED)
FAILED_ASSIGNMENT_STATUSES = (AssignmentStatus.DECLINED, AssignmentStatus.EXPIRED, AssignmentStatus.CANCELLED)


# The great-circle radius of the engine contract (geopy's `great_circle`).
EARTH_RADIUS_KM = 6371.009


def km_between(latitude: float, longitude: float, other_latitude: float, other_longitude: float) -> float:
    """Great-circle distance (haversine), as the engine measures it, without geopy's objects:
    it runs once per volunteer or request, thousands of times on a busy day."""
    phi, other_phi = math.radians(latitude), math.radians(other_latitude)
    half_dphi = (other_phi - phi) / 2
    half_dlambda = math.radians(other_longitude - longitude) / 2
    a = math.sin(half_dphi) ** 2 + math.cos(phi) * math.cos(other_phi) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass
class RequestFacts:
    """What about a request decides who can be proposed it (plain values: thousands are read)."""

    pk: int
    latitude: float
    longitude: float
    category_id: int
    requires_vetting: bool
    language_needed: str
    any_time: bool
    requester_id: int | None
    is_held: bool
    is_urgent: bool = False
    people_needed: int = 1
    slots: set[int] = field(default_factory=set)
    live_volunteer_id: int | None = None
    live_km: float | None = None
    failed_volunteer_ids: set[int] = field(default_factory=set)
    # Several volunteers: who holds a place (asked, accepted, or done while the others are
    # not yet), as matching counts places (`PLACE_HOLDING_STATUSES`).
    place_holder_ids: set[int] = field(default_factory=set)

    @property
    def places_left(self) -> int:
        return self.people_needed - len(self.place_holder_ids)


@dataclass
class OfferFacts:
    """What about a volunteer's offer decides what they can be proposed."""

    volunteer_id: int
    latitude: float
    longitude: float
    max_km: float
    capacity: int
    is_paused: bool
    availability: set[int]
    languages: set[str]
    # The weekly slots "available now" adds, for urgent requests only.
    available_now: set[int] = field(default_factory=set)
    skills: set[int] = field(default_factory=set)  # the ids of the categories they offer (active ones)
    is_suspended: bool = False
    is_waiting: bool = False  # on the community's waiting list
    load: selectors.VolunteerLoad = field(default_factory=selectors.VolunteerLoad)


def _request_facts(help_requests: QuerySet[HelpRequest], now: dt.datetime) -> dict[int, RequestFacts]:
    facts = {
        row[0]: RequestFacts(
            *row[:8],
            is_held=row[8] is not None and row[8] > now,
            is_urgent=row[9] >= Urgency.TODAY,
            people_needed=row[10],
        )
        for row in help_requests.values_list(
            "pk",
            "latitude",
            "longitude",
            "category_id",
            "category__requires_vetting",
            "language_needed",
            "any_time",
            "requester_id",
            "held_until",
            "urgency",
            "people_needed",
        )
    }
    # A subquery, not a list of thousands of ids (slow to build, and beyond SQLite's limits).
    ids = help_requests.values("pk")
    local = timezone.localtime(now)
    # Today's parts that are over (as `part_of_day_has_passed` decides, once for all windows).
    over_today = {part for part in PartOfDay.values if part_of_day_has_passed(local.date(), part, local)}
    windows = TimeWindow.objects.filter(help_request_id__in=ids, date__gte=local.date()).values_list(
        "help_request_id", "date", "part_of_day"
    )
    for request_id, date, part in windows:
        if request_id in facts and not (date == local.date() and part in over_today):
            facts[request_id].slots.add(date.weekday() * 3 + part)
    assignments = Assignment.objects.filter(
        help_request_id__in=ids, status__in=(*PLACE_HOLDING_STATUSES, *FAILED_ASSIGNMENT_STATUSES)
    ).values_list("help_request_id", "volunteer_id", "status", "km")
    for request_id, volunteer_id, status, km in assignments:
        if request_id not in facts:
            continue  # filed since the first query
        if status in PLACE_HOLDING_STATUSES:
            facts[request_id].place_holder_ids.add(volunteer_id)
        if status in LIVE_ASSIGNMENT_STATUSES:
            facts[request_id].live_volunteer_id, facts[request_id].live_km = volunteer_id, km
        elif status in FAILED_ASSIGNMENT_STATUSES:
            facts[request_id].failed_volunteer_ids.add(volunteer_id)
    return facts


def _offer_facts(offers: QuerySet[VolunteerOffer], now: dt.datetime) -> dict[int, OfferFacts]:
    facts = {
        row[0]: OfferFacts(
            *row[:6],
            availability=set(row[6]),
            languages=set(row[7]),
            is_suspended=row[8] is not None,
            available_now=available_now_slots(row[9], now),
            is_waiting=row[10] is not None,
        )
        for row in offers.values_list(
            "volunteer_id",
            "latitude",
            "longitude",
            "max_km",
            "capacity",
            "is_paused",
            "availability",
            "languages",
            "suspended_at",
            "available_now_until",
            "waiting_since",
        )
    }
    skills = VolunteerOffer.skills.through.objects.filter(
        volunteeroffer__in=offers, category__is_active=True
    ).values_list("volunteeroffer__volunteer_id", "category_id")
    for volunteer_id, category_id in skills:
        if volunteer_id in facts:
            facts[volunteer_id].skills.add(category_id)
    for volunteer_id, load in selectors.volunteer_loads(offers.values("volunteer_id"), now).items():
        if volunteer_id in facts:
            facts[volunteer_id].load = load
    return facts


def reason_for(request: RequestFacts, offer: OfferFacts, *, vetted: bool) -> tuple[str, float]:
    """The first reason this volunteer was not proposed this request, and their distance to it."""
    km = km_between(request.latitude, request.longitude, offer.latitude, offer.longitude)
    several = request.people_needed > 1
    if several and offer.volunteer_id in request.place_holder_ids:
        return HAS_PLACE, km
    if not several and request.live_volunteer_id == offer.volunteer_id:
        return CHOSEN, km
    if offer.is_suspended:
        return SUSPENDED, km
    if offer.is_paused:
        return PAUSED, km
    if offer.is_waiting:
        return WAITING_LIST, km
    if request.requester_id == offer.volunteer_id:
        return OWN_REQUEST, km
    if not request.any_time and not request.slots:
        return TIME_PASSED, km
    if request.category_id not in offer.skills:
        return NO_SKILL, km
    if request.language_needed and request.language_needed not in offer.languages:
        return NO_LANGUAGE, km
    if request.requires_vetting and not vetted:
        return NOT_VETTED, km
    if km > offer.max_km:
        return OUT_OF_RANGE, km
    free = (offer.availability | offer.available_now) if request.is_urgent else offer.availability
    if request.slots and not request.slots & free:
        return NO_COMMON_SLOT, km
    if offer.volunteer_id in request.failed_volunteer_ids:
        return DECLINED, km
    if offer.load.active_tasks + offer.load.pending_proposals >= offer.capacity:
        return AT_CAPACITY, km
    if several and request.places_left <= 0:
        return PLACES_TAKEN, km
    if not several and request.live_volunteer_id is not None:
        return GIVEN_TO_ANOTHER, km
    if request.is_held:
        return HELD, km
    return NEXT_RUN, km


@dataclass(frozen=True)
class VolunteerRow:
    """A line of the coordinator's table of volunteers for a request."""

    volunteer: User
    km: float
    has_skill: bool
    in_range: bool
    is_paused: bool
    is_vetted: bool
    active_tasks: int
    pending_proposals: int
    recent_turns: int
    reason: str
    why: str


def volunteers_for_request(help_request: HelpRequest, *, limit: int = 40) -> list[VolunteerRow]:
    """The community's volunteers for a request, those who could do it and nearest first,
    each with their load and why they were not chosen (the `limit` first only)."""
    now = timezone.now()
    request = _request_facts(HelpRequest.objects.filter(pk=help_request.pk), now)[help_request.pk]
    community_offers = VolunteerOffer.objects.filter(
        community_id=help_request.community_id, volunteer__is_active=True
    )
    offers = _offer_facts(community_offers, now)
    vetted = vetted_volunteer_ids(community_offers.values("volunteer_id"), timezone.localdate(now))
    # Those who could do it first (the chosen one at the top), then the skilled, nearest first.
    order = {
        CHOSEN: 0,
        HAS_PLACE: 0,
        NEXT_RUN: 1,
        HELD: 1,
        GIVEN_TO_ANOTHER: 2,
        PLACES_TAKEN: 2,
        AT_CAPACITY: 3,
        DECLINED: 4,
    }
    ranked = []
    for offer in offers.values():
        reason, km = reason_for(request, offer, vetted=offer.volunteer_id in vetted)
        has_skill = help_request.category_id in offer.skills
        ranked.append(((order.get(reason, 5), not has_skill, offer.is_paused, km), offer, reason, km))
    ranked.sort(key=lambda item: item[0])
    shown = ranked[:limit]
    people = User.objects.select_related("volunteer_offer").in_bulk([item[1].volunteer_id for item in shown])
    return [
        VolunteerRow(
            volunteer=people[offer.volunteer_id],
            km=round(km, 1),
            has_skill=help_request.category_id in offer.skills,
            in_range=km <= offer.max_km,
            is_paused=offer.is_paused,
            is_vetted=offer.volunteer_id in vetted,
            active_tasks=offer.load.active_tasks,
            pending_proposals=offer.load.pending_proposals,
            recent_turns=offer.load.recent_turns,
            reason=reason,
            why=describe_for_coordinator(
                reason, offer, km=km, chosen_km=request.live_km, people_needed=request.people_needed
            ),
        )
        for _key, offer, reason, km in shown
    ]


def describe_for_coordinator(
    reason: str, offer: OfferFacts, *, km: float, chosen_km: float | None, people_needed: int = 1
) -> str:
    """The reason in a coordinator's words (about the volunteer)."""
    if reason == HAS_PLACE:
        return ngettext(
            "Holds one of its %(count)s place", "Holds one of its %(count)s places", people_needed
        ) % {"count": people_needed}
    if reason == PLACES_TAKEN:
        return ngettext(
            "Its %(count)s place is taken or asked of another volunteer",
            "All %(count)s places are taken or asked of other volunteers",
            people_needed,
        ) % {"count": people_needed}
    if reason == OUT_OF_RANGE:
        return _("Beyond their range of %(max_km)s km") % {"max_km": f"{offer.max_km:g}"}
    if reason == AT_CAPACITY:
        return _("At capacity: %(carrying)s of %(capacity)s tasks") % {
            "carrying": offer.load.active_tasks + offer.load.pending_proposals,
            "capacity": offer.capacity,
        }
    if reason == GIVEN_TO_ANOTHER:
        if chosen_km is not None and chosen_km < km:
            return _("Another volunteer was nearer (%(chosen)s km against %(km)s km)") % {
                "chosen": f"{chosen_km:.1f}",
                "km": f"{km:.1f}",
            }
        return _("Another volunteer at a similar distance has helped less lately (fair turns)")
    return str(
        {
            CHOSEN: _("Has this task"),
            SUSPENDED: _("Suspended by the coordinators"),
            PAUSED: _("Paused"),
            WAITING_LIST: _("On the waiting list: let them in first"),
            OWN_REQUEST: _("It is their own request"),
            TIME_PASSED: _("Every requested time has passed"),
            NO_SKILL: _("Does not offer this help"),
            NO_LANGUAGE: _("Does not speak the language asked for"),
            NOT_VETTED: _("Not vetted, which this help needs"),
            NO_COMMON_SLOT: _("Not free at the requested times"),
            DECLINED: _("Declined it, let it expire or was unassigned"),
            HELD: _("Can be given: the request is on hold"),
            NEXT_RUN: _("Can be proposed: matching looks again shortly"),
        }[reason]
    )


@dataclass(frozen=True)
class IdleAdvice:
    """Why a volunteer has had no proposal, and what would help, in a few short lines."""

    open_requests: int
    lines: list[str]


def _slot_name(slot: int) -> str:
    return f"{WEEKDAYS[slot // 3]} {PartOfDay(slot % 3).label.lower()}"


def why_no_proposal(volunteer: User, *, now: dt.datetime | None = None, shown: int = 3) -> IdleAdvice:
    """For a volunteer, over their community's open requests (and those proposed to
    others): why none was proposed to them, counted by reason, with what would help."""
    now = now or timezone.now()
    own_offer = VolunteerOffer.objects.filter(volunteer=volunteer)
    community_id = own_offer.values_list("community_id", flat=True).first()
    if community_id is None:
        return IdleAdvice(0, [])
    offer = _offer_facts(own_offer, now)[volunteer.pk]
    requests = _request_facts(
        HelpRequest.objects.filter(community_id=community_id, status__in=CONSIDERED_STATUSES), now
    )
    vetted = bool(vetted_volunteer_ids([volunteer.pk], timezone.localdate(now)))
    by_reason: dict[str, list[tuple[RequestFacts, float]]] = {}
    for facts in requests.values():
        reason, km = reason_for(facts, offer, vetted=vetted)
        by_reason.setdefault(reason, []).append((facts, km))
    considered = sum(
        len(found) for reason, found in by_reason.items() if reason not in (OWN_REQUEST, CHOSEN, HAS_PLACE)
    )
    if considered == 0:
        return IdleAdvice(
            0,
            [_("There are no open requests in your community right now: nothing is wrong with your offer.")],
        )
    if SUSPENDED in by_reason or WAITING_LIST in by_reason:
        return IdleAdvice(considered, [])  # the inbox says so itself
    if PAUSED in by_reason:
        return IdleAdvice(considered, [_("Your offer is paused: resume it to get proposals.")])
    lines = []
    if AT_CAPACITY in by_reason:
        lines.append(
            ngettext(
                "You already carry %(count)s task, as many as you offered: "
                "raise “tasks at once” in your offer to get more.",
                "You already carry %(count)s tasks, as many as you offered: "
                "raise “tasks at once” in your offer to get more.",
                offer.capacity,
            )
            % {"count": offer.capacity}
        )
    if OUT_OF_RANGE in by_reason:
        found = by_reason[OUT_OF_RANGE]
        nearest = min(km for _facts, km in found)
        lines.append(
            ngettext(
                "%(count)s request is further than your %(max_km)s km; the nearest "
                "is %(km)s km away: widen your radius to reach it.",
                "%(count)s requests are further than your %(max_km)s km; the nearest "
                "is %(km)s km away: widen your radius to reach it.",
                len(found),
            )
            % {"count": len(found), "max_km": f"{offer.max_km:g}", "km": f"{nearest:.1f}"}
        )
    if NO_COMMON_SLOT in by_reason:
        found = by_reason[NO_COMMON_SLOT]
        wanted = sorted(set().union(*(facts.slots for facts, _km in found)))
        lines.append(
            ngettext(
                "%(count)s request is at a time you are not free (%(times)s): add a time to your offer.",
                "%(count)s requests are at times you are not free (%(times)s): add a time to your offer.",
                len(found),
            )
            % {"count": len(found), "times": ", ".join(_slot_name(slot) for slot in wanted[:shown])}
        )
    if NO_SKILL in by_reason:
        found = by_reason[NO_SKILL]
        categories = Category.objects.filter(pk__in={facts.category_id for facts, _km in found})
        kinds = sorted(category.label for category in categories)
        lines.append(
            ngettext(
                "%(count)s request asks for help you do not offer "
                "(%(kinds)s): add it to your offer if you can.",
                "%(count)s requests ask for help you do not offer "
                "(%(kinds)s): add one to your offer if you can.",
                len(found),
            )
            % {"count": len(found), "kinds": ", ".join(kinds[:shown])}
        )
    if NO_LANGUAGE in by_reason:
        count = len(by_reason[NO_LANGUAGE])
        lines.append(
            ngettext(
                "%(count)s request needs a language you have not listed.",
                "%(count)s requests need a language you have not listed.",
                count,
            )
            % {"count": count}
        )
    if NOT_VETTED in by_reason:
        count = len(by_reason[NOT_VETTED])
        lines.append(
            ngettext(
                "%(count)s request needs a vetted volunteer: ask a coordinator to "
                "check your ID and criminal-record extract (model 2).",
                "%(count)s requests need a vetted volunteer: ask a coordinator to "
                "check your ID and criminal-record extract (model 2).",
                count,
            )
            % {"count": count}
        )
    if GIVEN_TO_ANOTHER in by_reason:
        count = len(by_reason[GIVEN_TO_ANOTHER])
        lines.append(
            ngettext(
                "%(count)s request that fits your offer went to a volunteer "
                "nearer to it or who has helped less lately.",
                "%(count)s requests that fit your offer went to volunteers "
                "nearer to them or who have helped less lately.",
                count,
            )
            % {"count": count}
        )
    if PLACES_TAKEN in by_reason:
        count = len(by_reason[PLACES_TAKEN])
        lines.append(
            ngettext(
                "%(count)s request for several volunteers that fits your offer has every "
                "place taken or asked of others.",
                "%(count)s requests for several volunteers that fit your offer have every "
                "place taken or asked of others.",
                count,
            )
            % {"count": count}
        )
    waiting = len(by_reason.get(NEXT_RUN, [])) + len(by_reason.get(HELD, []))
    if waiting:
        lines.append(
            ngettext(
                "%(count)s request fits your offer: it may be proposed to you shortly.",
                "%(count)s requests fit your offer: they may be proposed to you shortly.",
                waiting,
            )
            % {"count": waiting}
        )
    return IdleAdvice(considered, lines)
