"""A month in one community, through the real services, engine and worker jobs, on a simulated clock.

    .venv/bin/python bench/city.py [--seed 1] [--quick] [--json figures.json]

One-off requests are filed with `help_request_create`; recurring help with
`help_series_create`, its occurrences filed by the worker's job (`file_recurring_help`)
a week ahead, and a volunteer accepting an occurrence takes "every week"
(`assignment_accept_every_week`) with probability P_EVERY_WEEK (--every-week) under this
service (the other schemes have no such commitment: their volunteers accept one occurrence
at a time). Every proposal is made by the strategy under test and written by the real services
(`matching.services.run_due_matching` for this service; `assignments_propose_batch` or
`assignment_propose` for the others), and every answer goes through `assignment_accept`,
`assignment_decline` and `assignment_complete`; unanswered proposals and requests whose
time passed expire by the worker's own jobs (`worker.jobs.expire_proposals`,
`expire_passed_requests`), and a decline or an expiry sends the request back to matching
as it does in production (the community's matching queue), where the volunteer who last
helped the citizen is `preferred`. The figures are read back from the database's records
(assignments and status changes). Nothing of the service is copied; the baselines' own
choosing (greedy, broadcast) reads the engine's instance as `load_snapshot` builds it.

The clock: `django.utils.timezone.now` is patched (unittest.mock) for the whole run to
return the simulation's time; no module of the project imports `now` by name (grep
"from django.utils.timezone import"), and `timezone.localdate()`, `auto_now` fields and the
worker's jobs all go through it. Events (arrivals, answers, completions) happen at their
own times. The worker's jobs run when they can have something to do, which gives what
running them every few seconds would, at a fraction of the queries: proposal expiry at
each proposal's deadline, the time-passed and recurring-help jobs when a part of the day
ends and at midnight, and matching right after any event that made the community due (the
worker is woken on commit).

The community: Leuven (volunteers and requests scattered around the centre), four kinds
of help, volunteers free in a random ~40 % of the week's 21 parts of days, one task at a
time (a fifth two), travelling 2-5 km. Requests arrive by the hour (a day's profile
peaking mid-morning), 40 % of them recurring (weekly on one day and part of day until the
month ends). One-off requests: 20 % "today, it is urgent" (the rest of today), 40 % "in
the next two days", 40 % "this week" (three parts of days in the coming week). A volunteer
answers a proposal after a delay drawn lognormal (median 45 min, 90th percentile 6 h; half
of the log delay's variance is the volunteer's own pace, the same for all their answers);
25 % of proposals are declined and 15 % never answered; an accepted task is done at the
end of its part of the day.

The strategies, each over the same arrivals and the same volunteers (and, where a
volunteer meets the same request, the same answer):

- "this service": the worker's matching job (the engine, fair turns as configured).
- "km only": the same with MATCHING_FAIR_TURN_KM_PER_TASK=0 and
  MATCHING_CONTINUITY_BONUS_KM=0 (the total-km optimum the target is measured against).
- "greedy nearest": each open request in turn (urgent first, then oldest) goes to the
  nearest volunteer who can take it, from the same snapshot the engine gets.
- "broadcast": everyone who can take it is alerted at once, the first to accept wins
  (GoodSAM's way); nobody accepting within the answer time, it is alerted again.
- "one at a time": this service with MATCHING_URGENT_ASK_AT_ONCE=1, so an urgent request
  too is proposed to one volunteer at a time (the service asks its best three at once).

Sizes: the Leuven scenario keeps the first fortnight's ratio (about 1,490 volunteers for
120 requests in ten days: 124 volunteers per daily request) at a third of the size, so
that a run of the real matching stays in seconds on a shared machine; "scarce" has far
fewer volunteers than work. Arrivals stop after 30 days; the clock runs a week more, so
that every request's time passes. --quick shrinks both to a week (about 20-30 s). Every
request needs one volunteer (tasks for several are not simulated).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import heapq
import itertools
import json
import math
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

LEUVEN = (50.8790, 4.7050)
LOCAL = ZoneInfo("Europe/Brussels")
START = dt.datetime(2027, 3, 1, tzinfo=LOCAL)  # a Monday
# Local hours at which the time-passed and recurring-help jobs run: midnight, and the end
# of each part of the day (PART_OF_DAY_ENDS_AT_HOUR), a second after.
JOB_HOURS = (0, 12, 17, 22)
CATEGORIES = ("shopping", "pharmacy", "call", "lift")
CATEGORY_WEIGHTS = (0.45, 0.2, 0.25, 0.1)

# The answer model of the issue: lognormal delay, median 45 min, 90th percentile 6 h.
ANSWER_MEDIAN_MINUTES = 45.0
ANSWER_P90_MINUTES = 360.0
ANSWER_SIGMA = math.log(ANSWER_P90_MINUTES / ANSWER_MEDIAN_MINUTES) / 1.2815515655446004
# Half the spread of log delays is the volunteer's own pace (some look at their phone all day,
# some once in the evening), half the moment's: the delays of all proposals together keep
# the median and 90th percentile.
VOLUNTEER_PACE_SIGMA = ANSWER_SIGMA / math.sqrt(2)
MOMENT_SIGMA = ANSWER_SIGMA / math.sqrt(2)
DECLINE_SHARE = 0.25
SILENT_SHARE = 0.15
RECURRING_SHARE = 0.40
P_EVERY_WEEK = 0.7  # a volunteer accepting an occurrence takes every week (real series only)

# Arrivals by hour of the day (local time), relative weights.
HOURLY_PROFILE = (
    0,
    0,
    0,
    0,
    0,
    0,
    0.2,
    0.6,
    1.2,
    1.6,
    1.6,
    1.4,
    1.0,
    1.0,
    1.2,
    1.2,
    1.0,
    0.9,
    0.8,
    0.6,
    0.5,
    0.3,
    0.1,
    0,
)

STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[city +{time.monotonic() - STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    volunteers: int
    arrivals_per_day: float
    days: int


def scenarios(quick: bool) -> list[Scenario]:
    if quick:
        return [
            Scenario("Leuven Helpt's first fortnight", 200, 2.0, 7),
            Scenario("scarce", 12, 4.0, 7),
        ]
    return [
        # ~1,490 volunteers for 12 requests a day, at a third of the size.
        Scenario("Leuven Helpt's first fortnight", 500, 4.0, 30),
        Scenario("scarce", 40, 8.0, 30),
    ]


STRATEGIES = ("this service", "one at a time", "km only", "greedy nearest", "broadcast")


# --- the world: volunteers and arrivals, drawn once per scenario --------------------


@dataclasses.dataclass
class VolunteerProfile:
    latitude: float
    longitude: float
    skills: list[str]
    availability: list[int]
    max_km: float
    capacity: int


@dataclasses.dataclass
class Arrival:
    at: dt.datetime
    citizen: int
    category: str
    latitude: float
    longitude: float
    recurring: bool
    urgency: int = 1
    windows: list[tuple[dt.date, int]] = dataclasses.field(default_factory=list)
    first_day: dt.date | None = None  # recurring: the first day, then weekly
    part_of_day: int = 0


def scatter(rng: random.Random, spread_km: float) -> tuple[float, float]:
    north, east = rng.gauss(0, spread_km), rng.gauss(0, spread_km)
    return LEUVEN[0] + north / 111.2, LEUVEN[1] + east / (111.2 * math.cos(math.radians(LEUVEN[0])))


def draw_volunteers(scenario: Scenario, rng: random.Random) -> list[VolunteerProfile]:
    profiles = []
    for _ in range(scenario.volunteers):
        latitude, longitude = scatter(rng, 2.5)
        skills = sorted({"shopping", *rng.sample(CATEGORIES, rng.randint(1, 3))})
        if rng.random() < 0.2:
            skills.remove("shopping")
            skills = skills or ["call"]
        availability = sorted(slot for slot in range(21) if rng.random() < 0.4) or [rng.randrange(21)]
        profiles.append(
            VolunteerProfile(
                latitude,
                longitude,
                skills,
                availability,
                max_km=rng.choice((2.0, 3.0, 3.0, 5.0)),
                capacity=2 if rng.random() < 0.2 else 1,
            )
        )
    return profiles


def part_end(day: dt.date, part: int) -> dt.datetime:
    from mutualaid.aid.models import PART_OF_DAY_ENDS_AT_HOUR

    return dt.datetime.combine(day, dt.time(PART_OF_DAY_ENDS_AT_HOUR[part]), LOCAL)


def draw_arrivals(scenario: Scenario, rng: random.Random) -> list[Arrival]:
    arrivals = []
    hourly = sum(HOURLY_PROFILE)
    for day in range(scenario.days):
        for hour, weight in enumerate(HOURLY_PROFILE):
            expected = scenario.arrivals_per_day * weight / hourly
            count = poisson(rng, expected)
            for _ in range(count):
                at = START + dt.timedelta(days=day, hours=hour, seconds=rng.uniform(0, 3600))
                arrivals.append(draw_arrival(rng, at, len(arrivals)))
    arrivals.sort(key=lambda arrival: arrival.at)
    return arrivals


def poisson(rng: random.Random, expected: float) -> int:
    # Knuth's method: expected values here are small.
    limit, count, product = math.exp(-expected), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def draw_arrival(rng: random.Random, at: dt.datetime, citizen: int) -> Arrival:
    latitude, longitude = scatter(rng, 2.0)
    category = rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
    arrival = Arrival(at, citizen, category, latitude, longitude, recurring=rng.random() < RECURRING_SHARE)
    local = at.astimezone(LOCAL)
    today = local.date()
    if arrival.recurring:
        arrival.first_day = today + dt.timedelta(days=rng.randint(1, 7))
        arrival.part_of_day = rng.choice((0, 0, 1, 1, 2))
        return arrival
    urgency = rng.choices((3, 2, 1), (0.2, 0.4, 0.4))[0]
    remaining_today = [
        (today, part) for part in range(3) if part_end(today, part) > local + dt.timedelta(hours=1)
    ]
    if urgency == 3 and remaining_today:
        windows = remaining_today
    elif urgency >= 2:
        urgency = 2
        tomorrow = today + dt.timedelta(days=1)
        windows = remaining_today + [(tomorrow, part) for part in range(3)]
    else:
        days = rng.sample(range(2, 8), 3)
        windows = [(today + dt.timedelta(days=offset), rng.randrange(3)) for offset in days]
    arrival.urgency, arrival.windows = urgency, sorted(set(windows))
    return arrival


# --- the answer model ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Answer:
    outcome: str  # "accept", "decline" or "silent"
    delay: dt.timedelta


def answer_of(seed: int, request_key: str, volunteer_index: int, attempt: int = 0) -> Answer:
    """The same volunteer answers the same request the same way whatever the strategy
    (common random numbers: the strategies differ by their choices, not by luck)."""
    rng = random.Random(f"{seed}:{request_key}:{volunteer_index}:{attempt}")
    roll = rng.random()
    outcome = (
        "silent" if roll < SILENT_SHARE else "decline" if roll < SILENT_SHARE + DECLINE_SHARE else "accept"
    )
    pace = random.Random(f"{seed}:pace:{volunteer_index}").gauss(0, VOLUNTEER_PACE_SIGMA)
    minutes = math.exp(math.log(ANSWER_MEDIAN_MINUTES) + pace + rng.gauss(0, MOMENT_SIGMA))
    return Answer(outcome, dt.timedelta(minutes=minutes))


def km_between(latitude_a: float, longitude_a: float, latitude_b: float, longitude_b: float) -> float:
    phi_a, phi_b = math.radians(latitude_a), math.radians(latitude_b)
    half_chord = (
        math.sin((phi_b - phi_a) / 2) ** 2
        + math.cos(phi_a) * math.cos(phi_b) * math.sin(math.radians(longitude_b - longitude_a) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(half_chord)))


# --- Django, the database and the clock ---------------------------------------------


def configure(directory: Path) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "mutualaid.settings",
            "DATABASE_URL": f"sqlite:///{directory / 'city.sqlite3'}",
            "GEOCODER": "offline",
            "LOG_LEVEL": "ERROR",
            "MATCHING_DEBOUNCE_SECONDS": "0",
        }
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db.backends.signals import connection_created

    settings.DEBUG = False  # no query log growing over a month of queries

    def fast_and_loose(sender, connection, **kwargs) -> None:
        # A throwaway database: no fsync, the journal in memory.
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA synchronous=OFF")
                cursor.execute("PRAGMA journal_mode=MEMORY")

    connection_created.connect(fast_and_loose, weak=False)
    call_command("migrate", verbosity=0)


def use_database(path: Path) -> None:
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = str(path)


class World:
    """One scenario's community in a template database, copied for each strategy."""

    def __init__(self, scenario: Scenario, seed: int, directory: Path) -> None:
        self.scenario = scenario
        self.seed = seed
        rng = random.Random(f"{seed}:{scenario.name}")
        self.volunteers = draw_volunteers(scenario, rng)
        self.arrivals = draw_arrivals(scenario, rng)
        self.template = directory / f"template-{abs(hash(scenario.name))}.sqlite3"
        self.base = directory / "city.sqlite3"
        self._build(directory)

    def _build(self, directory: Path) -> None:
        from django.contrib.auth.hashers import make_password
        from django.db import connection, transaction

        from mutualaid.accounts.models import User
        from mutualaid.aid.models import Category, Community, VolunteerOffer

        shutil.copyfile(directory / "migrated.sqlite3", self.base)
        use_database(self.base)
        with transaction.atomic():
            community = Community.objects.create(
                name="Leuven", slug="leuven", latitude=LEUVEN[0], longitude=LEUVEN[1]
            )
            User.objects.create(
                username="coordinator", community=community, is_coordinator=True, password=make_password(None)
            )
            categories = {
                slug: Category.objects.create(community=community, slug=slug, name=slug.title())
                for slug in CATEGORIES
            }
            users = User.objects.bulk_create(
                User(
                    username=f"volunteer-{index}",
                    community=community,
                    email_notifications=False,
                    password=make_password(None),
                )
                for index in range(len(self.volunteers))
            )
            offers = VolunteerOffer.objects.bulk_create(
                VolunteerOffer(
                    volunteer=user,
                    community=community,
                    latitude=profile.latitude,
                    longitude=profile.longitude,
                    neighbourhood="Leuven",
                    max_km=profile.max_km,
                    availability=profile.availability,
                    capacity=profile.capacity,
                )
                for user, profile in zip(users, self.volunteers, strict=True)
            )
            VolunteerOffer.skills.through.objects.bulk_create(
                VolunteerOffer.skills.through(volunteeroffer_id=offer.pk, category_id=categories[slug].pk)
                for offer, profile in zip(offers, self.volunteers, strict=True)
                for slug in profile.skills
            )
            User.objects.bulk_create(
                User(
                    username=f"citizen-{index}",
                    community=community,
                    email_notifications=False,
                    password=make_password(None),
                )
                for index in range(len(self.arrivals))
            )
        connection.close()
        shutil.copyfile(self.base, self.template)

    def fresh_database(self, path: Path) -> None:
        shutil.copyfile(self.template, path)
        use_database(path)


# --- one run: a strategy over a month ---------------------------------------------


@dataclasses.dataclass(order=True)
class Event:
    at: dt.datetime
    order: int
    kind: str = dataclasses.field(compare=False)
    payload: tuple = dataclasses.field(compare=False, default=())


class Run:
    """A month of one scenario under one strategy, on the simulated clock."""

    def __init__(self, world: World, strategy: str, every_week_share: float = P_EVERY_WEEK) -> None:
        from mutualaid.accounts.models import User
        from mutualaid.aid.models import Category, Community

        self.world = world
        self.strategy = strategy
        # "Accept every week" is this service's: the other schemes have no standing commitment.
        self.every_week_offered = strategy in ("this service", "km only", "one at a time")
        self.every_week_share = every_week_share
        self.completion_scheduled: set[int] = set()
        self.now = START.astimezone(dt.UTC)
        # Arrivals stop after the month; the clock runs on until every request's time has passed.
        self.end = START + dt.timedelta(days=world.scenario.days + 8)
        self.events: list[Event] = []
        self.order = 0
        self.community = Community.objects.get(slug="leuven")
        self.categories = {
            category.slug: category for category in Category.objects.filter(community=self.community)
        }
        self.volunteer_ids = list(
            User.objects.filter(username__startswith="volunteer-").order_by("pk").values_list("pk", flat=True)
        )
        self.volunteer_index = {pk: index for index, pk in enumerate(self.volunteer_ids)}
        self.citizens = list(User.objects.filter(username__startswith="citizen-").order_by("pk"))
        self.users = {user.pk: user for user in User.objects.filter(pk__in=self.volunteer_ids)}
        self.last_assignment_pk = 0
        self.alerted_until: dict[int, dt.datetime] = {}  # broadcast: request -> end of its alert
        self.alerts: dict[int, int] = Counter()
        self.runs = 0

    # The clock and the queue of events.

    def schedule(self, at: dt.datetime, kind: str, *payload) -> None:
        self.order += 1
        heapq.heappush(self.events, Event(at.astimezone(dt.UTC), self.order, kind, payload))

    def simulate(self) -> dict:
        from django.conf import settings
        from django.test.utils import override_settings

        overrides = {}
        if self.strategy in ("km only", "one at a time") and hasattr(settings, "MATCHING_URGENT_ASK_AT_ONCE"):
            overrides["MATCHING_URGENT_ASK_AT_ONCE"] = 1
        if self.strategy == "km only":
            overrides["MATCHING_FAIR_TURN_KM_PER_TASK"] = 0
            if hasattr(settings, "MATCHING_CONTINUITY_BONUS_KM"):
                overrides["MATCHING_CONTINUITY_BONUS_KM"] = 0
        for index, arrival in enumerate(self.world.arrivals):
            self.schedule(arrival.at, "arrival", index)
        for day in range((self.end - START).days):
            for hour in JOB_HOURS:
                self.schedule(START + dt.timedelta(days=day, hours=hour, seconds=1), "tick")
        day_reported = -1
        with mock.patch("django.utils.timezone.now", lambda: self.now), override_settings(**overrides):
            while self.events:
                event = heapq.heappop(self.events)
                self.now = event.at
                getattr(self, f"on_{event.kind}")(*event.payload)
                self.match()
                day = (self.now - START).days
                if day != day_reported and day % 5 == 0:
                    day_reported = day
                    total = (self.end - START).days
                    log(f"{self.world.scenario.name} / {self.strategy}: day {day} of {total}")
            return self.figures()

    # Events.

    def on_arrival(self, index: int) -> None:
        from mutualaid.aid.places import Location
        from mutualaid.aid.services.series import help_series_create

        arrival = self.world.arrivals[index]
        citizen = self.citizens[index]
        location = Location(arrival.latitude, arrival.longitude, f"Street {index}, 3000 Leuven", "Leuven")
        if not arrival.recurring:
            self.file(citizen, arrival, arrival.urgency, arrival.windows, location)
            return
        # Weekly until the month's last day (one occurrence when it starts after that); the
        # worker's job files each occurrence RECURRING_HELP_DAYS_AHEAD days ahead.
        help_series_create(
            community=self.community,
            requester=citizen,
            created_by=citizen,
            category=self.categories[arrival.category],
            description="Weekly help",
            location=location,
            every_weeks=1,
            starts=arrival.first_day,
            part_of_day=arrival.part_of_day,
            until=max(arrival.first_day, (START + dt.timedelta(days=self.world.scenario.days - 1)).date()),
        )

    def file(self, citizen, arrival: Arrival, urgency: int, windows, location) -> None:
        from mutualaid.aid.services import help_request_create

        help_request_create(
            community=self.community,
            requester=citizen,
            created_by=citizen,
            category=self.categories[arrival.category],
            description="Help",
            urgency=urgency,
            location=location,
            time_windows=windows,
        )

    def on_tick(self) -> None:
        from worker import jobs

        jobs.expire_proposals()
        jobs.expire_passed_requests()
        jobs.file_recurring_help()

    def on_silence(self) -> None:
        from matching.services import ask_beside_silent_proposals

        ask_beside_silent_proposals()

    def on_deadline(self) -> None:
        from worker import jobs

        jobs.expire_proposals()

    def on_answer(self, assignment_id: int, outcome: str) -> None:
        from mutualaid.aid.models import Assignment
        from mutualaid.aid.services import TaskActionError, assignment_accept, assignment_decline
        from mutualaid.aid.states import InvalidTransition

        assignment = Assignment.objects.select_related("help_request").get(pk=assignment_id)
        volunteer = self.users[assignment.volunteer_id]
        try:
            if outcome == "decline":
                assignment_decline(assignment=assignment, volunteer=volunteer)
            elif (
                self.every_week_offered and assignment.help_request.series_id and self.every_week(assignment)
            ):
                from mutualaid.aid.services.series import assignment_accept_every_week

                assignment_accept_every_week(assignment=assignment, volunteer=volunteer)
            else:
                assignment_accept(assignment=assignment, volunteer=volunteer)
        except (TaskActionError, InvalidTransition):
            pass  # too late (expired) or the request is gone: as on the page

    def every_week(self, assignment) -> bool:
        rng = random.Random(
            f"{self.world.seed}:every-week:{assignment.help_request_id}:{assignment.volunteer_id}"
        )
        return rng.random() < self.every_week_share

    def on_complete(self, assignment_id: int) -> None:
        from mutualaid.aid.models import Assignment
        from mutualaid.aid.services import TaskActionError, assignment_complete

        assignment = Assignment.objects.get(pk=assignment_id)
        with contextlib.suppress(TaskActionError):  # cancelled or given back meanwhile
            assignment_complete(assignment=assignment, volunteer=self.users[assignment.volunteer_id])

    # Matching, by strategy.

    def match(self) -> None:
        from matching.services import run_due_matching

        if self.strategy in ("this service", "km only", "one at a time"):
            run_due_matching()
        elif self.strategy == "greedy nearest":
            self.run_due(self.greedy)
        else:
            self.broadcast()
        self.collect_new_assignments()

    def run_due(self, propose) -> None:
        """As `run_due_matching` does, with another way of choosing."""
        from matching.scheduling import claim_due_community, due_communities, release_claim

        for community_id, _requested_by in due_communities(self.now):
            lease_ends = claim_due_community(community_id, self.now)
            if lease_ends is not None:
                propose()
                release_claim(community_id, lease_ends)

    def feasible(self, snapshot, request_data: dict, capacity: dict[str, int], excluded: set) -> list:
        """(km, volunteer key) of every volunteer who can take the request (the engine's rules)."""
        needed = set(request_data["skills"])
        slots = set(request_data["slots"])
        found = []
        for volunteer in snapshot.instance["volunteers"]:
            key = volunteer["id"]
            if capacity[key] <= 0 or (request_data["id"], key) in excluded:
                continue
            if not needed <= set(volunteer["skills"]) or (slots and not slots & set(volunteer["slots"])):
                continue
            km = km_between(request_data["lat"], request_data["lon"], volunteer["lat"], volunteer["lon"])
            if km <= volunteer["max_km"]:
                found.append((km, key))
        return sorted(found)

    def greedy(self) -> None:
        from django.db import transaction

        from matching.services import load_snapshot
        from mutualaid.aid.services import assignments_propose_batch

        with transaction.atomic():
            snapshot = load_snapshot(self.community)
            capacity = {
                volunteer["id"]: volunteer["capacity"] for volunteer in snapshot.instance["volunteers"]
            }
            excluded = {tuple(pair) for pair in snapshot.instance["exclude"]}
            proposals = []
            ordered = sorted(snapshot.instance["requests"], key=lambda data: (-data["priority"], data["id"]))
            for request_data in ordered:
                choices = self.feasible(snapshot, request_data, capacity, excluded)
                if choices:
                    km, key = choices[0]
                    capacity[key] -= 1
                    proposals.append(
                        (
                            snapshot.requests_by_key[request_data["id"]],
                            snapshot.volunteer_ids_by_key[key],
                            round(km, 3),
                        )
                    )
            if proposals:
                assignments_propose_batch(proposals=proposals, reason="greedy nearest")
        self.runs += 1

    def broadcast(self) -> None:
        """Alert everyone who can take each open request not under an alert yet."""
        from django.db import transaction

        from matching.services import load_snapshot
        from mutualaid.aid.models import HelpRequest
        from mutualaid.aid.services.assignments import answer_time
        from mutualaid.aid.states import RequestStatus

        waiting = [
            pk
            for pk in HelpRequest.objects.filter(status=RequestStatus.OPEN).values_list("pk", flat=True)
            if self.alerted_until.get(pk, self.now) <= self.now
        ]
        if not waiting:
            return
        with transaction.atomic():
            snapshot = load_snapshot(self.community)
        capacity = {volunteer["id"]: volunteer["capacity"] for volunteer in snapshot.instance["volunteers"]}
        excluded = {tuple(pair) for pair in snapshot.instance["exclude"]}
        self.runs += 1
        for request_data in snapshot.instance["requests"]:
            help_request = snapshot.requests_by_key[request_data["id"]]
            if help_request.pk not in waiting:
                continue
            window = answer_time(help_request)
            self.alerted_until[help_request.pk] = self.now + window
            # Nobody accepting by then, it is alerted again at once.
            self.schedule(self.now + window + dt.timedelta(seconds=1), "deadline")
            attempt = self.alerts[help_request.pk]
            self.alerts[help_request.pk] += 1
            accepting = []
            for km, key in self.feasible(snapshot, request_data, capacity, excluded):
                volunteer_id = snapshot.volunteer_ids_by_key[key]
                answer = answer_of(
                    self.world.seed, f"r{help_request.pk}", self.volunteer_index[volunteer_id], attempt
                )
                if answer.outcome == "accept" and answer.delay < window:
                    accepting.append((answer.delay, volunteer_id, km))
            accepting.sort()
            if accepting:
                self.schedule(
                    self.now + accepting[0][0], "broadcast_accept", help_request.pk, self.now, accepting
                )

    def on_broadcast_accept(self, request_id: int, alerted_at: dt.datetime, accepting: list) -> None:
        """The first to accept wins, if they still can; otherwise the next one's answer counts."""
        from mutualaid.aid.models import Assignment, HelpRequest
        from mutualaid.aid.services import assignment_accept, assignment_propose
        from mutualaid.aid.states import LIVE_ASSIGNMENT_STATUSES, RequestStatus

        help_request = HelpRequest.objects.get(pk=request_id)
        if help_request.status != RequestStatus.OPEN:
            return
        _delay, volunteer_id, km = accepting[0]
        profile = self.world.volunteers[self.volunteer_index[volunteer_id]]
        carrying = Assignment.objects.filter(
            volunteer_id=volunteer_id, status__in=LIVE_ASSIGNMENT_STATUSES
        ).count()
        if carrying < profile.capacity:
            volunteer = self.users[volunteer_id]
            assignment = assignment_propose(
                help_request=help_request, volunteer=volunteer, km=round(km, 3), reason="broadcast"
            )
            assignment_accept(assignment=assignment, volunteer=volunteer)
            return
        if len(accepting) > 1:
            self.schedule(
                alerted_at + accepting[1][0], "broadcast_accept", request_id, alerted_at, accepting[1:]
            )

    def collect_new_assignments(self) -> None:
        """New proposals get their volunteer's answer; tasks accepted get done at their time."""
        from mutualaid.aid.models import Assignment
        from mutualaid.aid.states import AssignmentStatus

        fresh = list(
            Assignment.objects.filter(pk__gt=self.last_assignment_pk)
            .select_related("help_request")
            .order_by("pk")
        )
        for assignment in fresh:
            self.last_assignment_pk = assignment.pk
            if assignment.status == AssignmentStatus.PROPOSED:
                self.on_proposed(assignment)
        # Accepted tasks (by an answer, a broadcast or a standing commitment) are done at their time.
        for assignment in Assignment.objects.filter(
            status=AssignmentStatus.ACCEPTED, pk__in=self._accepted_unscheduled()
        ).select_related("help_request"):
            self.schedule(self.done_at(assignment), "complete", assignment.pk)

    def _accepted_unscheduled(self) -> list[int]:
        from mutualaid.aid.models import Assignment
        from mutualaid.aid.states import AssignmentStatus

        accepted = set(
            Assignment.objects.filter(status=AssignmentStatus.ACCEPTED).values_list("pk", flat=True)
        )
        new = accepted - self.completion_scheduled
        self.completion_scheduled |= new
        return sorted(new)

    def done_at(self, assignment) -> dt.datetime:
        windows = sorted(
            part_end(window.date, window.part_of_day) for window in assignment.help_request.time_windows.all()
        )
        for end in windows:
            if end > self.now:
                return end
        return self.now + dt.timedelta(hours=2)

    def on_proposed(self, assignment) -> None:
        from django.conf import settings

        help_request = assignment.help_request
        volunteer_index = self.volunteer_index[assignment.volunteer_id]
        answer = answer_of(self.world.seed, f"r{help_request.pk}", volunteer_index)
        self.schedule(assignment.expires_at + dt.timedelta(seconds=1), "deadline")
        ask_after = getattr(settings, "MATCHING_ASK_ANOTHER_AFTER_HOURS", 0)
        if ask_after > 0:  # the worker looks every 30 s: as good as on the minute
            self.schedule(self.now + dt.timedelta(hours=ask_after, seconds=1), "silence")
        if answer.outcome != "silent":
            self.schedule(self.now + answer.delay, "answer", assignment.pk, answer.outcome)

    # The figures, from the database's records.

    def figures(self) -> dict:
        from matching.models import MatchingRun
        from mutualaid.aid.models import Assignment, HelpRequest, StatusChange, Urgency
        from mutualaid.aid.states import AssignmentStatus, RequestStatus

        requests = {
            help_request.pk: help_request
            for help_request in HelpRequest.objects.filter(community=self.community).order_by("pk")
        }
        first_accepted = {}
        for request_id, at in (
            StatusChange.objects.filter(
                subject=StatusChange.Subject.REQUEST, to_status=RequestStatus.ACCEPTED
            )
            .order_by("at")
            .values_list("help_request_id", "at")
        ):
            first_accepted.setdefault(request_id, at)
        taken = list(
            Assignment.objects.filter(
                status__in=[AssignmentStatus.ACCEPTED, AssignmentStatus.DONE]
            ).values_list("help_request_id", "volunteer_id", "km")
        )
        tasks = Counter(volunteer_id for _request, volunteer_id, _km in taken)
        volunteer_of = {request_id: volunteer_id for request_id, volunteer_id, _km in taken}
        hours = [
            (first_accepted[pk] - requests[pk].created_at).total_seconds() / 3600
            for pk in requests
            if pk in first_accepted
        ]
        urgent_hours = [
            (first_accepted[pk] - requests[pk].created_at).total_seconds() / 3600
            for pk in requests
            if pk in first_accepted and requests[pk].urgency == Urgency.TODAY
        ]
        series = {
            pk: help_request.series_id for pk, help_request in requests.items() if help_request.series_id
        }
        same, following = 0, 0
        by_series = defaultdict(list)
        for request_id, series_key in series.items():
            by_series[series_key].append(request_id)
        for request_ids in by_series.values():
            served = [
                volunteer_of[pk]
                for pk in sorted(request_ids, key=lambda pk: self.day_of(requests[pk]))
                if pk in volunteer_of
            ]
            for previous, current in itertools.pairwise(served):
                following += 1
                same += previous == current
        return {
            "requests": len(requests),
            "recurring occurrences": len(series),
            "served": len(first_accepted),
            "served share": len(first_accepted) / len(requests) if requests else 0.0,
            "p50 hours": percentile(hours, 0.5),
            "p95 hours": percentile(hours, 0.95),
            "urgent served": len(urgent_hours),
            "urgent": sum(help_request.urgency == Urgency.TODAY for help_request in requests.values()),
            "urgent p50 hours": percentile(urgent_hours, 0.5),
            "urgent p95 hours": percentile(urgent_hours, 0.95),
            "total km": sum(km for _request, _volunteer, km in taken),
            "km per task": statistics.mean(km for _r, _v, km in taken) if taken else float("nan"),
            "volunteers with a task": len(tasks),
            "volunteers": len(self.volunteer_ids),
            "turn share": len(tasks) / len(self.volunteer_ids),
            "most tasks": max(tasks.values(), default=0),
            "same volunteer share": same / following if following else float("nan"),
            "same volunteer pairs": following,
            "matching runs": self.runs or MatchingRun.objects.count(),
            "weekly commitments": self.weekly_commitments(),
        }

    def weekly_commitments(self) -> int:
        """Series whose volunteer accepted "every week" (and still comes) at the end."""
        from mutualaid.aid.models import HelpSeries

        return HelpSeries.objects.filter(standing_volunteers__isnull=False).distinct().count()

    @staticmethod
    def day_of(help_request) -> dt.date:
        windows = list(help_request.time_windows.all())
        return min(window.date for window in windows) if windows else help_request.created_at.date()


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# --- the table and the targets ------------------------------------------------------


def hours_text(hours: float) -> str:
    if math.isnan(hours):
        return "-"
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


def share_text(share: float) -> str:
    return "-" if math.isnan(share) else f"{share:.0%}"


COLUMNS = (
    "strategy",
    "requests",
    "served",
    "to accepted help p50",
    "p95",
    "total km (per task)",
    "volunteers given a task",
    "most tasks (one volunteer)",
    "recurring: same volunteer",
    "urgent: served, p50 / p95",
)


def table(rows: dict[str, dict]) -> list[str]:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for strategy, figures in rows.items():
        cells = (
            strategy,
            str(figures["requests"]),
            share_text(figures["served share"]),
            hours_text(figures["p50 hours"]),
            hours_text(figures["p95 hours"]),
            f"{figures['total km']:.0f} ({figures['km per task']:.2f})",
            f"{share_text(figures['turn share'])} "
            f"({figures['volunteers with a task']} of {figures['volunteers']})",
            str(figures["most tasks"]),
            f"{share_text(figures['same volunteer share'])} ({figures['same volunteer pairs']})",
            f"{figures['urgent served']} of {figures['urgent']}, "
            f"{hours_text(figures['urgent p50 hours'])} / {hours_text(figures['urgent p95 hours'])}",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def targets(rows: dict[str, dict]) -> list[tuple[str, bool | None, str]]:
    """The issue's targets for this service: (what, met, the figures compared); None when
    a strategy it is compared with was not run."""
    service = rows["this service"]
    checks = []

    def compare(label: str, others: list[str], test, figures) -> None:
        if not all(name in rows for name in others):
            checks.append((label, None, "not run"))
            return
        checks.append((label, bool(test()), figures()))

    compare(
        "p95 to accepted help no worse than broadcast's, better than greedy's",
        ["broadcast", "greedy nearest"],
        lambda: (
            service["p95 hours"] <= rows["broadcast"]["p95 hours"]
            and service["p95 hours"] < rows["greedy nearest"]["p95 hours"]
        ),
        lambda: (
            f"{hours_text(service['p95 hours'])} vs broadcast {hours_text(rows['broadcast']['p95 hours'])}, "
            f"greedy {hours_text(rows['greedy nearest']['p95 hours'])}"
        ),
    )
    compare(
        "a larger share of volunteers given a turn than both",
        ["broadcast", "greedy nearest"],
        lambda: (
            service["turn share"] > rows["broadcast"]["turn share"]
            and service["turn share"] > rows["greedy nearest"]["turn share"]
        ),
        lambda: (
            f"{share_text(service['turn share'])} vs "
            f"broadcast {share_text(rows['broadcast']['turn share'])}, "
            f"greedy {share_text(rows['greedy nearest']['turn share'])}"
        ),
    )
    compare(
        "total km within 10 % of the km-only optimum",
        ["km only"],
        lambda: service["total km"] <= 1.1 * rows["km only"]["total km"],
        lambda: (
            f"{service['total km']:.0f} km vs {rows['km only']['total km']:.0f} km "
            f"({service['total km'] / max(rows['km only']['total km'], 1e-9) - 1:+.0%}; per task "
            f"{service['km per task']:.2f} vs {rows['km only']['km per task']:.2f})"
        ),
    )
    same = service["same volunteer share"]
    checks.append(
        (
            "at least 80 % of recurring occurrences served by the same volunteer",
            None if math.isnan(same) else same >= 0.8,
            f"{share_text(same)} of {service['same volunteer pairs']} occurrences that followed a served one",
        )
    )
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a week, small community (< 1 min)")
    parser.add_argument(
        "--strategies", default=",".join(STRATEGIES), help="comma-separated, of: " + ", ".join(STRATEGIES)
    )
    parser.add_argument("--scenario", default="", help="only the scenarios whose name contains this")
    parser.add_argument("--days", type=int, default=0, help="simulate this many days instead")
    parser.add_argument(
        "--every-week",
        type=float,
        default=P_EVERY_WEEK,
        help=f"share of volunteers accepting an occurrence who take every week (default {P_EVERY_WEEK})",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    arguments = parser.parse_args()
    strategies = [name.strip() for name in arguments.strategies.split(",") if name.strip()]
    unknown = set(strategies) - set(STRATEGIES)
    if unknown or "this service" not in strategies:
        parser.error(f"strategies must include 'this service' and be among {', '.join(STRATEGIES)}")
    with tempfile.TemporaryDirectory(prefix="city-") as directory:
        directory = Path(directory)
        configure(directory)
        shutil.copyfile(directory / "city.sqlite3", directory / "migrated.sqlite3")
        results, output = {}, []
        for scenario in scenarios(arguments.quick):
            if arguments.scenario and arguments.scenario not in scenario.name:
                continue
            if arguments.days:
                scenario = dataclasses.replace(scenario, days=arguments.days)
            world = World(scenario, arguments.seed, directory)
            log(
                f"{scenario.name}: {scenario.volunteers} volunteers, {len(world.arrivals)} arrivals "
                f"({sum(arrival.recurring for arrival in world.arrivals)} recurring) in {scenario.days} days"
            )
            rows = {}
            for index, strategy in enumerate(strategies):
                world.fresh_database(directory / f"run-{index}.sqlite3")
                started = time.monotonic()
                rows[strategy] = Run(world, strategy, arguments.every_week).simulate()
                rows[strategy]["seconds"] = round(time.monotonic() - started, 1)
                log(f"{scenario.name} / {strategy}: done in {rows[strategy]['seconds']} s")
            results[scenario.name] = rows
            output.append(
                f"\n### {scenario.name}: {scenario.volunteers} volunteers, {len(world.arrivals)} arrivals in "
                f"{scenario.days} days ({sum(a.recurring for a in world.arrivals)} of them weekly help)\n"
            )
            output.extend(table(rows))
            output.append("\nTargets (issue 17), this service:\n")
            for label, met, figures in targets(rows):
                verdict = "not measured" if met is None else "met" if met else "MISSED"
                output.append(f"- {label}: **{verdict}** ({figures})")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"A month in one community (bench/city.py, seed {arguments.seed}"
            f"{', quick' if arguments.quick else ''}); recurring help: "
            f"{arguments.every_week:.0%} of volunteers accepting a weekly help's occurrence take every week; "
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"load average {load:.2f} at the end, {time.monotonic() - STARTED:.0f} s in all"
        )
        print("\n".join(output))
        print(
            "\nTimes are among the requests served (a request never accepted has none); km are the "
            "accepted tasks' (volunteer to request, as the crow flies); 'same volunteer' counts "
            "each served occurrence of a weekly help after the first served one."
        )
        if arguments.json:
            arguments.json.write_text(
                json.dumps(
                    {"seed": arguments.seed, "quick": arguments.quick, "results": results},
                    indent=2,
                    default=str,
                )
            )


if __name__ == "__main__":
    main()
