"""The thin Django service around the engine: database -> instance -> solve -> proposals.

`propose_assignments` loads a community's open requests and available volunteers, asks
`matching.engine.solve` for an optimal assignment, and creates the proposals, all in one
transaction under the community's matching lock. Proposals already made and tasks already
accepted are never touched: their requests are not open and their volunteers' capacity is
reduced by what they already carry. A request for several volunteers is sent with `needs` =
its places still open (partly staffed, it is matched again for the rest), and the volunteer
who last helped its citizen in its kind of help as `preferred` (the same face again).

Some places are asked of more than one volunteer at once, the first to accept taking it:
an urgent request's (its best MATCHING_URGENT_ASK_AT_ONCE, the engine's choice and its
runners-up), and a request whose volunteer has not answered for
MATCHING_ASK_ANOTHER_AFTER_HOURS (loaded again with one place open, the volunteers already
asked excluded). See docs/architecture.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q
from django.utils import timezone

from matching.availability import request_slots, volunteer_slots
from matching.engine import parse_instance, solve
from matching.engine.runners_up import runners_up
from matching.fairness import VETTED_SKILL, fair_turn_km, language_skill, recent_turns_filter
from matching.models import MatchingRun
from matching.reasons import NO_LANGUAGE, NOT_VETTED, TIME_PASSED
from matching.scheduling import (
    claim_due_community,
    due_communities,
    lock_community_for_matching,
    release_claim,
    schedule_matching,
    seconds_until_next_due,
)
from mutualaid.accounts.models import User
from mutualaid.aid.models import (
    Assignment,
    Community,
    HelpRequest,
    TimeWindow,
    Urgency,
    VolunteerOffer,
    vetted_volunteer_ids,
)
from mutualaid.aid.services import (
    assignments_propose_batch,
    help_requests_set_waiting_reasons,
)
from mutualaid.aid.services._records import PLACE_HOLDING_STATUSES
from mutualaid.aid.states import (
    LIVE_ASSIGNMENT_STATUSES,
    MOST_ASKED_AT_ONCE,
    AssignmentStatus,
    RequestStatus,
)

logger = logging.getLogger(__name__)

Progress = Callable[[str, float], None]


@dataclass
class MatchingSnapshot:
    """A community's open requests and available volunteers as an engine instance."""

    instance: dict
    requests_by_key: dict[str, HelpRequest]
    volunteer_ids_by_key: dict[str, int]
    time_passed: list[HelpRequest] = field(default_factory=list)


@dataclass
class MatchingOutcome:
    run: MatchingRun | None
    proposed: int
    total_km: float
    unassigned_by_reason: dict[str, int]
    certificate: dict
    open_requests: int
    available_volunteers: int
    seconds: float
    dry_run: bool
    # Where the run's time went, in seconds: waiting for the community's lock and loading
    # the snapshot, solving, writing proposals and reasons, committing (which publishes).
    phases: dict[str, float] = field(default_factory=dict)


def request_key(help_request_id: int) -> str:
    return f"r{help_request_id}"


def volunteer_key(user_id: int) -> str:
    return f"v{user_id}"


def load_snapshot(community: Community, *, now: dt.datetime | None = None) -> MatchingSnapshot:
    """Map the database to the engine's instance (and lock the open requests)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    open_requests = list(
        HelpRequest.objects.select_for_update(of=("self",))
        # Open, or partly staffed (its places are counted below): several volunteers only;
        # or asked of one volunteer who has not answered for a while: one more is asked.
        .filter(community=community)
        .filter(
            Q(status=RequestStatus.OPEN)
            | Q(status=RequestStatus.PROPOSED, people_needed__gt=1)
            | Q(pk__in=silent_requests(community, now).values("pk"))
        )
        # A coordinator's hold keeps the request out until it lapses or is released.
        .filter(Q(held_until__isnull=True) | Q(held_until__lte=timezone.now()))
        .select_related("category")
        .prefetch_related(Prefetch("time_windows", queryset=TimeWindow.objects.filter(date__gte=today)))
        .order_by("pk")
    )
    # Plain rows, not model instances: a run reads these few fields of every offer in the
    # community, and building instances (and a skills manager each) was a quarter of the
    # worker's CPU under a steady stream of requests (bench/service.py).
    offers = list(
        # Paused by themselves, suspended by a coordinator or still on the waiting list: no
        # proposals.
        VolunteerOffer.objects.filter(
            community=community,
            is_paused=False,
            suspended_at__isnull=True,
            waiting_since__isnull=True,  # on the waiting list: not yet
            volunteer__is_active=True,
        )
        .annotate(
            carrying=Count(
                "volunteer__assignments",
                filter=Q(volunteer__assignments__status__in=LIVE_ASSIGNMENT_STATUSES),
            ),
            recent_turns=Count(
                "volunteer__assignments", filter=recent_turns_filter(now, "volunteer__assignments__")
            ),
        )
        .order_by("pk")
        .values(
            "pk",
            "volunteer_id",
            "latitude",
            "longitude",
            "languages",
            "availability",
            "available_now_until",
            "max_km",
            "capacity",
            "carrying",
            "recent_turns",
        )
    )
    skills_by_offer: dict[int, list[str]] = defaultdict(list)
    for offer_id, slug in VolunteerOffer.skills.through.objects.filter(
        volunteeroffer_id__in=[offer["pk"] for offer in offers], category__is_active=True
    ).values_list("volunteeroffer_id", "category__slug"):
        skills_by_offer[offer_id].append(slug)
    places_held = _places_held(open_requests)
    open_requests = [
        help_request
        for help_request in open_requests
        if help_request.people_needed > places_held.get(help_request.pk, 0)
    ]
    requests_data, requests_by_key, time_passed = [], {}, []
    for help_request in open_requests:
        # A part of today that is over is as good as a day gone by (posted "morning" at 20:39).
        slots = sorted(
            {window.weekly_slot for window in help_request.time_windows.all() if not window.has_passed(now)}
        )
        if not help_request.any_time and not slots:
            time_passed.append(help_request)  # an empty list would mean "any time" to the engine
            continue
        key = request_key(help_request.pk)
        requests_by_key[key] = help_request
        requests_data.append(
            {
                "id": key,
                "lat": help_request.latitude,
                "lon": help_request.longitude,
                # A language the helper must speak is one more skill to have.
                "skills": [help_request.category.slug]
                + ([language_skill(help_request.language_needed)] if help_request.language_needed else [])
                + ([VETTED_SKILL] if help_request.category.requires_vetting else []),
                # An urgent request is open to volunteers "available now" too.
                "slots": request_slots(slots, help_request.urgency) if slots else [],
                "priority": int(help_request.urgency),
                "needs": help_request.people_needed - places_held.get(help_request.pk, 0),
            }
        )
    volunteers_data, volunteer_ids_by_key = [], {}
    # Compared with today's date: an extract past its expiry no longer counts, no job needed.
    vetted = vetted_volunteer_ids([offer["volunteer_id"] for offer in offers], today)
    for offer in offers:
        key = volunteer_key(offer["volunteer_id"])
        volunteer_ids_by_key[key] = offer["volunteer_id"]
        volunteers_data.append(
            {
                "id": key,
                "lat": offer["latitude"],
                "lon": offer["longitude"],
                "skills": sorted(skills_by_offer[offer["pk"]])
                + [language_skill(code) for code in offer["languages"]]
                + ([VETTED_SKILL] if offer["volunteer_id"] in vetted else []),
                "slots": volunteer_slots(offer["availability"], offer["available_now_until"], now),
                "max_km": offer["max_km"],
                "capacity": max(0, offer["capacity"] - offer["carrying"]),
                # Fair turns: who helped lately costs a little more, so others get a turn.
                "extra_km": fair_turn_km(offer["recent_turns"]),
            }
        )
    exclude = _exclusions(requests_by_key, volunteer_ids_by_key)
    preferred = helped_before(list(requests_by_key.values()), set(volunteer_ids_by_key.values()), now)
    for request_data in requests_data:
        volunteer_id = preferred.get(requests_by_key[request_data["id"]].pk)
        if volunteer_id is not None:
            request_data["preferred"] = [volunteer_key(volunteer_id)]
    instance = {
        "requests": requests_data,
        "volunteers": volunteers_data,
        "exclude": exclude,
        "continuity_bonus_km": settings.MATCHING_CONTINUITY_BONUS_KM,
    }
    return MatchingSnapshot(instance, requests_by_key, volunteer_ids_by_key, time_passed)


def silent_requests(community: Community, now: dt.datetime):
    """Requests for one volunteer proposed to fewer than the most asked at once, none of
    whose proposals was made in the last MATCHING_ASK_ANOTHER_AFTER_HOURS: the next best
    volunteer is asked beside (the first to accept takes it)."""
    hours = settings.MATCHING_ASK_ANOTHER_AFTER_HOURS
    if hours <= 0:
        return HelpRequest.objects.none()
    recent = Assignment.objects.filter(
        help_request=OuterRef("pk"),
        status=AssignmentStatus.PROPOSED,
        proposed_at__gt=now - dt.timedelta(hours=hours),
    )
    return HelpRequest.objects.filter(
        community=community,
        status=RequestStatus.PROPOSED,
        people_needed=1,
        asked_at_once__lt=MOST_ASKED_AT_ONCE,
    ).exclude(Exists(recent))


def communities_with_silent_requests(now: dt.datetime | None = None) -> list[int]:
    """Communities with a request that fell silent since their last matching run (a run
    started after its newest proposal was MATCHING_ASK_ANOTHER_AFTER_HOURS old has seen it)."""
    now = now or timezone.now()
    hours = settings.MATCHING_ASK_ANOTHER_AFTER_HOURS
    if hours <= 0:
        return []
    silent_since = (
        HelpRequest.objects.filter(
            status=RequestStatus.PROPOSED, people_needed=1, asked_at_once__lt=MOST_ASKED_AT_ONCE
        )
        .annotate(
            newest=Max("assignments__proposed_at", filter=Q(assignments__status=AssignmentStatus.PROPOSED))
        )
        .filter(newest__lte=now - dt.timedelta(hours=hours))
        .values_list("community_id", "newest", "community__matching_queue__last_started_at")
    )
    due = set()
    for community_id, newest, last_started in silent_since:
        if last_started is None or last_started < newest + dt.timedelta(hours=hours):
            due.add(community_id)
    return sorted(due)


def ask_beside_silent_proposals(now: dt.datetime | None = None) -> int:
    """The worker's job: matching for every community with a request that fell silent."""
    communities = communities_with_silent_requests(now)
    for community_id in communities:
        schedule_matching(community_id)
    return len(communities)


def _places_held(help_requests: list[HelpRequest]) -> dict[int, int]:
    """Places taken (accepted, asked for, or done while the others are not yet) per request
    of several volunteers."""
    several = [help_request.pk for help_request in help_requests if help_request.people_needed > 1]
    if not several:
        return {}
    return dict(
        Assignment.objects.filter(help_request_id__in=several, status__in=PLACE_HOLDING_STATUSES)
        .values_list("help_request_id")
        .annotate(count=Count("pk"))
        .values_list("help_request_id", "count")
    )


def helped_before(
    help_requests: list[HelpRequest], available_ids: set[int], now: dt.datetime
) -> dict[int, int]:
    """The volunteer to prefer per request: the one whose latest done task for the same
    citizen in the same kind of help is the latest, within MATCHING_CONTINUITY_DAYS, if they
    can be proposed today (`available_ids`: active, not paused, vetted where needed)."""
    citizens = {help_request.requester_id for help_request in help_requests if help_request.requester_id}
    if not citizens:
        return {}
    since = now - dt.timedelta(days=settings.MATCHING_CONTINUITY_DAYS)
    done = (
        Assignment.objects.filter(
            status=AssignmentStatus.DONE,
            responded_at__gte=since,
            help_request__requester_id__in=citizens,
        )
        .order_by("responded_at", "pk")
        .values_list("help_request__requester_id", "help_request__category_id", "volunteer_id")
    )
    latest = {(citizen, category): volunteer for citizen, category, volunteer in done}  # the last wins
    preferred = {}
    for help_request in help_requests:
        volunteer_id = latest.get((help_request.requester_id, help_request.category_id))
        if volunteer_id in available_ids and volunteer_id != help_request.requester_id:
            preferred[help_request.pk] = volunteer_id
    return preferred


def _exclusions(requests_by_key: dict[str, HelpRequest], volunteer_ids_by_key: dict[str, int]) -> list:
    """Volunteers who declined, let it expire or were unassigned; nobody helps themselves;
    a volunteer who already holds a place of a request does not get a second one.

    (An open request's cancelled assignments are coordinators' unassignments or places
    given back: a cancelled request is no longer open.)
    """
    request_ids = [help_request.pk for help_request in requests_by_key.values()]
    failed_statuses = [
        AssignmentStatus.DECLINED,
        AssignmentStatus.EXPIRED,
        AssignmentStatus.CANCELLED,
        *PLACE_HOLDING_STATUSES,
    ]
    failed = Assignment.objects.filter(
        help_request_id__in=request_ids, status__in=failed_statuses
    ).values_list("help_request_id", "volunteer_id")
    pairs = {(request_key(request_id), volunteer_key(user_id)) for request_id, user_id in failed}
    for key, help_request in requests_by_key.items():
        if help_request.requester_id is not None:
            pairs.add((key, volunteer_key(help_request.requester_id)))
    return sorted([request, volunteer] for request, volunteer in pairs if volunteer in volunteer_ids_by_key)


def propose_assignments(
    *,
    community: Community,
    trigger: str = MatchingRun.Trigger.AUTOMATIC,
    started_by=None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> MatchingOutcome:
    """Propose the optimal volunteers for a community's open requests, in one transaction."""
    started = time.perf_counter()
    report = progress or (lambda stage, fraction: None)
    phases: dict[str, float] = {}
    lap = started

    def phase(name: str) -> None:
        nonlocal lap
        now = time.perf_counter()
        phases[name] = round(now - lap, 4)
        lap = now

    with transaction.atomic():
        lock_community_for_matching(community.pk)
        report("loading", 0.0)
        snapshot = load_snapshot(community)
        phase("load")
        report("solving", 0.2)
        instance = parse_instance(snapshot.instance)
        result = solve(instance, progress=_scaled(report, 0.2, 0.9))
        asked_beside = _asked_beside(snapshot, instance, result)
        phase("solve")
        report("saving", 0.9)
        waiting = _waiting_reasons(snapshot, result)
        reasons = Counter(waiting.values())
        reasons.update({TIME_PASSED: len(snapshot.time_passed)} if snapshot.time_passed else {})
        outcome = MatchingOutcome(
            run=None,
            proposed=len(result.assignments) + sum(map(len, asked_beside.values())),
            total_km=float(result.total_km),
            unassigned_by_reason=dict(sorted(reasons.items())),
            certificate=result.to_json().get("certificate", {}),
            open_requests=len(snapshot.requests_by_key) + len(snapshot.time_passed),
            available_volunteers=len(snapshot.volunteer_ids_by_key),
            seconds=0.0,
            dry_run=dry_run,
            phases=phases,
        )
        if not dry_run:
            _save(snapshot, result, asked_beside, waiting)
            outcome.seconds = time.perf_counter() - started
            outcome.run = MatchingRun.objects.create(
                community=community,
                trigger=trigger,
                started_by=started_by,
                seconds=outcome.seconds,
                open_requests=outcome.open_requests,
                available_volunteers=outcome.available_volunteers,
                proposed=outcome.proposed,
                total_km=outcome.total_km,
                unassigned_by_reason=outcome.unassigned_by_reason,
                certificate=outcome.certificate,
            )
        phase("save")
    phase("commit_and_publish")  # the events go out on commit
    outcome.seconds = time.perf_counter() - started
    report("done", 1.0)
    return outcome


def _scaled(report: Progress, start: float, end: float) -> Progress:
    return lambda stage, fraction: report(stage, start + (end - start) * fraction)


def _waiting_reasons(snapshot: MatchingSnapshot, result) -> dict[str, str]:
    """The engine's reason per unassigned request, naming the language or the vetting where
    that is what is missing."""
    waiting = {}
    for item in result.unassigned:
        help_request = snapshot.requests_by_key[item.request]
        reason = item.reason
        if reason == "no_skill":
            reason = _missing_skill(snapshot, help_request)
        waiting[item.request] = reason
    return waiting


def _missing_skill(snapshot: MatchingSnapshot, help_request: HelpRequest) -> str:
    """`no_skill`, or which of the request's extra needs (language, vetting) nobody with
    its kind of help meets."""
    offering = [
        set(volunteer["skills"])
        for volunteer in snapshot.instance["volunteers"]
        if help_request.category.slug in volunteer["skills"]
    ]
    if not offering:
        return "no_skill"
    language = language_skill(help_request.language_needed) if help_request.language_needed else None
    if language and not any(language in skills for skills in offering):
        return NO_LANGUAGE
    if help_request.category.requires_vetting:
        return NOT_VETTED
    return "no_skill"


def _asked_beside(snapshot: MatchingSnapshot, instance, result) -> dict[str, list]:
    """An urgent request for one volunteer is asked of its next best volunteers too
    (MATCHING_URGENT_ASK_AT_ONCE in all): the first to accept takes it."""
    urgent = [
        key
        for key, help_request in snapshot.requests_by_key.items()
        if help_request.urgency == Urgency.TODAY
        and help_request.people_needed == 1
        and help_request.status == RequestStatus.OPEN  # not one asked beside a silent volunteer
    ]
    return runners_up(instance, result, urgent, settings.MATCHING_URGENT_ASK_AT_ONCE - 1)


def _save(snapshot: MatchingSnapshot, result, asked_beside: dict[str, list], waiting: dict[str, str]) -> None:
    chosen = list(result.assignments) + [item for items in asked_beside.values() for item in items]
    proposals = [
        (
            snapshot.requests_by_key[item.request],
            snapshot.volunteer_ids_by_key[item.volunteer],
            float(item.km),
        )
        for item in chosen
    ]
    assignments_propose_batch(proposals=proposals)
    reasons = {snapshot.requests_by_key[key]: reason for key, reason in waiting.items()}
    reasons.update(dict.fromkeys(snapshot.time_passed, TIME_PASSED))
    help_requests_set_waiting_reasons(reasons=reasons)


def run_due_matching(*, now: dt.datetime | None = None) -> float | None:
    """The worker's matching job: run every community that is due.

    Returns the seconds until the next community is due (None when none is waiting).
    """
    now = now or timezone.now()
    for community_id, requested_by_id in due_communities(now):
        lease_ends = claim_due_community(community_id, now)
        if lease_ends is None:
            continue  # another worker took it
        community = Community.objects.get(pk=community_id)
        started_by = User.objects.filter(pk=requested_by_id).first() if requested_by_id else None
        trigger = MatchingRun.Trigger.COORDINATOR if started_by else MatchingRun.Trigger.AUTOMATIC
        try:
            outcome = propose_assignments(community=community, trigger=trigger, started_by=started_by)
        except Exception:
            logger.exception("Matching failed for %s; it will be tried again", community)
            with transaction.atomic():
                release_claim(community_id, lease_ends)
                schedule_matching(community_id, delay_seconds=60)
            continue
        release_claim(community_id, lease_ends)
        logger.info(
            "Matching %s: %d proposed, %.1f km, waiting %s (%.2f s: %s)",
            community,
            outcome.proposed,
            outcome.total_km,
            outcome.unassigned_by_reason,
            outcome.seconds,
            ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in outcome.phases.items()),
        )
    return seconds_until_next_due(timezone.now())
