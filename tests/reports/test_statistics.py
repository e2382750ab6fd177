"""The coordinator's figures and the public ones, checked against data the tests make."""

from __future__ import annotations

import datetime as dt

import pytest

from mutualaid.aid import services
from mutualaid.aid.models import Category, HelpRequest, StatusChange, VolunteerOffer
from mutualaid.aid.states import RequestStatus
from mutualaid.reports.statistics import (
    dashboard_counters,
    public_figures,
    unmatched_requests,
    volunteer_history,
    volunteer_shortage,
)
from mutualaid.reports.suppression import HIDDEN, SMALL
from tests.conftest import KESSEL_LO, NAAMSESTRAAT, make_volunteer, offer_of, post_request
from tests.reports.helpers import (
    HEVERLEE,
    WILSELE,
    accepted,
    done,
    local,
    requests_in,
    set_created,
    set_request_change_time,
)

TODAY = dt.date(2025, 3, 12)


@pytest.fixture
def busy_community(citizen, community, shopping, pharmacy, volunteer, second_volunteer):
    """2 open, 1 proposed, 1 accepted, 1 cancelled, 2 done (2.5 h and no hours given)."""
    VolunteerOffer.objects.filter(volunteer__in=[volunteer, second_volunteer]).update(capacity=3)
    post_request(citizen, community, shopping)
    post_request(citizen, community, pharmacy)
    services.assignment_propose(
        help_request=post_request(citizen, community, shopping), volunteer=second_volunteer, km=2.0
    )
    accepted(post_request(citizen, community, shopping), volunteer)
    services.help_request_cancel(help_request=post_request(citizen, community, shopping), actor=citizen)
    done(post_request(citizen, community, pharmacy), volunteer, hours=2.5)
    done(post_request(citizen, community, shopping), second_volunteer)
    return community


def test_dashboard_counts_requests_by_current_status(busy_community):
    counters = dashboard_counters(busy_community)
    assert (counters["open"], counters["proposed"], counters["accepted"]) == (2, 1, 1)


def test_dashboard_hours_and_tasks_count_a_task_without_hours_as_one_hour(busy_community):
    counters = dashboard_counters(busy_community)
    assert counters["tasks_done_total"] == 2
    assert counters["hours_given_total"] == 3.5


def test_dashboard_leaves_out_other_communities(busy_community, other_community, outsider_coordinator):
    gardening = Category.objects.create(community=other_community, slug="gardening", name="Gardening")
    herent_volunteer = make_volunteer("herent-volunteer", other_community, [gardening], KESSEL_LO)
    done(post_request(outsider_coordinator, other_community, gardening), herent_volunteer, hours=4)
    counters = dashboard_counters(busy_community)
    assert (counters["open"], counters["tasks_done_total"], counters["hours_given_total"]) == (2, 2, 3.5)
    assert counters["volunteers_available"] == 2


def test_volunteers_available_leaves_out_paused_offers(busy_community, second_volunteer):
    services.volunteer_offer_set_paused(offer=offer_of(second_volunteer), paused=True)
    assert dashboard_counters(busy_community)["volunteers_available"] == 1


def test_done_today_counts_requests_done_today_on_the_community_clock(
    citizen, community, shopping, volunteer, second_volunteer
):
    just_after_midnight = post_request(citizen, community, shopping)
    done(just_after_midnight, volunteer)
    set_request_change_time(just_after_midnight, RequestStatus.DONE, local(2025, 3, 12, 0, 5))
    late_yesterday = post_request(citizen, community, shopping)
    done(late_yesterday, second_volunteer)
    set_request_change_time(late_yesterday, RequestStatus.DONE, local(2025, 3, 11, 23, 55))

    assert dashboard_counters(community, today=TODAY)["done_today"] == 1
    assert dashboard_counters(community, today=TODAY - dt.timedelta(days=1))["done_today"] == 1
    assert dashboard_counters(community, today=TODAY + dt.timedelta(days=1))["done_today"] == 0


def _accepted_after(minutes: int, created: dt.datetime, citizen, community, category, volunteer):
    help_request = post_request(citizen, community, category)
    accepted(help_request, volunteer)
    set_created(help_request, created)
    set_request_change_time(help_request, RequestStatus.ACCEPTED, created + dt.timedelta(minutes=minutes))
    return help_request


def test_median_minutes_to_acceptance_over_the_last_30_days(citizen, community, shopping):
    created = local(2025, 3, 10, 9)
    for minutes, username in ((10, "a"), (20, "b"), (60, "c")):
        helper = make_volunteer(f"volunteer-{username}", community, [shopping], NAAMSESTRAAT)
        _accepted_after(minutes, created, citizen, community, shopping, helper)
    # Accepted 40 days before: outside the window, however slow it was.
    slow = make_volunteer("slow", community, [shopping], NAAMSESTRAAT)
    _accepted_after(1000, local(2025, 1, 31, 9), citizen, community, shopping, slow)

    assert dashboard_counters(community, today=TODAY)["median_minutes_to_acceptance"] == 20


def test_median_time_to_acceptance_uses_the_first_acceptance(citizen, community, shopping, volunteer):
    created = local(2025, 3, 10, 9)
    help_request = _accepted_after(30, created, citizen, community, shopping, volunteer)
    # Unassigned and accepted again much later: the first answer is what the requester waited for.
    again = StatusChange.objects.create(
        help_request=help_request, subject="request", from_status="proposed", to_status="accepted"
    )
    StatusChange.objects.filter(pk=again.pk).update(at=created + dt.timedelta(hours=9))

    assert dashboard_counters(community, today=TODAY)["median_minutes_to_acceptance"] == 30


def test_median_time_to_acceptance_is_none_without_acceptances(help_request, community):
    assert dashboard_counters(community)["median_minutes_to_acceptance"] is None


def test_dashboard_counters_take_five_queries_whatever_the_size(
    busy_community, citizen, shopping, volunteer, django_assert_max_num_queries
):
    with django_assert_max_num_queries(5):
        small = dashboard_counters(busy_community)
    for _ in range(5):
        done(post_request(citizen, busy_community, shopping), volunteer)
    with django_assert_max_num_queries(5):
        larger = dashboard_counters(busy_community)
    assert larger["tasks_done_total"] == small["tasks_done_total"] + 5


def test_unmatched_requests_are_the_open_ones_oldest_first_with_their_reason(
    citizen, community, shopping, pharmacy, volunteer
):
    newer = post_request(citizen, community, pharmacy)
    older = post_request(citizen, community, shopping)
    never_looked_at = post_request(citizen, community, shopping)
    services.assignment_propose(
        help_request=post_request(citizen, community, shopping), volunteer=volunteer, km=1
    )
    set_created(newer, local(2025, 3, 10, 9))
    set_created(older, local(2025, 3, 9, 9))
    set_created(never_looked_at, local(2025, 3, 11, 9))
    HelpRequest.objects.filter(pk=newer.pk).update(unassigned_reason="no_skill")
    HelpRequest.objects.filter(pk=older.pk).update(unassigned_reason="capacity")

    rows = unmatched_requests(community)

    assert [row.help_request.pk for row in rows] == [older.pk, newer.pk, never_looked_at.pk]
    assert [row.reason_code for row in rows] == ["capacity", "no_skill", ""]
    assert rows[0].reason_label == "All suitable volunteers are busy with other tasks"
    assert rows[1].reason_label == "No volunteer offers this kind of help"
    assert rows[2].reason_label == "Not looked at by matching yet"


def test_shortage_sets_open_requests_against_available_volunteers_per_category(
    citizen, community, shopping, pharmacy, volunteer, second_volunteer
):
    Category.objects.create(community=community, slug="lifts", name="Lifts", is_active=False)
    requests_in(3, citizen, community, shopping, NAAMSESTRAAT)
    post_request(citizen, community, pharmacy, location=KESSEL_LO)
    accepted(post_request(citizen, community, shopping), volunteer)  # not open: not counted
    services.volunteer_offer_set_paused(offer=offer_of(second_volunteer), paused=True)

    rows = {row.label: row for row in volunteer_shortage(community)["by_category"]}

    assert set(rows) == {"Shopping", "Pharmacy"}  # an inactive category without requests is left out
    assert (rows["Shopping"].open_requests, rows["Shopping"].available_volunteers, rows["Shopping"].gap) == (
        3,
        1,
        2,
    )
    assert (rows["Pharmacy"].open_requests, rows["Pharmacy"].available_volunteers, rows["Pharmacy"].gap) == (
        1,
        1,
        0,
    )


def test_shortage_per_neighbourhood_counts_volunteers_living_there(
    citizen, community, shopping, volunteer, second_volunteer, django_assert_max_num_queries
):
    requests_in(3, citizen, community, shopping, NAAMSESTRAAT)  # Leuven centrum
    requests_in(1, citizen, community, shopping, WILSELE)
    # volunteer lives in Leuven centrum, second_volunteer in Kessel-Lo

    with django_assert_max_num_queries(3):
        rows = volunteer_shortage(community)["by_neighbourhood"]

    assert [(row.label, row.open_requests, row.available_volunteers, row.gap) for row in rows] == [
        ("Leuven centrum", 3, 1, 2),
        ("Wilsele", 1, 0, 1),
        ("Kessel-Lo", 0, 1, -1),
    ]


def test_volunteer_history_counts_only_their_own_done_tasks(
    citizen, community, shopping, volunteer, second_volunteer
):
    done(post_request(citizen, community, shopping), volunteer, hours=2.5)
    done(post_request(citizen, community, shopping), volunteer)
    accepted(post_request(citizen, community, shopping), volunteer)  # not done yet
    done(post_request(citizen, community, shopping), second_volunteer, hours=3)

    assert volunteer_history(volunteer) == {"tasks_done": 2, "hours_given": 3.5}
    assert volunteer_history(citizen) == {"tasks_done": 0, "hours_given": 0.0}


class TestPublicFigures:
    def test_six_requests_in_a_neighbourhood_are_published_as_six(
        self, citizen, community, shopping, pharmacy
    ):
        requests_in(6, citizen, community, shopping, KESSEL_LO)
        figures = public_figures(community)
        assert figures["requests_by_neighbourhood"] == [{"label": "Kessel-Lo", "requests": 6}]
        assert figures["requests_by_category"] == [
            {"label": "Pharmacy", "requests": 0},
            {"label": "Shopping", "requests": 6},
        ]
        assert figures["requests_total"] == 6

    def test_four_requests_in_a_neighbourhood_are_published_as_less_than_five(
        self, citizen, community, shopping
    ):
        requests_in(4, citizen, community, shopping, WILSELE)
        requests_in(6, citizen, community, shopping, KESSEL_LO)
        requests_in(8, citizen, community, shopping, HEVERLEE)

        figures = public_figures(community)

        # Alphabetical; Kessel-Lo is hidden too, or 18 - 8 - 6 would give Wilsele away.
        assert figures["requests_by_neighbourhood"] == [
            {"label": "Heverlee", "requests": 8},
            {"label": "Kessel-Lo", "requests": HIDDEN},
            {"label": "Wilsele", "requests": SMALL},
        ]
        assert figures["requests_total"] == 18

    def test_a_table_that_would_expose_a_small_count_is_withheld(self, citizen, community, shopping):
        requests_in(3, citizen, community, shopping, WILSELE)
        figures = public_figures(community)
        assert figures["requests_by_neighbourhood"] is None
        assert figures["requests_total"] == SMALL

    def test_the_period_counts_requests_created_between_since_and_until(self, citizen, community, shopping):
        inside = requests_in(5, citizen, community, shopping, KESSEL_LO)
        before, after = requests_in(2, citizen, community, shopping, KESSEL_LO)
        for help_request in inside:
            set_created(help_request, local(2025, 2, 10))
        set_created(before, local(2025, 1, 31, 23, 59))
        set_created(after, local(2025, 3, 1, 0, 1))

        figures = public_figures(community, since=dt.date(2025, 2, 1), until=dt.date(2025, 3, 1))

        assert figures["requests_total"] == 5
        assert (figures["since"], figures["until"]) == (dt.date(2025, 2, 1), dt.date(2025, 3, 1))

    def test_helped_and_median_hours_to_help_from_creation_to_done(self, citizen, community, shopping):
        created = local(2025, 2, 10, 8)
        for hours in (1, 2, 3, 10, 20):
            helper = make_volunteer(f"helper-{hours}", community, [shopping], NAAMSESTRAAT)
            help_request = post_request(citizen, community, shopping)
            done(help_request, helper)
            set_created(help_request, created)
            set_request_change_time(help_request, RequestStatus.DONE, created + dt.timedelta(hours=hours))
        requests_in(2, citizen, community, shopping, NAAMSESTRAAT)  # not helped

        figures = public_figures(community, until=dt.date(2025, 3, 1))

        assert figures["requests_helped"] == 5
        assert figures["median_hours_to_help"] == 3

    def test_median_is_not_published_for_fewer_than_five_helped(
        self, citizen, community, shopping, volunteer
    ):
        for _ in range(4):
            done(post_request(citizen, community, shopping), volunteer)
        figures = public_figures(community)
        assert figures["requests_helped"] == SMALL
        assert figures["median_hours_to_help"] is None

    def test_a_request_done_after_until_is_not_yet_helped(self, citizen, community, shopping, volunteer):
        help_request = post_request(citizen, community, shopping)
        done(help_request, volunteer)
        set_created(help_request, local(2025, 2, 10))
        set_request_change_time(help_request, RequestStatus.DONE, local(2025, 3, 2))
        figures = public_figures(community, until=dt.date(2025, 3, 1))
        assert (figures["requests_total"], figures["requests_helped"]) == (SMALL, 0)

    def test_public_figures_take_five_queries(
        self, citizen, community, shopping, django_assert_max_num_queries
    ):
        requests_in(6, citizen, community, shopping, KESSEL_LO)
        with django_assert_max_num_queries(5):
            public_figures(community, since=dt.date(2020, 1, 1), until=dt.date(2100, 1, 1))
