"""Why a volunteer got no proposal: the inbox's advice and the coordinator's table."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from matching import explain
from matching.services import propose_assignments
from mutualaid.aid import services
from mutualaid.aid.models import Category
from tests.conftest import KESSEL_LO, LADEUZEPLEIN, make_volunteer, offer_of, post_request, sign_in

TOMORROW_MORNING_SLOT = (timezone.localdate() + dt.timedelta(days=1)).weekday() * 3


def reasons(volunteer) -> str:
    return " ".join(explain.why_no_proposal(volunteer).lines)


def test_with_no_open_requests_the_volunteer_is_told_nothing_is_wrong(community, shopping, volunteer):
    assert "no open requests" in reasons(volunteer)


def test_a_request_beyond_the_radius_suggests_widening_it_to_its_distance(citizen, community, shopping):
    volunteer = make_volunteer("near-only", community, [shopping], KESSEL_LO, max_km=1.0)
    post_request(citizen, community, shopping)  # about 2.6 km from Kessel-Lo
    text = reasons(volunteer)
    assert "further than your 1 km" in text and "widen your radius" in text
    assert "2.6 km" in text or "2.5 km" in text or "2.7 km" in text


def test_a_request_at_a_time_the_volunteer_is_not_free_names_the_time_to_add(citizen, community, shopping):
    other_slot = (TOMORROW_MORNING_SLOT + 1) % 21
    volunteer = make_volunteer(
        "busy-mornings", community, [shopping], LADEUZEPLEIN, availability=[other_slot]
    )
    post_request(citizen, community, shopping)
    text = reasons(volunteer)
    weekday = (timezone.localdate() + dt.timedelta(days=1)).strftime("%A")
    assert "add a time" in text and f"{weekday} morning" in text


def test_a_request_for_help_not_offered_names_the_kind_of_help(citizen, community, shopping, pharmacy):
    volunteer = make_volunteer("shopper", community, [shopping], LADEUZEPLEIN)
    post_request(citizen, community, pharmacy)
    assert "help you do not offer (Pharmacy)" in reasons(volunteer)


def test_a_request_needing_vetting_tells_the_volunteer_to_ask_a_coordinator(citizen, community):
    home_visit = Category.objects.create(
        community=community, slug="visit", name="Visit", requires_vetting=True
    )
    volunteer = make_volunteer("visitor", community, [home_visit], LADEUZEPLEIN)
    post_request(citizen, community, home_visit)
    assert "needs a vetted volunteer" in reasons(volunteer)


def test_a_request_given_to_a_nearer_volunteer_is_explained_as_such(
    citizen, community, shopping, volunteer, second_volunteer
):
    post_request(citizen, community, shopping)
    propose_assignments(community=community)
    assert "went to a volunteer nearer to it or who has helped less lately" in reasons(second_volunteer)


def test_a_volunteer_at_capacity_is_told_to_raise_tasks_at_once(citizen, community, shopping, volunteer):
    services.assignment_propose(
        help_request=post_request(citizen, community, shopping), volunteer=volunteer, km=1
    )
    post_request(citizen, community, shopping)
    assert "raise “tasks at once”" in reasons(volunteer)


def test_a_paused_volunteer_is_told_to_resume(citizen, community, shopping, volunteer):
    services.volunteer_offer_set_paused(offer=offer_of(volunteer), paused=True)
    post_request(citizen, community, shopping)
    assert "paused" in reasons(volunteer)


def test_an_idle_volunteers_inbox_says_why_and_what_would_help(client, citizen, community, shopping):
    volunteer = make_volunteer("near-only", community, [shopping], KESSEL_LO, max_km=1.0)
    post_request(citizen, community, shopping)
    sign_in(client, volunteer)
    page = client.get(reverse("inbox")).content.decode()
    assert "Why no proposal yet" in page and "widen your radius" in page


def test_the_inbox_advice_is_in_the_volunteers_language(client, citizen, community, shopping):
    volunteer = make_volunteer("near-only", community, [shopping], KESSEL_LO, max_km=1.0)
    post_request(citizen, community, shopping)
    sign_in(client, volunteer)
    page = client.get(reverse("inbox"), headers={"accept-language": "nl"}).content.decode()
    assert "Waarom nog geen voorstel" in page


def test_a_volunteer_with_a_proposal_gets_no_idle_advice(client, proposal, volunteer):
    sign_in(client, volunteer)
    assert "Why no proposal yet" not in client.get(reverse("inbox")).content.decode()


@pytest.mark.parametrize("status", ["open", "proposed"])
def test_the_coordinators_table_shows_each_volunteers_load_and_why_not_chosen(
    client, citizen, community, shopping, coordinator, volunteer, second_volunteer, status
):
    busy = make_volunteer("busy", community, [shopping], LADEUZEPLEIN)
    services.assignment_propose(help_request=post_request(citizen, community, shopping), volunteer=busy, km=1)
    help_request = post_request(citizen, community, shopping)
    if status == "proposed":
        services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    rows = {row.volunteer: row for row in explain.volunteers_for_request(help_request)}
    assert rows[busy].reason == explain.AT_CAPACITY and rows[busy].pending_proposals == 1
    if status == "proposed":
        assert rows[volunteer].reason == explain.CHOSEN
        assert rows[second_volunteer].reason == explain.GIVEN_TO_ANOTHER
        assert "nearer" in rows[second_volunteer].why
    else:
        assert rows[volunteer].reason == explain.NEXT_RUN
    sign_in(client, coordinator)
    page = client.get(reverse("coordinator-request", args=[help_request.pk])).content.decode()
    assert "Why not chosen" in page and "Proposals waiting" in page
    assert "At capacity: 1 of 1 tasks" in page


def test_a_part_of_today_that_is_over_no_longer_counts_as_a_time_to_help(
    citizen, community, shopping, volunteer
):
    help_request = post_request(citizen, community, shopping)
    today = timezone.localdate()
    help_request.time_windows.update(date=today, part_of_day=0)  # this morning
    morning = timezone.make_aware(dt.datetime.combine(today, dt.time(9)))
    afternoon = timezone.make_aware(dt.datetime.combine(today, dt.time(13)))
    assert "fits your offer" in " ".join(explain.why_no_proposal(volunteer, now=morning).lines)
    assert "fits your offer" not in " ".join(explain.why_no_proposal(volunteer, now=afternoon).lines)


def test_a_suspended_volunteer_is_shown_as_suspended_and_gets_no_advice(help_request, volunteer, coordinator):
    services.volunteer_suspend(offer=offer_of(volunteer), coordinator=coordinator, reason="A concern")

    rows = {row.volunteer.pk: row for row in explain.volunteers_for_request(help_request)}
    assert rows[volunteer.pk].reason == explain.SUSPENDED
    assert explain.why_no_proposal(volunteer).lines == []
