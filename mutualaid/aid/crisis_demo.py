"""A crisis-size data set: thousands of open requests and volunteers around Leuven.

For trying the coordinators' dashboard at the size of a bad day (and measuring it). Rows
are written with bulk_create in batches, so 5,000 requests and 3,000 volunteers load in
well under a minute on SQLite. Reproducible (a fixed seed), placed with the offline
gazetteer's streets (no internet), named and phoned like the Leuven demo's people.

The people it creates cannot sign in (unusable passwords): the community's coordinator
(the Leuven demo's, or one made here for a new community) is the one to sign in as.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections.abc import Callable, Iterator

from django.contrib.auth.hashers import make_password
from django.db import models, transaction
from django.utils import timezone

from mutualaid.accounts.models import User
from mutualaid.aid.demo import (
    CATEGORIES,
    CATEGORY_WEIGHTS,
    DEMO_PASSWORD,
    EXPENSE_CATEGORIES,
    FIRST_NAMES,
    LAST_NAMES,
    NEEDS,
    grant_coordinator_admin,
    load_leuven_demo,
)
from mutualaid.aid.geocoding import offline_gazetteer
from mutualaid.aid.models import (
    Category,
    Community,
    HelpRequest,
    StatusChange,
    TimeWindow,
    Urgency,
    VolunteerOffer,
)
from mutualaid.aid.states import RequestStatus

DEFAULT_REQUESTS = 5000
DEFAULT_VOLUNTEERS = 3000
BATCH_SIZE = 500
# More names than the small demo's, so thousands of people are not all "Luc Dubois".
MORE_FIRST_NAMES = [
    "Lotte", "Stijn", "Nele", "Jef", "Ilse", "Dirk", "Mieke", "Bart", "Inge", "Geert",
    "Lies", "Kris", "Veerle", "Hans", "Katrien", "Thomas", "Julie", "Louis", "Camille", "Hugo",
    "Chloé", "Mohamed", "Samira", "Youssef", "Leen", "Rik", "Marleen", "Frans", "Jeanne", "Noah",
]  # fmt: skip
MORE_LAST_NAMES = [
    "Vandenberghe", "Desmet", "Van Damme", "Smets", "Lemmens", "Michiels", "Verhoeven", "Cools",
    "De Clercq", "Martens", "Leclercq", "Dumont", "Segers", "Timmermans", "Vandamme", "Bogaert",
    "Declercq", "Renard", "Benali", "Ceulemans", "Van Hove", "Stevens", "Pauwels", "Laurent",
]  # fmt: skip
# Why the last matching run left a request waiting (matching.reasons' codes); "" = not yet.
WAITING_REASONS = ["", "capacity", "out_of_range", "no_common_slot", "no_skill", "excluded"]
WAITING_REASON_WEIGHTS = [25, 35, 20, 12, 4, 4]
# Belgian mobile numbers: +32 4xx xx xx xx.
MOBILE_PREFIXES = [*range(470, 480), *range(483, 490), *range(494, 500)]


class AlreadyLoaded(Exception):
    """The crisis set is already in this community: loading it again would double it."""


def crisis_username_prefix(community_slug: str) -> str:
    return f"crisis-{community_slug}-"


@contextlib.contextmanager
def _given_times(*fields: models.DateTimeField) -> Iterator[None]:
    """Let bulk_create write the creation times we give (a request waiting since yesterday)
    instead of now: auto_now(_add) would overwrite them, and the status history is
    append-only, so it cannot be corrected afterwards. Process-local, for this load only."""
    saved = [(field, field.auto_now, field.auto_now_add) for field in fields]
    for field in fields:
        field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in saved:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def _community(slug: str, progress: Callable[[str], None]) -> Community:
    """The community to load into: an existing one, the Leuven demo, or a new one near Leuven."""
    community = Community.objects.filter(slug=slug).first()
    if community is not None:
        return community
    if slug == "leuven":
        progress("The Leuven demo is not loaded yet: loading it first.")
        return load_leuven_demo(progress=progress)
    community = Community.objects.create(
        name=slug.replace("-", " ").title(), slug=slug, latitude=50.8798, longitude=4.7005
    )
    for code, name, dutch, french in CATEGORIES:
        Category.objects.create(
            community=community,
            slug=code,
            name=name,
            name_nl=dutch,
            name_fr=french,
            carries_expenses=code in EXPENSE_CATEGORIES,
        )
    coordinator = User.objects.create(
        username=f"coordinator-{slug}",
        first_name="Crisis",
        last_name="Coordinator",
        email=f"coordinator-{slug}@example.org",
        community=community,
        is_coordinator=True,
        is_staff=True,
        password=make_password(DEMO_PASSWORD),
    )
    grant_coordinator_admin(coordinator)
    progress(f"Community {slug!r} created with its categories and coordinator {coordinator.username!r}.")
    return community


class _People:
    """Names and unique E.164 mobile numbers from one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.first_names = FIRST_NAMES + MORE_FIRST_NAMES
        self.last_names = LAST_NAMES + MORE_LAST_NAMES
        self.phones_given: set[str] = set(
            str(phone) for phone in User.objects.exclude(phone="").values_list("phone", flat=True)
        )

    def name(self) -> tuple[str, str]:
        return self.rng.choice(self.first_names), self.rng.choice(self.last_names)

    def phone(self) -> str:
        while True:
            number = f"+32{self.rng.choice(MOBILE_PREFIXES)}{self.rng.randint(0, 999_999):06d}"
            if number not in self.phones_given:
                self.phones_given.add(number)
                return number


def _place(rng: random.Random, streets: list[dict], districts: dict) -> dict:
    """A house on a known street, a few dozen metres off the street's point."""
    street = rng.choice(streets)
    return {
        "address": f"{street['name']} {rng.randint(1, 160)}, {street['postcode']} Leuven",
        "latitude": round(street["lat"] + rng.uniform(-0.0025, 0.0025), 6),
        "longitude": round(street["lon"] + rng.uniform(-0.0035, 0.0035), 6),
        "neighbourhood": districts.get(street["postcode"], {}).get("name", ""),
    }


def _bulk(model, rows: list, progress: Callable[[str], None], what: str) -> list:
    """bulk_create in batches, a progress line a batch (ids are set on PostgreSQL and SQLite)."""
    created = []
    for start in range(0, len(rows), BATCH_SIZE):
        created += model.objects.bulk_create(rows[start : start + BATCH_SIZE])
        done = min(start + BATCH_SIZE, len(rows))
        progress(f"{what}: {done}/{len(rows)} ({100 * done // len(rows)} %)")
    return created


def load_crisis_demo(
    *,
    community_slug: str = "leuven",
    requests: int = DEFAULT_REQUESTS,
    volunteers: int = DEFAULT_VOLUNTEERS,
    seed: int = 2026,
    progress: Callable[[str], None] = lambda line: None,
) -> Community:
    """Add `requests` open requests and `volunteers` volunteers to the community.

    Raises AlreadyLoaded if its crisis set is there (nothing is changed then).
    """
    prefix = crisis_username_prefix(community_slug)
    already = User.objects.filter(username__startswith=prefix).count()
    if already:
        raise AlreadyLoaded(
            f"The crisis set is already loaded in {community_slug!r} ({already} people named {prefix}...)."
        )
    rng = random.Random(seed)
    gazetteer = offline_gazetteer()
    streets, districts = gazetteer.streets, gazetteer.districts
    with transaction.atomic():
        community = _community(community_slug, progress)
        categories = list(Category.objects.filter(community=community, is_active=True).order_by("pk"))
        if not categories:  # a community set up without any: the demo's kinds of help
            categories = [
                Category.objects.get_or_create(
                    community=community,
                    slug=code,
                    defaults={
                        "name": name,
                        "name_nl": dutch,
                        "name_fr": french,
                        "carries_expenses": code in EXPENSE_CATEGORIES,
                    },
                )[0]
                for code, name, dutch, french in CATEGORIES
            ]
        weights = [
            dict(zip([c[0] for c in CATEGORIES], CATEGORY_WEIGHTS, strict=True)).get(c.slug, 5)
            for c in categories
        ]
        coordinator = User.objects.filter(community=community, is_coordinator=True).order_by("pk").first()
        people = _People(rng)
        unusable = make_password(None)
        now = timezone.now()

        def person(username: str) -> User:
            first, last = people.name()
            return User(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@example.org",
                phone=people.phone(),
                community=community,
                preferred_language=rng.choice(["nl", "nl", "nl", "fr", "en"]),
                password=unusable,
                date_joined=now,
            )

        volunteer_users = _bulk(
            User,
            [person(f"{prefix}volunteer{index}") for index in range(1, volunteers + 1)],
            progress,
            "Volunteers",
        )
        offers = _bulk(
            VolunteerOffer,
            [
                VolunteerOffer(
                    volunteer=user,
                    community=community,
                    max_km=rng.choice([1.5, 2, 3, 5, 8]),
                    availability=sorted(rng.sample(range(21), rng.randint(3, 12))),
                    capacity=rng.choices([1, 2, 3], [60, 30, 10])[0],
                    is_paused=rng.random() < 0.1,
                    **_place(rng, streets, districts),
                )
                for user in volunteer_users
            ],
            progress,
            "Volunteer offers",
        )
        skills = [
            VolunteerOffer.skills.through(volunteeroffer_id=offer.pk, category_id=category.pk)
            for offer in offers
            for category in set(rng.choices(categories, weights, k=rng.randint(1, 3)))
        ]
        _bulk(VolunteerOffer.skills.through, skills, progress, "Volunteer skills")

        # About two in three callers have an account; the others phoned in and were filed
        # by a coordinator with their name and phone.
        with_account = [rng.random() < 0.65 for _ in range(requests)]
        citizens = iter(
            _bulk(
                User,
                [person(f"{prefix}citizen{index}") for index, has in enumerate(with_account, start=1) if has],
                progress,
                "Citizens with an account",
            )
        )
        help_requests = []
        for has_account in with_account:
            category = rng.choices(categories, weights)[0]
            # Waiting from a few minutes to three days: most recent, a long tail.
            created = now - dt.timedelta(minutes=min(rng.expovariate(1 / 600), 3 * 24 * 60) + 2)
            citizen = next(citizens) if has_account else None
            first, last = people.name()
            help_requests.append(
                HelpRequest(
                    community=community,
                    requester=citizen,
                    created_by=citizen or coordinator,
                    contact_name="" if citizen else f"{first} {last}",
                    contact_phone="" if citizen else people.phone(),
                    category=category,
                    description=rng.choice(NEEDS.get(category.slug, ["Help needed."])),
                    urgency=rng.choices(list(Urgency.values), [60, 25, 15])[0],
                    any_time=rng.random() < 0.2,
                    status=RequestStatus.OPEN,
                    unassigned_reason=rng.choices(WAITING_REASONS, WAITING_REASON_WEIGHTS)[0],
                    created_at=created,
                    updated_at=created,
                    **_place(rng, streets, districts),
                )
            )
        with _given_times(*(HelpRequest._meta.get_field(name) for name in ("created_at", "updated_at"))):
            help_requests = _bulk(HelpRequest, help_requests, progress, "Open requests")
        today = timezone.localdate()
        windows = {
            (help_request.pk, today + dt.timedelta(days=rng.randint(1, 6)), rng.randint(0, 2))
            for help_request in help_requests
            if not help_request.any_time
            for _ in range(rng.randint(1, 3))
        }  # from tomorrow on: none has passed, whenever it is loaded
        _bulk(
            TimeWindow,
            [
                TimeWindow(help_request_id=pk, date=date, part_of_day=part)
                for pk, date, part in sorted(windows)
            ],
            progress,
            "Time windows",
        )
        with _given_times(StatusChange._meta.get_field("at")):
            _bulk(
                StatusChange,
                [
                    StatusChange(
                        help_request=help_request,
                        subject=StatusChange.Subject.REQUEST,
                        actor_id=help_request.created_by_id,
                        to_status=RequestStatus.OPEN,
                        reason="created",
                        at=help_request.created_at,
                    )
                    for help_request in help_requests
                ],
                progress,
                "Request histories",
            )
    progress(f"Done: {requests} open requests and {volunteers} volunteers added to {community.slug!r}.")
    return community
