"""Why a volunteer got no proposal, on tasks for several volunteers: holding a place, and
every place taken or asked."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone, translation

from matching import explain
from mutualaid.aid import services
from mutualaid.aid.models import HelpRequest
from tests.conftest import LADEUZEPLEIN, NAAMSESTRAAT, make_volunteer, sign_in


def post_team_request(citizen, community, category, people_needed: int) -> HelpRequest:
    return services.help_request_create(
        community=community,
        requester=citizen,
        created_by=citizen,
        category=category,
        description="Carry a sofa up the stairs.",
        urgency=1,
        location=NAAMSESTRAAT,
        time_windows=[(timezone.localdate() + dt.timedelta(days=1), 0)],
        people_needed=people_needed,
    )


def reasons(volunteer) -> str:
    return " ".join(explain.why_no_proposal(volunteer).lines)


def rows_of(help_request) -> dict:
    return {row.volunteer: row for row in explain.volunteers_for_request(help_request)}


def test_a_volunteer_asked_for_one_place_holds_it_and_the_places_left_can_still_be_proposed(
    citizen, community, shopping, volunteer, second_volunteer
):
    team = post_team_request(citizen, community, shopping, 2)
    services.assignment_propose(help_request=team, volunteer=volunteer, km=0.7)
    rows = rows_of(team)
    assert rows[volunteer].reason == explain.HAS_PLACE
    assert rows[volunteer].why == "Holds one of its 2 places"
    # One place is left: the other volunteer is not told it went to someone else.
    assert rows[second_volunteer].reason == explain.NEXT_RUN
    assert "may be proposed to you shortly" in reasons(second_volunteer)


def test_a_volunteer_whose_part_is_done_still_holds_their_place(
    citizen, community, shopping, volunteer, second_volunteer
):
    team = post_team_request(citizen, community, shopping, 2)
    first = services.assignment_propose(help_request=team, volunteer=volunteer, km=0.7)
    services.assignment_accept(assignment=first, volunteer=volunteer)
    second = services.assignment_propose(help_request=team, volunteer=second_volunteer, km=2.0)
    services.assignment_accept(assignment=second, volunteer=second_volunteer)
    services.assignment_complete(assignment=first, volunteer=volunteer)
    assert rows_of(team)[volunteer].reason == explain.HAS_PLACE


def test_every_place_taken_or_asked_is_explained_as_such_to_the_coordinator_and_in_the_inbox(
    citizen, community, shopping, volunteer, second_volunteer
):
    team = post_team_request(citizen, community, shopping, 2)
    accepted = services.assignment_propose(help_request=team, volunteer=volunteer, km=0.7)
    services.assignment_accept(assignment=accepted, volunteer=volunteer)
    services.assignment_propose(help_request=team, volunteer=second_volunteer, km=2.0)  # asked
    third = make_volunteer("third", community, [shopping], LADEUZEPLEIN, capacity=2)
    row = rows_of(team)[third]
    assert row.reason == explain.PLACES_TAKEN
    assert row.why == "All 2 places are taken or asked of other volunteers"
    assert "1 request for several volunteers that fits your offer has every place taken" in reasons(third)
    # Not "it went to a nearer volunteer": that is for a task for one.
    assert "went to a volunteer nearer" not in reasons(third)


def test_a_place_given_back_opens_the_task_to_the_others_again(
    citizen, community, shopping, volunteer, second_volunteer
):
    team = post_team_request(citizen, community, shopping, 2)
    first = services.assignment_propose(help_request=team, volunteer=volunteer, km=0.7)
    services.assignment_propose(help_request=team, volunteer=second_volunteer, km=2.0)
    third = make_volunteer("third", community, [shopping], LADEUZEPLEIN)
    assert rows_of(team)[third].reason == explain.PLACES_TAKEN
    services.assignment_decline(assignment=first, volunteer=volunteer)
    rows = rows_of(team)
    assert rows[third].reason == explain.NEXT_RUN
    assert rows[volunteer].reason == explain.DECLINED


def test_the_places_reasons_are_in_dutch_and_french(
    citizen, community, shopping, volunteer, second_volunteer
):
    team = post_team_request(citizen, community, shopping, 2)
    services.assignment_propose(help_request=team, volunteer=volunteer, km=0.7)
    services.assignment_propose(help_request=team, volunteer=second_volunteer, km=2.0)
    third = make_volunteer("third", community, [shopping], LADEUZEPLEIN)
    with translation.override("nl"):
        rows = rows_of(team)
        assert rows[volunteer].why == "Heeft een van de 2 plaatsen"
        assert rows[third].why == "Alle 2 plaatsen zijn ingenomen of aan andere vrijwilligers gevraagd"
        assert "al haar plaatsen ingenomen of aan anderen gevraagd" in reasons(third)
    with translation.override("fr"):
        rows = rows_of(team)
        assert rows[volunteer].why == "Occupe une de ses 2 places"
        assert rows[third].why == "Ses 2 places sont toutes prises ou demandées à d\u2019autres bénévoles"
        assert "a toutes ses places prises ou demandées à d\u2019autres" in reasons(third)


def test_the_coordinators_page_shows_who_holds_a_place(
    client, citizen, community, shopping, coordinator, volunteer, second_volunteer
):
    team = post_team_request(citizen, community, shopping, 3)
    services.assignment_propose(help_request=team, volunteer=volunteer, km=0.7)
    sign_in(client, coordinator)
    page = client.get(reverse("coordinator-request", args=[team.pk])).content.decode()
    assert f'data-volunteer-row="{volunteer.pk}" data-reason="has_place"' in page
    assert "Holds one of its 3 places" in page
    assert f'data-volunteer-row="{second_volunteer.pk}" data-reason="next_run"' in page
