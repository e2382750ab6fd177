"""An urgent request for one volunteer is proposed to its best few volunteers at once
(MATCHING_URGENT_ASK_AT_ONCE): the first to accept takes it, the others' proposals are
withdrawn at once and they are told."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from matching.services import (
    ask_beside_silent_proposals,
    communities_with_silent_requests,
    propose_assignments,
    run_due_matching,
)
from mutualaid.aid import services
from mutualaid.aid.models import Assignment, StatusChange, Urgency
from mutualaid.aid.states import TAKEN_BY_ANOTHER
from tests.aid.test_several_volunteers import live_assignment_for
from tests.conftest import (
    KESSEL_LO,
    LADEUZEPLEIN,
    NAAMSESTRAAT,
    Location,
    make_volunteer,
    post_request,
    sign_in,
)

# Nearer and nearer to Naamsestraat, where the citizen lives.
WILSELE = Location(50.9100, 4.7000, "Wilselsesteenweg 1, 3012 Wilsele", "Wilsele")
FAR_AWAY = Location(50.9500, 4.8500, "Dorpsstraat 1, 3150 Haacht", "Haacht")


@pytest.fixture
def neighbours(community, shopping):
    """Four volunteers able to help, nearest first."""
    return [
        make_volunteer("nearest", community, [shopping], NAAMSESTRAAT),
        make_volunteer("second", community, [shopping], LADEUZEPLEIN),
        make_volunteer("third", community, [shopping], KESSEL_LO),
        make_volunteer("fourth", community, [shopping], WILSELE, max_km=10),
    ]


@pytest.fixture
def urgent(citizen, community, shopping):
    return post_request(citizen, community, shopping, urgency=Urgency.TODAY)


def asked(help_request) -> list[Assignment]:
    return list(help_request.assignments.filter(status="proposed").order_by("km"))


def test_an_urgent_request_is_proposed_to_its_three_nearest_volunteers_at_once(urgent, neighbours):
    outcome = propose_assignments(community=urgent.community)

    proposals = asked(urgent)
    assert [proposal.volunteer for proposal in proposals] == neighbours[:3]
    assert outcome.proposed == 3
    urgent.refresh_from_db()
    assert (urgent.status, urgent.asked_at_once) == ("proposed", 3)
    # The request's record says "proposed" once, however many were asked.
    assert urgent.status_changes.filter(subject="request", to_status="proposed").count() == 1


def test_a_request_that_is_not_urgent_is_proposed_to_one_volunteer(citizen, community, shopping, neighbours):
    help_request = post_request(citizen, community, shopping, urgency=Urgency.THIS_WEEK)

    propose_assignments(community=community)

    assert [proposal.volunteer for proposal in asked(help_request)] == neighbours[:1]


def test_asking_one_at_a_time_is_a_setting(urgent, neighbours, settings):
    settings.MATCHING_URGENT_ASK_AT_ONCE = 1

    propose_assignments(community=urgent.community)

    assert [proposal.volunteer for proposal in asked(urgent)] == neighbours[:1]


def test_a_volunteer_whose_capacity_this_run_used_up_is_not_asked_beside(
    citizen, community, shopping, neighbours
):
    first = post_request(citizen, community, shopping, urgency=Urgency.TODAY)
    second = post_request(citizen, community, shopping, urgency=Urgency.TODAY)

    propose_assignments(community=community)

    # Four volunteers of capacity 1: both requests get their own; two are left to ask beside.
    load = {volunteer.pk: 0 for volunteer in neighbours}
    for proposal in Assignment.objects.filter(status="proposed"):
        load[proposal.volunteer_id] += 1
    assert set(load.values()) == {1}
    assert len(asked(first)) + len(asked(second)) == 4
    assert min(len(asked(first)), len(asked(second))) >= 1


def test_a_volunteer_out_of_reach_is_never_asked_beside(urgent, community, shopping):
    near = make_volunteer("near", community, [shopping], LADEUZEPLEIN)
    make_volunteer("far", community, [shopping], FAR_AWAY, max_km=3)

    propose_assignments(community=community)

    assert [proposal.volunteer for proposal in asked(urgent)] == [near]
    urgent.refresh_from_db()
    assert urgent.asked_at_once == 1


def test_the_first_to_accept_takes_it_and_the_others_are_told_at_once(urgent, neighbours, monkeypatch):
    propose_assignments(community=urgent.community)
    first, second, third = asked(urgent)
    live_events = []
    monkeypatch.setattr("notifications.dispatch.publish_task_changes", live_events.extend)

    services.assignment_accept(assignment=second, volunteer=second.volunteer)

    urgent.refresh_from_db()
    assert urgent.status == "accepted"
    for other in (first, third):
        other.refresh_from_db()
        assert other.status == "cancelled"
        assert other.status_changes.filter(reason=TAKEN_BY_ANOTHER, actor=None).exists()
    withdrawn = [groups for groups, event in live_events if event["change"] == "withdrawn"]
    assert withdrawn and {f"person-{first.volunteer_id}", f"person-{third.volunteer_id}"} <= set(withdrawn[0])
    with pytest.raises(services.TaskActionError, match="Another volunteer accepted this task first"):
        services.assignment_accept(assignment=first, volunteer=first.volunteer)
    assert urgent.assignments.filter(status="accepted").get() == second


def test_one_declining_leaves_the_others_asked_and_matching_asks_no_one_more(urgent, neighbours):
    propose_assignments(community=urgent.community)
    first, second, third = asked(urgent)

    services.assignment_decline(assignment=first, volunteer=first.volunteer, reason="away")
    propose_assignments(community=urgent.community)

    urgent.refresh_from_db()
    assert urgent.status == "proposed"
    assert asked(urgent) == [second, third]


def test_when_everyone_asked_declines_matching_asks_the_next(urgent, neighbours):
    propose_assignments(community=urgent.community)
    for proposal in asked(urgent):
        services.assignment_decline(assignment=proposal, volunteer=proposal.volunteer, reason="away")
    urgent.refresh_from_db()
    assert urgent.status == "open"

    propose_assignments(community=urgent.community)

    assert [proposal.volunteer for proposal in asked(urgent)] == [neighbours[3]]


def test_a_coordinator_giving_the_task_to_someone_else_ends_every_ask(urgent, neighbours, coordinator):
    propose_assignments(community=urgent.community)
    first, second, third = asked(urgent)

    services.assignment_reassign_by_coordinator(
        assignment=first, volunteer=neighbours[3], coordinator=coordinator, reason="she knows her"
    )

    assert [proposal.volunteer for proposal in asked(urgent)] == [neighbours[3]]
    for other in (second, third):
        other.refresh_from_db()
        assert other.status == "cancelled"


def test_the_database_holds_an_urgent_request_to_the_volunteers_it_asks_at_once(urgent, neighbours):
    propose_assignments(community=urgent.community)

    with pytest.raises(IntegrityError, match="assignment_within_request_places"), transaction.atomic():
        live_assignment_for(urgent, neighbours[3])


def test_the_database_refuses_a_second_acceptance_of_one_place(urgent, neighbours):
    propose_assignments(community=urgent.community)
    first, second, _third = asked(urgent)
    Assignment.objects.filter(pk=first.pk).update(status="accepted")

    with pytest.raises(IntegrityError, match="assignment_within_request_places"), transaction.atomic():
        Assignment.objects.filter(pk=second.pk).update(status="accepted")


def test_a_request_asked_of_one_volunteer_takes_no_second_proposal_in_the_database(
    citizen, community, shopping
):
    help_request = post_request(citizen, community, shopping)
    volunteers = [make_volunteer(f"v{index}", community, [shopping], LADEUZEPLEIN) for index in range(2)]
    live_assignment_for(help_request, volunteers[0])

    with pytest.raises(IntegrityError, match="assignment_within_request_places"), transaction.atomic():
        live_assignment_for(help_request, volunteers[1])


def test_the_volunteer_sees_that_others_are_asked_and_later_that_another_took_it(client, urgent, neighbours):
    propose_assignments(community=urgent.community)
    first, second, _third = asked(urgent)
    sign_in(client, first.volunteer)

    page = client.get(reverse("task-detail", args=[first.pk])).content.decode()
    assert "2 other volunteers are asked too: the first to accept takes it." in page

    services.assignment_accept(assignment=second, volunteer=second.volunteer)
    page = client.get(reverse("task-detail", args=[first.pk])).content.decode()
    assert "Another volunteer accepted first" in page
    inbox = client.get(reverse("inbox")).content.decode()
    assert "Another volunteer accepted first" in inbox


def test_the_history_of_an_urgent_request_records_every_ask_and_withdrawal(urgent, neighbours):
    propose_assignments(community=urgent.community)
    first, second, third = asked(urgent)
    services.assignment_accept(assignment=first, volunteer=first.volunteer)

    changes = StatusChange.objects.filter(help_request=urgent, subject="assignment")
    assert changes.filter(to_status="proposed").count() == 3
    assert changes.filter(to_status="accepted", assignment=first).count() == 1
    withdrawn = changes.filter(to_status="cancelled").values_list("assignment", flat=True)
    assert set(withdrawn) == {second.pk, third.pk}


def test_the_coordinator_sees_everyone_asked_and_can_take_one_ask_back(
    client, urgent, neighbours, coordinator
):
    propose_assignments(community=urgent.community)
    first, second, third = asked(urgent)
    sign_in(client, coordinator)

    page = client.get(reverse("coordinator-request", args=[urgent.pk])).content.decode()
    assert "Asked of 3 volunteers at once" in page
    for proposal in (first, second, third):
        assert f'name="assignment" value="{proposal.pk}"' in page

    client.post(
        reverse("coordinator-unassign", args=[urgent.pk]), {"assignment": second.pk, "reason": "she is ill"}
    )

    second.refresh_from_db()
    assert second.status == "cancelled"
    assert asked(urgent) == [first, third]


# Asked beside a volunteer who has not answered (MATCHING_ASK_ANOTHER_AFTER_HOURS)


@pytest.fixture
def weekly_shopping(citizen, community, shopping):
    return post_request(citizen, community, shopping, urgency=Urgency.THIS_WEEK)


def unanswered_for(help_request, hours: float) -> None:
    help_request.assignments.filter(status="proposed").update(
        proposed_at=timezone.now() - dt.timedelta(hours=hours)
    )


def test_a_request_whose_volunteer_has_not_answered_for_hours_is_proposed_to_the_next_too(
    weekly_shopping, neighbours
):
    propose_assignments(community=weekly_shopping.community)
    unanswered_for(weekly_shopping, 4.1)

    propose_assignments(community=weekly_shopping.community)

    assert [proposal.volunteer for proposal in asked(weekly_shopping)] == neighbours[:2]
    weekly_shopping.refresh_from_db()
    assert (weekly_shopping.status, weekly_shopping.asked_at_once) == ("proposed", 2)


def test_a_volunteer_who_may_still_answer_is_not_asked_beside(weekly_shopping, neighbours):
    propose_assignments(community=weekly_shopping.community)
    unanswered_for(weekly_shopping, 3.9)

    propose_assignments(community=weekly_shopping.community)

    assert [proposal.volunteer for proposal in asked(weekly_shopping)] == neighbours[:1]


def test_asking_beside_a_silent_volunteer_can_be_turned_off(weekly_shopping, neighbours, settings):
    settings.MATCHING_ASK_ANOTHER_AFTER_HOURS = 0
    propose_assignments(community=weekly_shopping.community)
    unanswered_for(weekly_shopping, 20)

    propose_assignments(community=weekly_shopping.community)

    assert len(asked(weekly_shopping)) == 1


def test_no_more_than_three_are_ever_asked_at_once(weekly_shopping, neighbours):
    for _ in range(4):
        propose_assignments(community=weekly_shopping.community)
        unanswered_for(weekly_shopping, 5)

    assert [proposal.volunteer for proposal in asked(weekly_shopping)] == neighbours[:3]


def test_the_silent_volunteer_may_still_accept_and_the_one_asked_beside_is_told(weekly_shopping, neighbours):
    propose_assignments(community=weekly_shopping.community)
    unanswered_for(weekly_shopping, 5)
    propose_assignments(community=weekly_shopping.community)
    first, beside = asked(weekly_shopping)

    services.assignment_accept(assignment=first, volunteer=first.volunteer)

    beside.refresh_from_db()
    assert beside.status == "cancelled"
    assert beside.status_changes.filter(reason=TAKEN_BY_ANOTHER).exists()


def test_the_worker_wakes_matching_once_for_a_request_that_fell_silent(weekly_shopping, neighbours):
    community = weekly_shopping.community
    propose_assignments(community=community)
    assert communities_with_silent_requests() == []

    unanswered_for(weekly_shopping, 5)
    assert communities_with_silent_requests() == [community.pk]
    assert ask_beside_silent_proposals() == 1
    run_due_matching()

    # The run saw it (and asked the next one): nothing more to wake for until that one is silent.
    assert len(asked(weekly_shopping)) == 2
    assert communities_with_silent_requests() == []


def test_the_proposal_email_says_others_are_asked_too(urgent, neighbours):
    from notifications.models import OutgoingMessage

    for volunteer in neighbours:
        volunteer.email = f"{volunteer.username}@example.org"
        volunteer.preferred_language = "en"
        volunteer.save(update_fields=["email", "preferred_language"])
    propose_assignments(community=urgent.community)

    bodies = list(OutgoingMessage.objects.filter(channel="email").values_list("body", flat=True))
    assert len(bodies) == 3
    assert all("2 other volunteers are asked too: the first to accept takes it." in body for body in bodies)
