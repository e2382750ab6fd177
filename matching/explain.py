"""Why a volunteer got no proposal: one answer for the volunteer's inbox and for the
coordinator's table of volunteers on a request page.

For one volunteer and one request the reason is the first obstacle met in the order
matching meets them (the engine's feasibility rules, then capacity, then the competition),
read from the same data matching loads (`matching.fairness` weighs recent turns the same
way), so what a person is told is what matching did.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from geopy.distance import great_circle

from mutualaid.accounts.models import User
from mutualaid.aid import selectors
from mutualaid.aid.models import (
    Assignment,
    HelpRequest,
    PartOfDay,
    TimeWindow,
    VolunteerOffer,
    vetted_volunteer_ids,
)
from mutualaid.aid.states import AssignmentStatus, RequestStatus

# The reasons, in the order they are checked.
CHOSEN = "chosen"
PAUSED = "paused"
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
NEXT_RUN = "next_run"

# Requests a volunteer could still be proposed, or lost to someone else.
CONSIDERED_STATUSES = (RequestStatus.OPEN, RequestStatus.PROPOSED)
FAILED_ASSIGNMENT_STATUSES = (AssignmentStatus.DECLINED, AssignmentStatus.EXPIRED, AssignmentStatus.CANCELLED)


@dataclass
class RequestFacts:
    """What about a request decides who can be proposed it."""

    help_request: HelpRequest
    slots: set[int]
    live_volunteer_id: int | None = None
    live_km: float | None = None
    failed_volunteer_ids: set[int] = field(default_factory=set)


def _request_facts(help_requests: list[HelpRequest], now: dt.datetime) -> list[RequestFacts]:
    facts = {}
    for help_request in help_requests:
        slots = {
            window.weekly_slot for window in help_request.time_windows.all() if not window.has_passed(now)
        }
        facts[help_request.pk] = RequestFacts(help_request, slots)
    assignments = Assignment.objects.filter(help_request_id__in=list(facts)).values_list(
        "help_request_id", "volunteer_id", "status", "km"
    )
    for request_id, volunteer_id, status, km in assignments:
        if status in (AssignmentStatus.PROPOSED, AssignmentStatus.ACCEPTED):
            facts[request_id].live_volunteer_id, facts[request_id].live_km = volunteer_id, km
        elif status in FAILED_ASSIGNMENT_STATUSES:
            facts[request_id].failed_volunteer_ids.add(volunteer_id)
    return list(facts.values())


def reason_for(
    facts: RequestFacts, offer: VolunteerOffer, *, vetted: bool, now: dt.datetime
) -> tuple[str, float]:
    """The first reason this volunteer was not proposed this request, and their distance to it.

    `offer` carries `active_tasks` and `pending_proposals` (see `offers_with_load`) and its
    prefetched skills.
    """
    help_request = facts.help_request
    km = great_circle((help_request.latitude, help_request.longitude), (offer.latitude, offer.longitude)).km
    if facts.live_volunteer_id == offer.volunteer_id:
        return CHOSEN, km
    if offer.is_paused:
        return PAUSED, km
    if help_request.requester_id == offer.volunteer_id:
        return OWN_REQUEST, km
    if not help_request.any_time and not facts.slots:
        return TIME_PASSED, km
    if not any(skill.pk == help_request.category_id and skill.is_active for skill in offer.skills.all()):
        return NO_SKILL, km
    if help_request.language_needed and help_request.language_needed not in offer.languages:
        return NO_LANGUAGE, km
    if help_request.category.requires_vetting and not vetted:
        return NOT_VETTED, km
    if km > offer.max_km:
        return OUT_OF_RANGE, km
    if facts.slots and not facts.slots & set(offer.availability):
        return NO_COMMON_SLOT, km
    if offer.volunteer_id in facts.failed_volunteer_ids:
        return DECLINED, km
    if offer.active_tasks + offer.pending_proposals >= offer.capacity:
        return AT_CAPACITY, km
    if facts.live_volunteer_id is not None:
        return GIVEN_TO_ANOTHER, km
    if help_request.is_held:
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
    each with their load and why they were not chosen."""
    now = timezone.now()
    (facts,) = _request_facts([help_request], now)
    offers = list(
        selectors.offers_with_load(now)
        .filter(community_id=help_request.community_id, volunteer__is_active=True)
        .select_related("volunteer", "volunteer__volunteer_offer")
        .prefetch_related("skills")
    )
    vetted = vetted_volunteer_ids([offer.volunteer_id for offer in offers], timezone.localdate(now))
    live_km = facts.live_km
    rows = []
    for offer in offers:
        reason, km = reason_for(facts, offer, vetted=offer.volunteer_id in vetted, now=now)
        has_skill = any(skill.pk == help_request.category_id for skill in offer.skills.all())
        rows.append(
            VolunteerRow(
                volunteer=offer.volunteer,
                km=round(km, 1),
                has_skill=has_skill,
                in_range=km <= offer.max_km,
                is_paused=offer.is_paused,
                is_vetted=offer.volunteer_id in vetted,
                active_tasks=offer.active_tasks,
                pending_proposals=offer.pending_proposals,
                recent_turns=offer.recent_turns,
                reason=reason,
                why=describe_for_coordinator(reason, offer, km=km, chosen_km=live_km),
            )
        )
    # Those who could do it first (the chosen one at the top), then the skilled, nearest first.
    order = {CHOSEN: 0, NEXT_RUN: 1, HELD: 1, GIVEN_TO_ANOTHER: 2, AT_CAPACITY: 3, DECLINED: 4}
    rows.sort(key=lambda row: (order.get(row.reason, 5), not row.has_skill, row.is_paused, row.km))
    return rows[:limit]


def describe_for_coordinator(
    reason: str, offer: VolunteerOffer, *, km: float, chosen_km: float | None
) -> str:
    """The reason in a coordinator's words (about the volunteer)."""
    if reason == OUT_OF_RANGE:
        return _("Beyond their range of %(max_km)s km") % {"max_km": f"{offer.max_km:g}"}
    if reason == AT_CAPACITY:
        return _("At capacity: %(carrying)s of %(capacity)s tasks") % {
            "carrying": offer.active_tasks + offer.pending_proposals,
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
            PAUSED: _("Paused"),
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
    offer = (
        selectors.offers_with_load(now)
        .filter(volunteer=volunteer)
        .select_related("community")
        .prefetch_related("skills")
        .first()
    )
    if offer is None:
        return IdleAdvice(0, [])
    help_requests = list(
        HelpRequest.objects.filter(community_id=offer.community_id, status__in=CONSIDERED_STATUSES)
        .select_related("category")
        .prefetch_related(
            Prefetch("time_windows", queryset=TimeWindow.objects.filter(date__gte=timezone.localdate(now)))
        )
    )
    vetted = bool(vetted_volunteer_ids([volunteer.pk], timezone.localdate(now)))
    by_reason: dict[str, list[tuple[RequestFacts, float]]] = {}
    for facts in _request_facts(help_requests, now):
        reason, km = reason_for(facts, offer, vetted=vetted, now=now)
        by_reason.setdefault(reason, []).append((facts, km))
    considered = sum(len(found) for reason, found in by_reason.items() if reason not in (OWN_REQUEST, CHOSEN))
    if considered == 0:
        return IdleAdvice(
            0,
            [_("There are no open requests in your community right now: nothing is wrong with your offer.")],
        )
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
        kinds = sorted({facts.help_request.category.label for facts, _km in found})
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
