""" "Available now": a volunteer's switch that opens the next hours to urgent requests only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from matching.availability import NOW_SLOT_OFFSET, request_slots, volunteer_slots, weekly_slots_between
from matching.engine import parse_instance, solve
from matching.services import load_snapshot, request_key, volunteer_key
from mutualaid.aid import services
from mutualaid.aid.models import Urgency
from tests.conftest import LADEUZEPLEIN, PASSWORD, make_volunteer, offer_of

TOMORROW = timezone.localdate() + dt.timedelta(days=1)
TOMORROW_MORNING_SLOT = TOMORROW.weekday() * 3 + 0


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), timezone.get_current_timezone())


def request_for_tomorrow_morning(citizen, community, category, urgency: int):
    return services.help_request_create(
        community=community,
        requester=citizen,
        created_by=citizen,
        category=category,
        description="Pick up my prescription, please.",
        urgency=urgency,
        location=LADEUZEPLEIN,
        time_windows=[(TOMORROW, 0)],
    )


def proposed_pairs(snapshot) -> set[tuple[str, str]]:
    result = solve(parse_instance(snapshot.instance))
    return {(pair.request, pair.volunteer) for pair in result.assignments}


def test_the_next_hours_cover_the_parts_of_days_they_overlap():
    assert weekly_slots_between(local(TOMORROW, 10), local(TOMORROW, 13)) == {
        TOMORROW_MORNING_SLOT,
        TOMORROW_MORNING_SLOT + 1,
    }
    assert weekly_slots_between(local(TOMORROW, 12), local(TOMORROW, 15)) == {TOMORROW_MORNING_SLOT + 1}


def test_late_at_night_the_next_hours_open_no_part_of_a_day():
    assert weekly_slots_between(local(TOMORROW, 22, 30), local(TOMORROW, 23, 59)) == set()


def test_a_switch_that_ran_out_adds_nothing():
    now = local(TOMORROW, 10)
    assert volunteer_slots([4], now - dt.timedelta(minutes=1), now) == [4]
    assert volunteer_slots([4], None, now) == [4]


def test_only_urgent_requests_are_open_to_volunteers_available_now():
    assert request_slots([3], Urgency.THIS_WEEK) == [3]
    assert request_slots([3], Urgency.SOON) == [3]
    assert request_slots([3], Urgency.TODAY) == [3, NOW_SLOT_OFFSET + 3]


@pytest.mark.parametrize(("urgency", "matched"), [(Urgency.TODAY, True), (Urgency.THIS_WEEK, False)])
def test_a_volunteer_free_only_now_gets_an_urgent_request_but_not_an_ordinary_one(
    citizen, community, pharmacy, urgency, matched
):
    # Free on no day of the weekly grid, but switched on at 9:00 for the next hours.
    helper = make_volunteer("helper", community, [pharmacy], LADEUZEPLEIN, availability=[])
    offer = offer_of(helper)
    services.volunteer_offer_set_available_now(offer=offer, available=True, now=local(TOMORROW, 9))
    help_request = request_for_tomorrow_morning(citizen, community, pharmacy, urgency)

    snapshot = load_snapshot(community, now=local(TOMORROW, 9, 30))

    pair = (request_key(help_request.pk), volunteer_key(helper.pk))
    assert (pair in proposed_pairs(snapshot)) is matched


def test_once_the_hours_are_over_the_volunteer_is_not_free_now_any_more(
    citizen, community, pharmacy, settings
):
    settings.AVAILABLE_NOW_HOURS = 1
    helper = make_volunteer("helper", community, [pharmacy], LADEUZEPLEIN, availability=[])
    services.volunteer_offer_set_available_now(offer=offer_of(helper), available=True, now=local(TOMORROW, 8))
    help_request = request_for_tomorrow_morning(citizen, community, pharmacy, Urgency.TODAY)

    snapshot = load_snapshot(community, now=local(TOMORROW, 9, 30))

    assert (request_key(help_request.pk), volunteer_key(helper.pk)) not in proposed_pairs(snapshot)


def test_switching_it_off_ends_it_at_once(citizen, community, pharmacy):
    helper = make_volunteer("helper", community, [pharmacy], LADEUZEPLEIN, availability=[])
    offer = services.volunteer_offer_set_available_now(offer=offer_of(helper), available=True)
    assert offer.is_available_now()
    offer = services.volunteer_offer_set_available_now(offer=offer, available=False)
    assert offer.available_now_until is None
    assert not offer.is_available_now()


def test_the_inbox_switch_turns_it_on_for_the_set_hours_and_says_until_when(
    client, community, pharmacy, settings
):
    settings.AVAILABLE_NOW_HOURS = 2
    helper = make_volunteer("helper", community, [pharmacy], LADEUZEPLEIN)
    client.login(username=helper.username, password=PASSWORD)
    before = timezone.now()

    response = client.post(reverse("offer-available-now"), {"available": "1"}, follow=True)

    until = offer_of(helper).available_now_until
    assert dt.timedelta(hours=2) <= until - before < dt.timedelta(hours=2, minutes=1)
    page = response.content.decode()
    assert "urgent requests can reach you until" in page
    assert timezone.localtime(until).strftime("%H:%M") in page


def test_the_inbox_switch_turns_it_off(client, community, pharmacy):
    helper = make_volunteer("helper", community, [pharmacy], LADEUZEPLEIN)
    services.volunteer_offer_set_available_now(offer=offer_of(helper), available=True)
    client.login(username=helper.username, password=PASSWORD)

    response = client.post(reverse("offer-available-now"), {"available": "0"}, follow=True)

    assert offer_of(helper).available_now_until is None
    assert "I can help in the next hours" in response.content.decode()
