"""Tasks for several volunteers: one place per volunteer, each with its own assignment; the
request is accepted only once every place is, and a partly staffed one goes on being matched."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from mutualaid.aid import services
from mutualaid.aid.models import Assignment, AuditEntry, HelpRequest, StatusChange
from mutualaid.aid.services.staffing import SHORT_STAFFED_NOTICE
from mutualaid.aid.states import InvalidTransition
from notifications.models import OutgoingMessage
from tests.conftest import KESSEL_LO, LADEUZEPLEIN, NAAMSESTRAAT, make_user, make_volunteer


def post_team_request(
    citizen, community, category, people_needed: int, *, days_ahead: int = 2
) -> HelpRequest:
    return services.help_request_create(
        community=community,
        requester=citizen,
        created_by=citizen,
        category=category,
        description="Carry a wardrobe up the stairs.",
        urgency=1,
        location=NAAMSESTRAAT,
        time_windows=[(timezone.localdate() + dt.timedelta(days=days_ahead), 1)],
        people_needed=people_needed,
    )


@pytest.fixture
def team(community, shopping):
    return [
        make_volunteer(f"helper{index}", community, [shopping], LADEUZEPLEIN if index % 2 else KESSEL_LO)
        for index in range(4)
    ]


@pytest.fixture
def wardrobe(citizen, community, shopping):
    return post_team_request(citizen, community, shopping, 3)


def request_history(help_request) -> list[tuple[str, str]]:
    changes = StatusChange.objects.filter(help_request=help_request, subject="request").order_by("at", "pk")
    return [(change.from_status, change.to_status) for change in changes]


def propose_all(help_request, volunteers) -> list[Assignment]:
    return [
        services.assignment_propose(help_request=help_request, volunteer=volunteer, km=1.0)
        for volunteer in volunteers
    ]


def status_of(help_request) -> str:
    help_request.refresh_from_db()
    return help_request.status


def test_a_request_asks_for_one_volunteer_unless_told_otherwise(help_request):
    assert help_request.people_needed == 1


@pytest.mark.parametrize("people_needed", [0, 7])
def test_a_request_for_no_one_or_too_many_is_refused_with_a_reason(
    citizen, community, shopping, people_needed
):
    with pytest.raises(ValidationError) as raised:
        post_team_request(citizen, community, shopping, people_needed)
    assert "people_needed" in raised.value.message_dict


def test_the_request_is_accepted_only_once_every_place_is(wardrobe, team):
    first, second, third = propose_all(wardrobe, team[:3])
    assert status_of(wardrobe) == "proposed"

    services.assignment_accept(assignment=first, volunteer=team[0])
    services.assignment_accept(assignment=second, volunteer=team[1])
    assert status_of(wardrobe) == "proposed"
    assert wardrobe.places_accepted() == 2

    services.assignment_accept(assignment=third, volunteer=team[2])
    assert status_of(wardrobe) == "accepted"
    # Each place's answer is on its assignment's record; the request changed twice only.
    assert request_history(wardrobe) == [("", "open"), ("open", "proposed"), ("proposed", "accepted")]
    accepted = StatusChange.objects.filter(help_request=wardrobe, subject="assignment", to_status="accepted")
    assert accepted.count() == 3


def test_no_more_proposals_than_places_and_no_volunteer_twice(wardrobe, team):
    propose_all(wardrobe, team[:2])
    with pytest.raises(services.TaskActionError):
        services.assignment_propose(help_request=wardrobe, volunteer=team[0], km=1.0)
    services.assignment_propose(help_request=wardrobe, volunteer=team[2], km=1.0)
    with pytest.raises(InvalidTransition):
        services.assignment_propose(help_request=wardrobe, volunteer=team[3], km=1.0)
    assert Assignment.objects.filter(help_request=wardrobe, status="proposed").count() == 3


def test_a_decline_opens_that_place_only(wardrobe, team):
    first, second = propose_all(wardrobe, team[:2])
    services.assignment_accept(assignment=first, volunteer=team[0])

    services.assignment_decline(assignment=second, volunteer=team[1], reason="away")

    assert status_of(wardrobe) == "proposed"  # partly staffed, matched again for the rest
    services.assignment_propose(help_request=wardrobe, volunteer=team[2], km=1.0)


def test_the_last_place_declined_opens_the_request_again(wardrobe, team):
    (only,) = propose_all(wardrobe, team[:1])
    services.assignment_decline(assignment=only, volunteer=team[0])
    assert status_of(wardrobe) == "open"
    assert request_history(wardrobe)[-1] == ("proposed", "open")


def test_a_volunteer_giving_back_their_place_leaves_the_others_coming(wardrobe, team):
    assignments = propose_all(wardrobe, team[:3])
    for assignment, volunteer in zip(assignments, team, strict=False):
        services.assignment_accept(assignment=assignment, volunteer=volunteer)
    assert status_of(wardrobe) == "accepted"

    services.assignment_give_back(assignment=assignments[1], volunteer=team[1])

    assert status_of(wardrobe) == "proposed"
    assert request_history(wardrobe)[-1] == ("accepted", "proposed")
    assert [assignment.volunteer for assignment in wardrobe.coming()] == [team[0], team[2]]


def test_the_request_is_done_when_everyone_who_came_has_done_their_part(citizen, community, shopping, team):
    pair = post_team_request(citizen, community, shopping, 2)
    first, second = propose_all(pair, team[:2])
    services.assignment_accept(assignment=first, volunteer=team[0])
    services.assignment_accept(assignment=second, volunteer=team[1])

    services.assignment_complete(assignment=first, volunteer=team[0])
    assert status_of(pair) == "accepted"
    # The citizen is told "done" once, when the whole team is.
    assert not OutgoingMessage.objects.filter(recipient=citizen, subject__icontains="done").exists()

    services.assignment_complete(assignment=second, volunteer=team[1])
    assert status_of(pair) == "done"


def test_a_partly_staffed_task_done_by_those_who_came_is_done_and_asks_no_one_more(wardrobe, team):
    first, second = propose_all(wardrobe, team[:2])
    services.assignment_accept(assignment=first, volunteer=team[0])

    services.assignment_complete(assignment=first, volunteer=team[0])

    assert status_of(wardrobe) == "done"
    second.refresh_from_db()
    assert second.status == "cancelled"
    assert request_history(wardrobe)[-1] == ("proposed", "done")


def test_a_place_done_still_counts_as_filled(wardrobe, team):
    assignments = propose_all(wardrobe, team[:3])
    for assignment, volunteer in zip(assignments, team, strict=False):
        services.assignment_accept(assignment=assignment, volunteer=volunteer)
    services.assignment_complete(assignment=assignments[0], volunteer=team[0])

    services.assignment_give_back(assignment=assignments[1], volunteer=team[1])

    # One place open again (not two): the first volunteer did theirs.
    services.assignment_propose(help_request=wardrobe, volunteer=team[3], km=1.0)
    with pytest.raises(InvalidTransition):
        services.assignment_propose(
            help_request=wardrobe, volunteer=make_volunteer("late", wardrobe.community, [], KESSEL_LO), km=1
        )


def test_cancelling_releases_every_place(wardrobe, team, citizen):
    first, _second = propose_all(wardrobe, team[:2])
    services.assignment_accept(assignment=first, volunteer=team[0])

    services.help_request_cancel(help_request=wardrobe, actor=citizen)

    assert set(Assignment.objects.filter(help_request=wardrobe).values_list("status", flat=True)) == {
        "cancelled"
    }


def test_a_partly_staffed_task_does_not_expire_when_its_time_passes(wardrobe, team):
    first, _second = propose_all(wardrobe, team[:2])
    services.assignment_accept(assignment=first, volunteer=team[0])
    later = timezone.now() + dt.timedelta(days=4)

    assert services.expire_requests_whose_time_passed(now=later) == 0
    assert status_of(wardrobe) == "proposed"


def test_once_someone_accepted_the_citizen_leaves_a_note_instead_of_changing_it(
    wardrobe, team, citizen, shopping
):
    (first,) = propose_all(wardrobe, team[:1])
    services.assignment_accept(assignment=first, volunteer=team[0])

    with pytest.raises(services.TaskActionError):
        services.help_request_edit(
            help_request=wardrobe,
            actor=citizen,
            category=shopping,
            description="Two wardrobes",
            urgency=1,
            location=NAAMSESTRAAT,
            any_time=True,
        )
    services.help_request_add_note(help_request=wardrobe, actor=citizen, note="Third floor, no lift")
    wardrobe.refresh_from_db()
    assert wardrobe.note_for_volunteer == "Third floor, no lift"


def test_a_coordinator_gives_the_open_places_of_a_partly_staffed_task(wardrobe, team, coordinator):
    (first,) = propose_all(wardrobe, team[:1])
    services.assignment_accept(assignment=first, volunteer=team[0])

    services.assignment_assign_by_coordinator(
        help_request=wardrobe,
        volunteer=team[1],
        coordinator=coordinator,
        reason="neighbour",
        agreed_by_phone=True,
    )
    services.assignment_assign_by_coordinator(
        help_request=wardrobe,
        volunteer=team[2],
        coordinator=coordinator,
        reason="neighbour",
        agreed_by_phone=True,
    )

    assert status_of(wardrobe) == "accepted"
    with pytest.raises(services.TaskActionError, match="Every place"):
        services.assignment_assign_by_coordinator(
            help_request=wardrobe, volunteer=team[3], coordinator=coordinator, reason="one more"
        )


def test_a_single_volunteer_request_is_still_given_once(help_request, team, coordinator):
    services.assignment_assign_by_coordinator(
        help_request=help_request, volunteer=team[0], coordinator=coordinator, reason="x"
    )
    with pytest.raises(services.TaskActionError, match="Unassign the current volunteer first"):
        services.assignment_assign_by_coordinator(
            help_request=help_request, volunteer=team[1], coordinator=coordinator, reason="x"
        )


# The database's own guard


def live_assignment_for(help_request, volunteer) -> Assignment:
    return Assignment.objects.create(
        help_request=help_request,
        volunteer=volunteer,
        km=1.0,
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )


def test_the_database_holds_a_request_to_its_places(wardrobe, team):
    for volunteer in team[:3]:
        live_assignment_for(wardrobe, volunteer)
    with pytest.raises(IntegrityError, match="assignment_within_request_places"), transaction.atomic():
        live_assignment_for(wardrobe, team[3])


def test_the_database_refuses_a_second_live_place_for_one_volunteer(wardrobe, team):
    live_assignment_for(wardrobe, team[0])
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(
            help_request=wardrobe,
            volunteer=team[0],
            km=1.0,
            expires_at=timezone.now() + dt.timedelta(hours=1),
            status="accepted",
        )


# Short of people a day before


def the_day_before(help_request) -> dt.datetime:
    first = help_request.time_windows.order_by("date", "part_of_day").first()
    return first.starts_at() - SHORT_STAFFED_NOTICE + dt.timedelta(minutes=5)


def test_a_task_still_short_a_day_before_is_told_to_the_citizen_and_the_coordinators_once(
    wardrobe, team, citizen, coordinator
):
    for person in (citizen, coordinator):
        person.email, person.preferred_language = f"{person.username}@example.org", "en"
        person.save()
    (first,) = propose_all(wardrobe, team[:1])
    services.assignment_accept(assignment=first, volunteer=team[0])
    now = the_day_before(wardrobe)

    assert services.tell_short_staffed_requests(now=now) == 1
    assert services.tell_short_staffed_requests(now=now + dt.timedelta(hours=1)) == 0

    told = OutgoingMessage.objects.filter(subject__startswith="Still short of volunteers")
    assert sorted(told.values_list("recipient__username", flat=True)) == ["citizen", "coordinator"]
    assert "So far 1 volunteer of the 3 needed has accepted" in told.get(recipient=citizen).body
    assert (
        AuditEntry.objects.filter(action="short_staffed", subject=f"help_request:{wardrobe.pk}").count() == 1
    )


def test_no_one_is_told_earlier_than_a_day_before_nor_of_a_full_team(citizen, community, shopping, team):
    early = post_team_request(citizen, community, shopping, 2, days_ahead=4)
    full = post_team_request(citizen, community, shopping, 2)
    for assignment, volunteer in zip(propose_all(full, team[:2]), team, strict=False):
        services.assignment_accept(assignment=assignment, volunteer=volunteer)
    now = the_day_before(full)

    assert services.tell_short_staffed_requests(now=now) == 0
    early.refresh_from_db()
    assert early.short_notice_sent_at is None


def test_a_single_volunteer_request_is_never_told_short(help_request):
    now = the_day_before(help_request)
    assert services.tell_short_staffed_requests(now=now) == 0


def test_a_phoned_in_task_short_a_day_before_reaches_the_coordinators(community, shopping, coordinator, team):
    coordinator.email, coordinator.preferred_language = "coordinator@example.org", "en"
    coordinator.save()
    phoned = services.help_request_create(
        community=community,
        requester=None,
        created_by=make_user("desk", community, is_coordinator=True),
        category=shopping,
        description="Move a bed",
        urgency=1,
        location=NAAMSESTRAAT,
        time_windows=[(timezone.localdate() + dt.timedelta(days=2), 1)],
        contact_name="Maria",
        contact_phone="016 12 34 56",
        people_needed=2,
    )

    assert services.tell_short_staffed_requests(now=the_day_before(phoned)) == 1
    assert OutgoingMessage.objects.filter(recipient=coordinator, subject__startswith="Still short").exists()


def test_a_task_posted_shortly_before_it_starts_gets_time_for_matching_first(citizen, community, shopping):
    soon = post_team_request(citizen, community, shopping, 2)
    first_start = soon.time_windows.get().starts_at()
    posted = first_start - dt.timedelta(hours=21)  # less than a day ahead from the start
    HelpRequest.objects.filter(pk=soon.pk).update(created_at=posted)

    assert services.tell_short_staffed_requests(now=posted + dt.timedelta(minutes=10)) == 0
    assert services.tell_short_staffed_requests(now=posted + dt.timedelta(hours=3)) == 1
