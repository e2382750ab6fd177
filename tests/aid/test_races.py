"""Races on one task: exactly one wins (as many as its places, for a task for several
volunteers), nobody is double-booked, nothing is lost.

On PostgreSQL (row locks and the partial unique index); 200 attempts released at once by
a barrier, each thread with its own connection, as Django's select_for_update tests do.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import IntegrityError, OperationalError, connection, connections, transaction
from django.utils import timezone

from mutualaid.aid import services
from mutualaid.aid.models import Assignment, AuditEntry, HelpRequest, StatusChange
from mutualaid.aid.states import REQUEST_TRANSITIONS, InvalidTransition
from tests.conftest import LADEUZEPLEIN, make_user, make_volunteer, post_request

WANTED_ATTEMPTS = 200

# One parallel test process runs them all: each opens 200 connections at once.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("races")]


@pytest.fixture(autouse=True)
def on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("race tests need PostgreSQL: set DATABASE_URL (CI runs them on PostgreSQL)")


def attempts_the_server_allows() -> int:
    """200, unless the server has fewer connections to spare (CI raises max_connections)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        (maximum,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM pg_stat_activity")
        (in_use,) = cursor.fetchone()
    attempts = min(WANTED_ATTEMPTS, int(maximum) - int(in_use) - 10)
    print(f"\n{attempts} concurrent attempts (max_connections={maximum})")
    return attempts


def connect_while_others_hold_connections(seconds: float = 45.0) -> None:
    """Open this thread's connection before the barrier, waiting out a moment when the
    server is full: other test processes run beside the races (a daphne, a worker), so the
    free connections counted before the race can shrink while it starts. The race itself
    then opens none."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            connection.ensure_connection()
            return
        except OperationalError as error:
            if "too many clients" not in str(error) or time.monotonic() > deadline:
                raise
            connections.close_all()
            time.sleep(0.2)


def race(attempts: list[Callable[[], object]]) -> Counter:
    """Run every attempt at the same moment; count outcomes by kind."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(attempt: Callable[[], object]) -> None:
        try:
            connect_while_others_hold_connections()
            barrier.wait(timeout=60)
            attempt()
            outcome = "won"
        except (services.TaskActionError, InvalidTransition) as error:
            outcome = "told:" + type(error).__name__
        except IntegrityError as error:
            guards = ("volunteer_capacity", "request_places")
            refused = any(guard in str(error) for guard in guards)
            outcome = "refused by the database" if refused else f"crashed:{error}"
        except Exception as error:  # anything else is a bug the test reports
            outcome = f"crashed:{type(error).__name__}:{error}"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(attempt,)) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return Counter(outcomes)


def assert_history_is_a_valid_path(help_request: HelpRequest) -> None:
    changes = StatusChange.objects.filter(help_request=help_request, subject="request").order_by("at", "pk")
    statuses = [change.to_status for change in changes]
    for before, after in itertools.pairwise(statuses):
        assert (before, after) in REQUEST_TRANSITIONS


def test_200_coordinators_giving_one_request_to_different_volunteers_give_it_once(community, shopping):
    coordinator = make_user("coordinator", community, is_coordinator=True, is_staff=True)
    citizen = make_user("citizen", community)
    help_request = post_request(citizen, community, shopping)
    attempts = attempts_the_server_allows()
    volunteers = [
        make_volunteer(f"v{index}", community, [shopping], LADEUZEPLEIN) for index in range(attempts)
    ]

    outcomes = race(
        [
            lambda volunteer=volunteer: services.assignment_assign_by_coordinator(
                help_request=help_request, volunteer=volunteer, coordinator=coordinator, reason="race"
            )
            for volunteer in volunteers
        ]
    )

    assert outcomes == Counter({"won": 1, "told:TaskActionError": attempts - 1})
    assert Assignment.objects.filter(help_request=help_request).count() == 1
    help_request.refresh_from_db()
    assert help_request.status == "proposed"
    assert_history_is_a_valid_path(help_request)


def test_coordinators_taking_one_call_at_the_same_moment_give_it_to_exactly_one(community, shopping):
    citizen = make_user("citizen", community)
    help_request = post_request(citizen, community, shopping)
    attempts = min(50, attempts_the_server_allows())
    coordinators = [
        make_user(f"coordinator{index}", community, is_coordinator=True, is_staff=True)
        for index in range(attempts)
    ]

    outcomes = race(
        [
            lambda coordinator=coordinator: services.call_take(
                help_request=help_request, coordinator=coordinator
            )
            for coordinator in coordinators
        ]
    )

    assert outcomes == Counter({"won": 1, "told:TaskActionError": attempts - 1})
    help_request.refresh_from_db()
    assert help_request.call_taken_by in coordinators
    taken = AuditEntry.objects.filter(action="call_taken", subject=f"help_request:{help_request.pk}")
    assert list(taken.values_list("actor", flat=True)) == [help_request.call_taken_by_id]


def test_200_overrides_for_one_volunteer_never_exceed_their_capacity(community, shopping):
    coordinator = make_user("coordinator", community, is_coordinator=True, is_staff=True)
    citizen = make_user("citizen", community)
    volunteer = make_volunteer("busy", community, [shopping], LADEUZEPLEIN, capacity=3)
    attempts = attempts_the_server_allows()
    requests = [post_request(citizen, community, shopping) for _ in range(attempts)]

    outcomes = race(
        [
            lambda help_request=help_request: services.assignment_assign_by_coordinator(
                help_request=help_request, volunteer=volunteer, coordinator=coordinator, reason="race"
            )
            for help_request in requests
        ]
    )

    assert outcomes == Counter({"won": 3, "told:TaskActionError": attempts - 3})
    assert Assignment.objects.filter(volunteer=volunteer, status="proposed").count() == 3
    assert HelpRequest.objects.filter(status="proposed").count() == 3
    assert HelpRequest.objects.filter(status="open").count() == attempts - 3


def test_200_writes_past_the_services_for_one_volunteer_are_held_to_capacity_by_the_database(
    community, shopping
):
    # No service, no lock taken by our code: only the database's guard stands in the way.
    citizen = make_user("citizen", community)
    volunteer = make_volunteer("busy", community, [shopping], LADEUZEPLEIN, capacity=3)
    attempts = attempts_the_server_allows()
    requests = [post_request(citizen, community, shopping) for _ in range(attempts)]

    def write_live_task(help_request: HelpRequest) -> None:
        with transaction.atomic():
            Assignment.objects.create(
                help_request=help_request,
                volunteer=volunteer,
                km=1.0,
                expires_at=timezone.now() + dt.timedelta(hours=1),
            )

    outcomes = race(
        [lambda help_request=help_request: write_live_task(help_request) for help_request in requests]
    )

    assert outcomes == Counter({"won": 3, "refused by the database": attempts - 3})
    assert Assignment.objects.filter(volunteer=volunteer, status="proposed").count() == 3


def test_a_volunteer_accepting_while_the_citizen_cancels_and_a_coordinator_unassigns_ends_consistent(
    community, shopping
):
    coordinator = make_user("coordinator", community, is_coordinator=True, is_staff=True)
    citizen = make_user("citizen", community)
    volunteer = make_volunteer("helper", community, [shopping], LADEUZEPLEIN)
    help_request = post_request(citizen, community, shopping)
    assignment = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.5)
    attempts = attempts_the_server_allows()
    third = attempts // 3
    attempts = (
        [lambda: services.assignment_accept(assignment=assignment, volunteer=volunteer)] * third
        + [lambda: services.help_request_cancel(help_request=help_request, actor=citizen)] * third
        + [
            lambda: services.assignment_unassign(
                assignment=assignment, coordinator=coordinator, reason="race"
            )
        ]
        * (attempts - 2 * third)
    )

    outcomes = race(attempts)

    assert not any(kind.startswith("crashed") for kind in outcomes), outcomes
    assert outcomes["won"] >= 1
    help_request.refresh_from_db()
    assignment.refresh_from_db()
    assert (
        Assignment.objects.filter(help_request=help_request, status__in=["proposed", "accepted"]).count() <= 1
    )
    if help_request.status == "cancelled":
        assert assignment.status == "cancelled"
    assert_history_is_a_valid_path(help_request)
    # Every winning action left exactly its records; nothing half-done.
    assert (
        StatusChange.objects.filter(help_request=help_request, subject="request").count()
        == 1 + 1 + outcomes["won"]
    )


def test_several_workers_expiring_at_once_expire_each_request_once_and_an_acceptance_racing_them_is_kept(
    community, shopping
):
    citizen = make_user("citizen", community)
    volunteer = make_volunteer("volunteer", community, [shopping], LADEUZEPLEIN)
    waiting = [post_request(citizen, community, shopping) for _ in range(5)]
    proposed = post_request(citizen, community, shopping)
    proposal = services.assignment_propose(help_request=proposed, volunteer=volunteer, km=0.7)
    # post_request asks for tomorrow morning: at noon tomorrow every chosen time has passed.
    noon_tomorrow = timezone.make_aware(
        dt.datetime.combine(timezone.localdate() + dt.timedelta(days=1), dt.time(12))
    )
    expired_by_each: list[int] = []

    outcomes = race(
        [lambda: expired_by_each.append(services.expire_requests_whose_time_passed(now=noon_tomorrow))] * 8
        + [lambda: services.assignment_accept(assignment=proposal, volunteer=volunteer)]
    )

    proposal.refresh_from_db()
    proposed.refresh_from_db()
    assert set(outcomes) <= {"won", "told:TaskActionError"}, outcomes
    # Either the volunteer accepted first (the task stays theirs) or the expiry came first.
    if proposed.status == "accepted":
        assert (proposal.status, outcomes["won"]) == ("accepted", 9)
        assert sum(expired_by_each) == 5
    else:
        assert (proposed.status, proposal.status) == ("expired", "expired")
        assert outcomes == Counter({"won": 8, "told:TaskActionError": 1})
        assert sum(expired_by_each) == 6
    for help_request in [*waiting, proposed]:
        expiries = StatusChange.objects.filter(
            help_request=help_request, subject="request", to_status="expired"
        )
        kept_by_the_volunteer = help_request.pk == proposed.pk and proposed.status == "accepted"
        assert expiries.count() == (0 if kept_by_the_volunteer else 1)
        assert_history_is_a_valid_path(help_request)


def test_200_volunteers_taking_the_places_of_a_task_for_three_at_once_fill_exactly_three(community, shopping):
    coordinator = make_user("coordinator", community, is_coordinator=True, is_staff=True)
    citizen = make_user("citizen", community)
    help_request = post_request(citizen, community, shopping)
    HelpRequest.objects.filter(pk=help_request.pk).update(people_needed=3)
    attempts = attempts_the_server_allows()
    volunteers = [
        make_volunteer(f"v{index}", community, [shopping], LADEUZEPLEIN) for index in range(attempts)
    ]

    # Each volunteer said yes on the phone: the coordinator gives them a place, accepted.
    outcomes = race(
        [
            lambda volunteer=volunteer: services.assignment_assign_by_coordinator(
                help_request=help_request,
                volunteer=volunteer,
                coordinator=coordinator,
                reason="race",
                agreed_by_phone=True,
            )
            for volunteer in volunteers
        ]
    )

    assert outcomes == Counter({"won": 3, "told:TaskActionError": attempts - 3})
    assert Assignment.objects.filter(help_request=help_request, status="accepted").count() == 3
    assert Assignment.objects.filter(help_request=help_request).count() == 3
    help_request.refresh_from_db()
    assert help_request.status == "accepted"
    assert_history_is_a_valid_path(help_request)


def test_200_writes_past_the_services_for_a_task_for_three_are_held_to_its_places_by_the_database(
    community, shopping
):
    citizen = make_user("citizen", community)
    help_request = post_request(citizen, community, shopping)
    HelpRequest.objects.filter(pk=help_request.pk).update(people_needed=3)
    attempts = attempts_the_server_allows()
    volunteers = [
        make_volunteer(f"v{index}", community, [shopping], LADEUZEPLEIN) for index in range(attempts)
    ]

    def write_live_place(volunteer) -> None:
        with transaction.atomic():
            Assignment.objects.create(
                help_request=help_request,
                volunteer=volunteer,
                km=1.0,
                expires_at=timezone.now() + dt.timedelta(hours=1),
            )

    outcomes = race([lambda volunteer=volunteer: write_live_place(volunteer) for volunteer in volunteers])

    assert outcomes == Counter({"won": 3, "refused by the database": attempts - 3})
    assert Assignment.objects.filter(help_request=help_request, status="proposed").count() == 3
