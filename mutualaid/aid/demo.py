"""The Leuven demo: one community, a coordinator, ~30 requests and ~60 volunteers.

Reproducible (a fixed seed), and located only with the offline gazetteer, so it loads
without internet. Everyone's password is DEMO_PASSWORD, published in the README: fine on a
laptop, never on a server people can reach. `manage.py load_leuven_demo` refuses DEBUG=0
unless told `--allow-production`, and then gives random passwords instead (see
`random_demo_passwords`).
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from collections.abc import Callable

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone

from mutualaid.accounts.models import User
from mutualaid.accounts.two_factor import known_secret_device
from mutualaid.aid import services
from mutualaid.aid.geocoding import OfflineGazetteer, offline_gazetteer
from mutualaid.aid.models import (
    Assignment,
    Category,
    Community,
    HelpRequest,
    StatusChange,
    Urgency,
    part_of_day_has_passed,
)
from mutualaid.aid.places import Location
from notifications.models import OutgoingMessage

DEMO_PASSWORD = "leuven-helpt"
COMMUNITY_SLUG = "leuven"
# The demo coordinator's authenticator secret (hex, as django-otp stores it), published like
# DEMO_PASSWORD: `load_leuven_demo` prints it as the key to type into an authenticator app.
# Never used with random passwords (a demo server): that coordinator enrols their own phone.
DEMO_TOTP_KEY = "6c657576656e2d68656c70742d3266612d6b6579"

CATEGORIES = [  # code, English, Dutch, French
    ("shopping", "Shopping", "Boodschappen", "Courses"),
    ("pharmacy", "Pharmacy", "Apotheek", "Pharmacie"),
    ("driving", "Driving", "Vervoer", "Transport"),
    ("companionship", "Companionship", "Gezelschap", "Compagnie"),
    ("dog_walking", "Dog walking", "Hond uitlaten", "Promener le chien"),
    ("paperwork", "Paperwork", "Papierwerk", "Paperasse"),
    ("small_repairs", "Small repairs", "Kleine herstellingen", "Petites réparations"),
    ("digital_help", "Digital help", "Digitale hulp", "Aide numérique"),
]
CATEGORY_WEIGHTS = [30, 15, 12, 15, 8, 8, 6, 6]
# The volunteer pays and is paid back (TaskExpense).
EXPENSE_CATEGORIES = {"shopping", "pharmacy"}
NEEDS = {
    "shopping": [
        "Groceries for the week: bread, milk, fruit, coffee.",
        "Heavy shopping: water bottles and potatoes.",
    ],
    "pharmacy": ["Pick up my prescription at the pharmacy.", "Fetch eye drops ordered at the pharmacy."],
    "driving": ["A lift to the hospital (Gasthuisberg) for a check-up.", "A lift to the dentist and back."],
    "companionship": ["A friendly chat over coffee.", "A short walk together in the park."],
    "dog_walking": ["Walk my dog for half an hour.", "Walk my old labrador, he is gentle."],
    "paperwork": ["Help with a letter from the tax office.", "Fill in a form for the health insurance."],
    "small_repairs": ["Change a light bulb I cannot reach.", "Fix a dripping tap."],
    "digital_help": ["Set up video calls with my grandchildren.", "Help me book a train ticket online."],
}
FIRST_NAMES = [
    "Maria",
    "Jan",
    "Els",
    "Luc",
    "An",
    "Marc",
    "Fatima",
    "Pieter",
    "Sofie",
    "Ahmed",
    "Lieve",
    "Tom",
    "Josée",
    "Karim",
    "Hilde",
    "Bram",
    "Nadia",
    "Wim",
    "Claire",
    "Yusuf",
    "Greet",
    "Koen",
    "Amélie",
    "Joris",
]
LAST_NAMES = [
    "Peeters",
    "Janssens",
    "Maes",
    "Jacobs",
    "Mertens",
    "Willems",
    "Claes",
    "Goossens",
    "Wouters",
    "De Smet",
    "Dubois",
    "Lambert",
    "El Amrani",
    "Vermeulen",
    "Van den Broeck",
    "Hermans",
    "Aerts",
    "Dupont",
]
REQUESTS = 30
VOLUNTEERS = 60
# The last three months, already helped: what the dashboard's medians and the public page show.
HISTORY_MONTHS = 3
HISTORY_PER_MONTH = 40


def _person(rng: random.Random, username: str, community: Community, password_hash: str) -> User:
    user = User(
        username=username,
        first_name=rng.choice(FIRST_NAMES),
        last_name=rng.choice(LAST_NAMES),
        email=f"{username}@example.org",
        phone=f"+32 470 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
        community=community,
        preferred_language=rng.choice(["nl", "nl", "nl", "fr", "en"]),
    )
    user.password = password_hash
    user.save()
    return user


def _address(rng: random.Random, gazetteer: OfflineGazetteer) -> Location:
    street = rng.choice(gazetteer.streets)
    address = f"{street['name']} {rng.randint(1, 120)}, {street['postcode']} Leuven"
    return gazetteer.locate(address)


def random_demo_passwords() -> dict[str, str]:
    """Passwords nobody could read in the README: one for the coordinator, one for the others."""
    return {"coordinator": secrets.token_urlsafe(12), "everyone else": secrets.token_urlsafe(12)}


def load_leuven_demo(
    *,
    seed: int = 2020,
    progress: Callable[[str], None] = lambda line: None,
    passwords: dict[str, str] | None = None,
) -> Community:
    """Create the demo community and its people; returns the existing one if loaded.

    `passwords` ({"coordinator": ..., "everyone else": ...}) replaces DEMO_PASSWORD.
    """
    existing = Community.objects.filter(slug=COMMUNITY_SLUG).first()
    if existing is not None:
        progress("The Leuven demo is already loaded.")
        return existing
    rng = random.Random(seed)
    gazetteer = offline_gazetteer()
    # One hash for everyone: hashing 91 times on purpose-slow PBKDF2 would take ~20 s.
    passwords = passwords or {"coordinator": DEMO_PASSWORD, "everyone else": DEMO_PASSWORD}
    password_hash = make_password(passwords["everyone else"])
    with transaction.atomic():
        community = Community.objects.create(
            name="Leuven",
            slug=COMMUNITY_SLUG,
            latitude=50.8798,
            longitude=4.7005,
            contact_phone="016 27 20 00",
        )
        categories = [
            Category.objects.create(
                community=community,
                slug=slug,
                name=name,
                name_nl=dutch,
                name_fr=french,
                carries_expenses=slug in EXPENSE_CATEGORIES,
            )
            for slug, name, dutch, french in CATEGORIES
        ]
        coordinator = _person(rng, "coordinator", community, make_password(passwords["coordinator"]))
        coordinator.is_coordinator = True
        coordinator.is_staff = True
        coordinator.save()
        grant_coordinator_admin(coordinator)
        if passwords["coordinator"] == DEMO_PASSWORD:
            known_secret_device(coordinator, DEMO_TOTP_KEY)
        progress("Community, categories and coordinator created.")

        for index in range(1, VOLUNTEERS + 1):
            volunteer = _person(rng, f"volunteer{index}", community, password_hash)
            skills = set(rng.choices(categories, CATEGORY_WEIGHTS, k=rng.randint(1, 3)))
            services.volunteer_offer_save(
                volunteer=volunteer,
                community=community,
                skills=skills,
                location=_address(rng, gazetteer),
                max_km=rng.choice([1.5, 2, 3, 5, 8]),
                availability=rng.sample(range(21), rng.randint(3, 10)),
                capacity=rng.choices([1, 2, 3], [60, 30, 10])[0],
            )
            if index % 10 == 0:
                progress(f"Volunteers: {index}/{VOLUNTEERS}")

        today = timezone.localdate()
        for index in range(1, REQUESTS + 1):
            citizen = _person(rng, f"citizen{index}", community, password_hash)
            category = rng.choices(categories, CATEGORY_WEIGHTS)[0]
            any_time = rng.random() < 0.2
            windows = {
                (today + dt.timedelta(days=rng.randint(0, 6)), rng.randint(0, 2))
                for _ in range(rng.randint(1, 3))
            }
            # Loaded in the evening, "this morning" is over: only what is still ahead.
            windows = {window for window in windows if not part_of_day_has_passed(*window)} or {
                (today + dt.timedelta(days=1), 1)
            }
            services.help_request_create(
                community=community,
                requester=citizen,
                created_by=citizen,
                category=category,
                description=rng.choice(NEEDS[category.slug]),
                urgency=rng.choices(list(Urgency.values), [60, 25, 15])[0],
                location=_address(rng, gazetteer),
                time_windows=[] if any_time else sorted(windows),
                any_time=any_time,
            )
            if index % 10 == 0:
                progress(f"Requests: {index}/{REQUESTS}")
        _load_history(rng, gazetteer, community, categories)
        progress(f"History: {HISTORY_MONTHS * HISTORY_PER_MONTH} requests helped in earlier months")
    return community


def _load_history(rng: random.Random, gazetteer: OfflineGazetteer, community: Community, categories) -> None:
    """Requests of earlier months, helped or cancelled, with their records moved back in time."""
    first_new_email = (OutgoingMessage.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    citizens = list(User.objects.filter(community=community, username__startswith="citizen"))
    volunteers = list(User.objects.filter(community=community, username__startswith="volunteer"))
    now = timezone.now()
    for _month in range(HISTORY_MONTHS):
        for _ in range(HISTORY_PER_MONTH):
            citizen = rng.choice(citizens)
            category = rng.choices(categories, CATEGORY_WEIGHTS)[0]
            help_request = services.help_request_create(
                community=community,
                requester=citizen,
                created_by=citizen,
                category=category,
                description=rng.choice(NEEDS[category.slug]),
                urgency=rng.choices(list(Urgency.values), [60, 25, 15])[0],
                location=_address(rng, gazetteer),
                any_time=True,
            )
            created = now - dt.timedelta(days=rng.randint(2, 30 * HISTORY_MONTHS), hours=rng.randint(0, 10))
            steps = [created]
            if rng.random() < 0.9:
                volunteer = rng.choice(volunteers)
                assignment = services.assignment_propose(
                    help_request=help_request, volunteer=volunteer, km=1.0
                )
                services.assignment_accept(assignment=assignment, volunteer=volunteer)
                services.assignment_complete(
                    assignment=assignment, volunteer=volunteer, hours_spent=rng.choice([0.5, 1, 1, 1.5, 2, 3])
                )
                accepted = created + dt.timedelta(minutes=rng.randint(10, 600))
                done = accepted + dt.timedelta(hours=rng.randint(2, 72))
                Assignment.objects.filter(pk=assignment.pk).update(proposed_at=created, responded_at=accepted)
                steps = [created, created, created, accepted, accepted, done, done]
            else:
                services.help_request_cancel(
                    help_request=help_request, actor=citizen, reason="no longer needed"
                )
                steps = [created, created + dt.timedelta(hours=rng.randint(1, 48))]
            HelpRequest.objects.filter(pk=help_request.pk).update(created_at=created, updated_at=steps[-1])
            for change, at in zip(help_request.status_changes.order_by("pk"), steps, strict=False):
                StatusChange.objects.filter(pk=change.pk).update(at=at)
    # Months-old news is not worth an e-mail: the outbox keeps only today's.
    OutgoingMessage.objects.filter(pk__gte=first_new_email).delete()


def grant_coordinator_admin(user: User) -> None:
    """Let a coordinator use the admin for their community's data."""
    codenames = [
        "view_community", "change_community",
        "view_category", "add_category", "change_category",
        "view_helprequest", "change_helprequest", "view_helpseries",
        "view_volunteeroffer", "change_volunteeroffer",
        "view_assignment", "view_statuschange", "view_user", "view_matchingrun",
        "view_partnerorganisation", "view_apikey", "view_referrer", "view_referrerinvitation",
        "view_referral",
    ]  # fmt: skip
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


_grant_coordinator_admin = grant_coordinator_admin  # the name the access matrix imports
