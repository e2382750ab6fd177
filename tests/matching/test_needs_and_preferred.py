"""What the service sends the engine beyond distance: `needs` (the places still open of a task
for several volunteers) and `preferred` (the volunteer who helped this citizen before)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from matching.services import load_snapshot, propose_assignments, request_key, volunteer_key
from mutualaid.aid import services
from mutualaid.aid.models import Assignment, HelpRequest
from mutualaid.aid.places import Location
from tests.conftest import NAAMSESTRAAT, make_user, make_volunteer, offer_of, post_request

KM_PER_DEGREE_OF_LATITUDE = 111.195


def north_of_request(km: float) -> Location:
    return Location(
        NAAMSESTRAAT.latitude + km / KM_PER_DEGREE_OF_LATITUDE, NAAMSESTRAAT.longitude, "", "North"
    )


def south_of_request(km: float) -> Location:
    return Location(
        NAAMSESTRAAT.latitude - km / KM_PER_DEGREE_OF_LATITUDE, NAAMSESTRAAT.longitude, "", "South"
    )


def post_team_request(citizen, community, category, people_needed: int) -> HelpRequest:
    return services.help_request_create(
        community=community,
        requester=citizen,
        created_by=citizen,
        category=category,
        description="Carry a sofa.",
        urgency=1,
        location=NAAMSESTRAAT,
        any_time=True,
        people_needed=people_needed,
    )


def request_in(snapshot, help_request) -> dict:
    return next(item for item in snapshot.instance["requests"] if item["id"] == request_key(help_request.pk))


def done_task(citizen, community, category, volunteer) -> Assignment:
    earlier = post_request(citizen, community, category)
    assignment = services.assignment_propose(help_request=earlier, volunteer=volunteer, km=1.0)
    services.assignment_accept(assignment=assignment, volunteer=volunteer)
    services.assignment_complete(assignment=assignment, volunteer=volunteer)
    return assignment


@pytest.fixture
def helpers(community, shopping):
    return [
        make_volunteer(f"helper{index}", community, [shopping], north_of_request(0.5 + index / 10))
        for index in range(5)
    ]


# needs


def test_a_request_for_one_volunteer_is_sent_with_needs_1(help_request, volunteer, community):
    assert request_in(load_snapshot(community), help_request)["needs"] == 1


def test_a_run_proposes_each_place_of_a_task_to_a_different_volunteer(citizen, community, shopping, helpers):
    sofa = post_team_request(citizen, community, shopping, 3)

    outcome = propose_assignments(community=community)

    proposals = Assignment.objects.filter(help_request=sofa, status="proposed")
    assert outcome.proposed == 3
    assert len({assignment.volunteer_id for assignment in proposals}) == 3
    sofa.refresh_from_db()
    assert sofa.status == "proposed"


def test_a_partly_staffed_task_is_sent_with_its_open_places_only_and_not_to_those_on_it(
    citizen, community, shopping, helpers
):
    sofa = post_team_request(citizen, community, shopping, 3)
    accepted = services.assignment_propose(help_request=sofa, volunteer=helpers[0], km=0.5)
    services.assignment_accept(assignment=accepted, volunteer=helpers[0])
    services.assignment_propose(help_request=sofa, volunteer=helpers[1], km=0.6)

    item = request_in(load_snapshot(community), sofa)

    assert item["needs"] == 1
    snapshot = load_snapshot(community)
    excluded = {tuple(pair) for pair in snapshot.instance["exclude"]}
    assert {
        (item["id"], volunteer_key(helpers[0].pk)),
        (item["id"], volunteer_key(helpers[1].pk)),
    } <= excluded


def test_after_a_decline_the_run_fills_the_open_place_and_the_task_becomes_fully_staffed(
    citizen, community, shopping, helpers
):
    sofa = post_team_request(citizen, community, shopping, 2)
    propose_assignments(community=community)
    first, second = Assignment.objects.filter(help_request=sofa).order_by("pk")
    services.assignment_accept(assignment=first, volunteer=first.volunteer)
    services.assignment_decline(assignment=second, volunteer=second.volunteer)

    propose_assignments(community=community)

    third = Assignment.objects.get(help_request=sofa, status="proposed")
    assert third.volunteer_id not in (first.volunteer_id, second.volunteer_id)
    services.assignment_accept(assignment=third, volunteer=third.volunteer)
    sofa.refresh_from_db()
    assert sofa.status == "accepted"


def test_a_fully_staffed_or_fully_asked_task_is_not_sent(citizen, community, shopping, helpers):
    sofa = post_team_request(citizen, community, shopping, 2)
    for helper in helpers[:2]:
        services.assignment_propose(help_request=sofa, volunteer=helper, km=0.5)
    assert request_key(sofa.pk) not in load_snapshot(community).requests_by_key


# preferred


def test_the_volunteer_who_last_helped_the_citizen_in_that_kind_of_help_is_preferred(
    citizen, community, shopping, pharmacy, helpers
):
    done_task(citizen, community, shopping, helpers[2])
    shopping_again = post_request(citizen, community, shopping)
    pharmacy_run = post_request(citizen, community, pharmacy)

    snapshot = load_snapshot(community)

    assert request_in(snapshot, shopping_again)["preferred"] == [volunteer_key(helpers[2].pk)]
    assert "preferred" not in request_in(snapshot, pharmacy_run)  # another kind of help
    assert snapshot.instance["continuity_bonus_km"] > 0


def test_the_latest_of_two_helpers_is_preferred(citizen, community, shopping, helpers):
    done_task(citizen, community, shopping, helpers[1])
    done_task(citizen, community, shopping, helpers[3])
    again = post_request(citizen, community, shopping)
    assert request_in(load_snapshot(community), again)["preferred"] == [volunteer_key(helpers[3].pk)]


def test_a_helper_who_paused_or_helped_too_long_ago_is_not_preferred(
    citizen, community, shopping, helpers, settings
):
    long_ago = done_task(citizen, community, shopping, helpers[1])
    Assignment.objects.filter(pk=long_ago.pk).update(
        responded_at=timezone.now() - dt.timedelta(days=settings.MATCHING_CONTINUITY_DAYS + 1)
    )
    done_task(make_user("other-citizen", community), community, shopping, helpers[2])
    paused_helper = helpers[3]
    again = post_request(citizen, community, shopping)
    assert "preferred" not in request_in(load_snapshot(community), again)

    done_task(citizen, community, shopping, paused_helper)
    services.volunteer_offer_set_paused(offer=offer_of(paused_helper), paused=True)
    assert "preferred" not in request_in(load_snapshot(community), again)


def test_among_near_equal_volunteers_the_one_who_helped_before_gets_the_task_again(
    citizen, community, shopping
):
    nearer = make_volunteer("nearer", community, [shopping], south_of_request(1.0))
    familiar = make_volunteer("familiar", community, [shopping], north_of_request(1.3))
    done_task(citizen, community, shopping, familiar)
    again = post_request(citizen, community, shopping)

    propose_assignments(community=community)

    assert Assignment.objects.get(help_request=again, status="proposed").volunteer == familiar
    assert Assignment.objects.filter(volunteer=nearer).count() == 0


def test_without_a_history_the_nearer_volunteer_gets_it(citizen, community, shopping):
    nearer = make_volunteer("nearer", community, [shopping], south_of_request(1.0))
    make_volunteer("familiar", community, [shopping], north_of_request(1.3))
    first_time = post_request(citizen, community, shopping)

    propose_assignments(community=community)

    assert Assignment.objects.get(help_request=first_time, status="proposed").volunteer == nearer


def test_a_much_nearer_volunteer_still_wins_over_the_one_who_helped_before(citizen, community, shopping):
    nearer = make_volunteer("nearer", community, [shopping], south_of_request(0.3))
    familiar = make_volunteer("familiar", community, [shopping], north_of_request(4.5))
    done_task(citizen, community, shopping, familiar)
    again = post_request(citizen, community, shopping)

    propose_assignments(community=community)

    assert Assignment.objects.get(help_request=again, status="proposed").volunteer == nearer
