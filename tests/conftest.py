"""Shared personas: a citizen, two volunteers, a coordinator, and someone from elsewhere."""

from __future__ import annotations

import datetime as dt
import faulthandler
import os
import signal

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.urls import reverse
from django.utils import timezone, translation
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from hypothesis import settings as hypothesis_settings

from mutualaid.accounts.models import User
from mutualaid.accounts.two_factor import authenticator, known_secret_device, role_requires_two_factor
from mutualaid.aid import services
from mutualaid.aid.geocoding import default_geocoder
from mutualaid.aid.models import (
    Category,
    Community,
    HelpRequest,
    HelpSeries,
    PartOfDay,
    Urgency,
    VolunteerOffer,
)
from mutualaid.aid.places import Location

PASSWORD = "a-long-test-password"

# Property tests: the full number of examples in scripts/test.sh and CI (HYPOTHESIS_PROFILE=full),
# a tenth of it (at least 10) in the edit-test loop, where plain pytest runs.
HYPOTHESIS_PROFILE = "full" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "quick")
hypothesis_settings.register_profile("full", deadline=None)
hypothesis_settings.register_profile("quick", deadline=None, max_examples=10)
hypothesis_settings.load_profile(HYPOTHESIS_PROFILE)


def examples(full: int) -> int:
    """How many examples a property test draws: `full` in the full profile, a tenth in the quick one."""
    return full if HYPOTHESIS_PROFILE == "full" else max(10, full // 10)


# Deliberately slow hashing is for production; tests create many people. Set once, before
# any live server forks, so the browser tests' daphne checks passwords the same way.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Likewise nothing a test starts reaches the internet: no map tiles, the offline geocoder.
settings.MAP_TILE_URL = ""
settings.GEOCODER = "offline"
# No watch on the channel layer's Redis in the test process and the live servers it forks
# (tests/notifications/test_faults.py restarts a Redis under a daphne of its own to test it).
settings.LIVE_LAYER_CHECK_SECONDS = 0
# A live server forked by a browser test prints every thread's stack on SIGUSR1: a test that
# waits in vain for it asks (tests/e2e/browser.py), and the stacks say what it was stuck on.
os.register_at_fork(after_in_child=lambda: faulthandler.register(signal.SIGUSR1, all_threads=True))
NAAMSESTRAAT = Location(50.8735, 4.7003, "Naamsestraat 12, 3000 Leuven", "Leuven centrum")
LADEUZEPLEIN = Location(50.8790, 4.7050, "Ladeuzeplein 5, 3000 Leuven", "Leuven centrum")
KESSEL_LO = Location(50.8895, 4.7270, "Gemeentestraat 3, 3010 Leuven", "Kessel-Lo")
ALL_WEEK = list(range(21))


def clear_cache() -> None:
    """Forget this project's cached keys only: on a shared Redis, FLUSHDB would also wipe
    channel-layer messages and other users' data."""
    backend = getattr(cache, "_cache", None)
    if cache.key_prefix and hasattr(backend, "get_client"):  # Django's RedisCache
        client = backend.get_client(write=True)
        for key in client.scan_iter(match=f"{cache.key_prefix}:*", count=500):
            client.delete(key)
    else:
        cache.clear()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    """No connection pool in the test process itself (the daphne and worker subprocesses
    of the fault tests keep theirs, from the settings): tests run database code in threads
    that end without returning their connection (fresh executors, barriers), and in a
    pool each such thread would keep a connection checked out until the pool ran dry."""
    connections["default"].settings_dict.get("OPTIONS", {}).pop("pool", None)


@pytest.fixture(autouse=True)
def offline_and_quiet(settings):
    """No test reaches the internet: the offline gazetteer geocodes, no map tiles load."""
    settings.GEOCODER = "offline"
    settings.MAP_TILE_URL = ""
    settings.MATCHING_DEBOUNCE_SECONDS = 0
    # Tests run matching rounds themselves; no background worker in the test process.
    settings.MATCHING_WORKER = "external"
    clear_cache()  # rate-limit counters start afresh in every test
    # A request in Dutch or French leaves its language active in the thread; start in English.
    translation.activate(settings.LANGUAGE_CODE)
    default_geocoder.cache_clear()
    yield
    default_geocoder.cache_clear()


# The authenticator secret every test coordinator, referrer and staff member is enrolled with.
KNOWN_TOTP_KEY = b"tests-known-2fa-key!".hex()


def enrol(user: User, hex_key: str = KNOWN_TOTP_KEY):
    """The person's confirmed authenticator, enrolled with the known secret if they had none."""
    return authenticator(user) or known_secret_device(user, hex_key)


def one_time_code(user: User) -> str:
    """The code the person's authenticator shows now, as an app computes it from the secret;
    one step ahead when this step's code was already used (django-otp accepts each once)."""
    device = authenticator(user)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if totp.t() <= device.last_t:
        totp.drift += device.last_t - totp.t() + 1
    return f"{totp.token():0{device.digits}d}"


def sign_in(client, user: User) -> None:
    """`client.force_login`, and for a coordinator, referrer or staff member also the second
    step, as `django_otp.login` records it: their enrolled authenticator verified this session."""
    client.force_login(user)
    if role_requires_two_factor(user):
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = enrol(user).persistent_id
        session.save()


def sign_in_with_password(client, user: User) -> None:
    """The whole way a person signs in: the login form, then (for those who must) the code
    their authenticator shows, typed on the second step's page."""
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response
    if role_requires_two_factor(user):
        enrol(user)
        response = client.post(reverse("two-factor-verify"), {"otp_token": one_time_code(user)})
        assert response.status_code == 302, response


@pytest.fixture
def admin_client(client, admin_user):
    """pytest-django's signed-in superuser, past the second step of signing in too."""
    sign_in(client, admin_user)
    return client


def make_user(username: str, community: Community | None, **extra) -> User:
    extra.setdefault("first_name", username.title())
    user = User(username=username, community=community, **extra)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def community(db) -> Community:
    return Community.objects.create(name="Leuven", slug="leuven", latitude=50.8798, longitude=4.7005)


@pytest.fixture
def other_community(db) -> Community:
    return Community.objects.create(name="Herent", slug="herent", latitude=50.9070, longitude=4.6720)


@pytest.fixture
def shopping(community) -> Category:
    return Category.objects.create(community=community, slug="shopping", name="Shopping")


@pytest.fixture
def pharmacy(community) -> Category:
    return Category.objects.create(community=community, slug="pharmacy", name="Pharmacy")


@pytest.fixture
def citizen(community) -> User:
    return make_user("citizen", community, last_name="Peeters", phone="+32 470 11 22 33")


@pytest.fixture
def other_citizen(community) -> User:
    return make_user("neighbour", community, last_name="Maes")


@pytest.fixture
def coordinator(community) -> User:
    return make_user("coordinator", community, is_coordinator=True, is_staff=True)


@pytest.fixture
def outsider_coordinator(other_community) -> User:
    return make_user("herent-coordinator", other_community, is_coordinator=True, is_staff=True)


def make_volunteer(
    username: str, community: Community, skills: list[Category], location: Location, **offer
) -> User:
    user = make_user(username, community, last_name="Volunteer", phone="+32 470 99 88 77")
    services.volunteer_offer_save(
        volunteer=user,
        community=community,
        skills=skills,
        location=location,
        max_km=offer.get("max_km", 5.0),
        availability=offer.get("availability", ALL_WEEK),
        capacity=offer.get("capacity", 1),
    )
    return user


@pytest.fixture
def volunteer(community, shopping, pharmacy) -> User:
    """The volunteer nearest to the citizen's address."""
    return make_volunteer("volunteer", community, [shopping, pharmacy], LADEUZEPLEIN)


@pytest.fixture
def second_volunteer(community, shopping) -> User:
    return make_volunteer("second-volunteer", community, [shopping], KESSEL_LO)


def post_request(
    requester: User | None,
    community: Community,
    category: Category,
    *,
    location: Location = NAAMSESTRAAT,
    urgency: int = Urgency.THIS_WEEK,
    created_by: User | None = None,
) -> HelpRequest:
    return services.help_request_create(
        community=community,
        requester=requester,
        created_by=created_by or requester,
        category=category,
        description="Groceries for the week, please.",
        urgency=urgency,
        location=location,
        time_windows=[(timezone.localdate() + dt.timedelta(days=1), 0)],
    )


def weekly_help(requester: User, community: Community, category: Category, **changes) -> HelpSeries:
    """Weekly help from tomorrow morning, filed by the person themselves unless `changes` say
    otherwise (any argument of `help_series_create`)."""
    from mutualaid.aid.services.series import help_series_create

    details = {
        "created_by": requester,
        "description": "Carry the shopping up four floors.",
        "location": NAAMSESTRAAT,
        "every_weeks": 1,
        "starts": timezone.localdate() + dt.timedelta(days=1),
        "part_of_day": PartOfDay.MORNING,
    }
    return help_series_create(
        community=community, requester=requester, category=category, **(details | changes)
    )


@pytest.fixture
def help_request(citizen, community, shopping) -> HelpRequest:
    return post_request(citizen, community, shopping)


@pytest.fixture
def proposal(help_request, volunteer):
    """The help request proposed to the volunteer (as matching would)."""
    return services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)


def offer_of(user: User) -> VolunteerOffer:
    return VolunteerOffer.objects.get(volunteer=user)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests share one parallel test process (pytest-xdist's loadgroup), one at a time:
    each starts a daphne and Chromium, and the other process runs everything else meanwhile."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture
def local_time(monkeypatch):
    """Set the service's "now" to today at a local hour (for parts of the day that pass)."""
    real_localtime = timezone.localtime

    def at(hour: int, minute: int = 0) -> dt.datetime:
        moment = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(hour, minute)))
        monkeypatch.setattr(
            timezone, "localtime", lambda value=None, timezone=None: real_localtime(value or moment, timezone)
        )
        return moment

    return at
