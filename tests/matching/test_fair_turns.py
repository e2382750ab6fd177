"""Fair turns: a volunteer's recent load is a small surcharge on their distances."""

from __future__ import annotations

import pytest

from matching.fairness import fair_turn_km
from matching.services import load_snapshot, propose_assignments, volunteer_key
from mutualaid.aid import services
from mutualaid.aid.models import Assignment
from mutualaid.aid.places import Location
from tests.conftest import NAAMSESTRAAT, make_volunteer, post_request

KM_PER_DEGREE_OF_LATITUDE = 111.195


def north_of_request(km: float) -> Location:
    return Location(
        NAAMSESTRAAT.latitude + km / KM_PER_DEGREE_OF_LATITUDE, NAAMSESTRAAT.longitude, "", "North"
    )


def south_of_request(km: float) -> Location:
    return Location(
        NAAMSESTRAAT.latitude - km / KM_PER_DEGREE_OF_LATITUDE, NAAMSESTRAAT.longitude, "", "South"
    )


def give_done_task(citizen, community, category, volunteer) -> None:
    """A task the volunteer accepted and did (proposed by hand, as a coordinator would)."""
    earlier = post_request(citizen, community, category)
    assignment = services.assignment_propose(help_request=earlier, volunteer=volunteer, km=1.0)
    services.assignment_accept(assignment=assignment, volunteer=volunteer)
    services.assignment_complete(assignment=assignment, volunteer=volunteer)


def proposed_volunteer(help_request):
    return Assignment.objects.get(help_request=help_request, status="proposed").volunteer


@pytest.fixture(autouse=True)
def fair_turn_settings(settings):
    settings.MATCHING_FAIR_TURN_KM_PER_TASK = 0.5
    settings.MATCHING_FAIR_TURN_DAYS = 14
    settings.MATCHING_FAIR_TURN_MAX_KM = 2.0
    # Fair turns alone: here the busy volunteer's earlier task was for the same citizen, which
    # would make them the citizen's preferred volunteer (tests/matching/test_continuity.py).
    settings.MATCHING_CONTINUITY_BONUS_KM = 0.0


def test_of_two_volunteers_at_nearly_equal_distance_the_one_with_recent_tasks_loses(
    citizen, community, shopping
):
    busy = make_volunteer("busy", community, [shopping], north_of_request(1.0))
    rested = make_volunteer("rested", community, [shopping], south_of_request(1.2))
    give_done_task(citizen, community, shopping, busy)
    help_request = post_request(citizen, community, shopping)
    propose_assignments(community=community)
    assert proposed_volunteer(help_request) == rested


def test_without_recent_tasks_the_nearer_of_two_nearly_equal_volunteers_is_proposed(
    citizen, community, shopping
):
    nearer = make_volunteer("nearer", community, [shopping], north_of_request(1.0))
    make_volunteer("further", community, [shopping], south_of_request(1.2))
    help_request = post_request(citizen, community, shopping)
    propose_assignments(community=community)
    assert proposed_volunteer(help_request) == nearer


def test_when_volunteers_are_far_apart_distance_still_wins_over_recent_tasks(citizen, community, shopping):
    busy = make_volunteer("busy", community, [shopping], north_of_request(0.5))
    make_volunteer("rested", community, [shopping], south_of_request(3.5))
    give_done_task(citizen, community, shopping, busy)
    help_request = post_request(citizen, community, shopping)
    propose_assignments(community=community)
    assert proposed_volunteer(help_request) == busy


def test_tasks_older_than_the_window_no_longer_count(citizen, community, shopping, settings):
    busy = make_volunteer("busy", community, [shopping], north_of_request(1.0))
    give_done_task(citizen, community, shopping, busy)
    Assignment.objects.filter(volunteer=busy).update(responded_at=busy.date_joined.replace(year=2000))
    snapshot = load_snapshot(community)
    (entry,) = [v for v in snapshot.instance["volunteers"] if v["id"] == volunteer_key(busy.pk)]
    assert entry["extra_km"] == 0


def test_extra_km_counts_recent_tasks_and_waiting_proposals_up_to_the_cap(
    citizen, community, shopping, settings
):
    busy = make_volunteer("busy", community, [shopping], north_of_request(1.0), capacity=3)
    give_done_task(citizen, community, shopping, busy)
    services.assignment_propose(help_request=post_request(citizen, community, shopping), volunteer=busy, km=1)
    snapshot = load_snapshot(community)
    (entry,) = [v for v in snapshot.instance["volunteers"] if v["id"] == volunteer_key(busy.pk)]
    assert entry["extra_km"] == pytest.approx(1.0)  # one done, one waiting, 0.5 km each
    settings.MATCHING_FAIR_TURN_MAX_KM = 0.7
    assert fair_turn_km(2) == pytest.approx(0.7)
    settings.MATCHING_FAIR_TURN_KM_PER_TASK = 0
    assert fair_turn_km(5) == 0
