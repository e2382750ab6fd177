"""The coordinators' dashboard at crisis size: find any request, filter, sort, page; a few
queries whatever the size; a map of the coordinator's own community only."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mutualaid.aid.models import HelpRequest, Urgency
from mutualaid.aid.request_list import PER_PAGE
from tests.conftest import KESSEL_LO, make_user, post_request, sign_in

MAX_QUERIES = 30


def listed_numbers(response) -> list[int]:
    """The request numbers in the dashboard's request list, in order."""
    if 'class="grid-table request-list"' not in response.text:
        return []
    table = response.text.split('class="grid-table request-list"')[1].split("</table>")[0]
    return [int(number) for number in re.findall(r">#(\d+) ", table)]


def dashboard(client, **filters):
    return client.get(reverse("dashboard"), filters)


@pytest.fixture
def phoned_in(community, shopping, coordinator):
    from mutualaid.aid import services

    return services.help_request_create(
        community=community,
        requester=None,
        created_by=coordinator,
        category=shopping,
        description="Bread and milk.",
        urgency=Urgency.TODAY,
        location=KESSEL_LO,
        any_time=True,
        contact_name="Josée Vermeulen",
        contact_phone="016 12 34 56",
    )


def test_a_phone_number_is_found_however_it_is_written(client, coordinator, help_request, phoned_in):
    sign_in(client, coordinator)
    # The citizen's account phone is +32470112233; the caller's +3216123456.
    for written in ["0470 11 22 33", "+32 470 11 22 33", "0032470112233", "0470/11.22.33", "11 22 33"]:
        assert listed_numbers(dashboard(client, q=written)) == [help_request.pk], written
    assert listed_numbers(dashboard(client, q="016 12 34 56")) == [phoned_in.pk]
    assert listed_numbers(dashboard(client, q="0499 99 99 99")) == []


def test_a_name_or_a_request_number_is_found(client, coordinator, help_request, phoned_in):
    sign_in(client, coordinator)
    assert listed_numbers(dashboard(client, q="peeters")) == [help_request.pk]  # the account's surname
    assert listed_numbers(dashboard(client, q="josée verm")) == [phoned_in.pk]  # a caller, by parts
    assert listed_numbers(dashboard(client, q=f"#{phoned_in.pk}")) == [phoned_in.pk]
    assert listed_numbers(dashboard(client, q=str(help_request.pk))) == [help_request.pk]


def test_filters_narrow_the_list(client, coordinator, citizen, community, shopping, pharmacy, phoned_in):
    pharmacy_run = post_request(citizen, community, pharmacy)
    old = post_request(citizen, community, shopping)
    HelpRequest.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(hours=30))
    sign_in(client, coordinator)
    assert listed_numbers(dashboard(client, category=pharmacy.pk)) == [pharmacy_run.pk]
    assert listed_numbers(dashboard(client, urgency=Urgency.TODAY)) == [phoned_in.pk]
    assert listed_numbers(dashboard(client, neighbourhood="Kessel-Lo")) == [phoned_in.pk]
    assert listed_numbers(dashboard(client, waiting="24h")) == [old.pk]
    assert listed_numbers(dashboard(client, status="proposed")) == []
    assert len(listed_numbers(dashboard(client, status="all"))) == 3


def test_the_list_waits_longest_first_and_sorts_by_urgency_or_newest(
    client, coordinator, citizen, community, shopping
):
    first = post_request(citizen, community, shopping)
    urgent = post_request(citizen, community, shopping, urgency=Urgency.TODAY)
    last = post_request(citizen, community, shopping)
    for hours, help_request in [(3, first), (2, urgent), (1, last)]:
        HelpRequest.objects.filter(pk=help_request.pk).update(
            created_at=timezone.now() - dt.timedelta(hours=hours)
        )
    sign_in(client, coordinator)
    assert listed_numbers(dashboard(client)) == [first.pk, urgent.pk, last.pk]
    assert listed_numbers(dashboard(client, sort="urgency")) == [urgent.pk, first.pk, last.pk]
    assert listed_numbers(dashboard(client, sort="newest")) == [last.pk, urgent.pk, first.pk]


def test_the_list_is_paged_and_the_links_keep_the_filters(client, coordinator, settings):
    settings.DEBUG = True
    call_command("load_crisis_demo", community="leuven", requests=PER_PAGE + 5, volunteers=3, stdout=None)
    sign_in(client, coordinator)
    first_page = dashboard(client, sort="newest")
    second_page = dashboard(client, sort="newest", page=2)
    assert len(listed_numbers(first_page)) == PER_PAGE and len(listed_numbers(second_page)) == 5
    assert not set(listed_numbers(first_page)) & set(listed_numbers(second_page))
    assert "?sort=newest&amp;page=2" in first_page.text
    assert "Page 2 of 2" in second_page.text


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "lost"},
        {"urgency": "9"},
        {"category": "x"},
        {"neighbourhood": "Atlantis"},
        {"waiting": "forever"},
        {"sort": "random"},
        {"page": "-1"},
        {"page": "999"},
        {"q": "x" * 500},
    ],
)
def test_a_filter_that_cannot_be_read_gets_a_message_never_an_error(client, coordinator, help_request, bad):
    sign_in(client, coordinator)
    response = dashboard(client, **bad)
    assert response.status_code == 200
    if bad != {"page": "999"}:  # past the last page is the last page
        assert "Some filters could not be read" in response.text
        assert 'class="errorlist' in response.text
    assert listed_numbers(response) == [help_request.pk]  # the rest still applies: open requests


def test_the_filter_form_works_without_javascript_and_every_field_has_a_label(
    client, coordinator, help_request
):
    sign_in(client, coordinator)
    page = dashboard(client).text
    form = page.split('class="request-filters"')[1].split("</form>")[0]
    assert 'method="get"' in page.split('class="request-filters"')[0][-200:]
    for name in ["q", "status", "neighbourhood", "category", "urgency", "waiting", "sort"]:
        field_id = re.search(rf'name="{name}"[^>]*id="([^"]+)"|id="([^"]+)"[^>]*name="{name}"', form)
        assert field_id, name
        assert f'for="{field_id.group(1) or field_id.group(2)}"' in form, name


def test_another_communitys_requests_are_neither_listed_nor_found(
    client, outsider_coordinator, help_request, citizen
):
    sign_in(client, outsider_coordinator)
    assert listed_numbers(dashboard(client, q="0470 11 22 33", status="all")) == []
    assert listed_numbers(dashboard(client, q=f"#{help_request.pk}", status="all")) == []


def map_data(response) -> dict:
    return json.loads(response.text.split('id="map-data" type="application/json">')[1].split("</script>")[0])


def test_the_map_holds_the_communitys_open_requests_and_volunteers_per_area_only(
    client, coordinator, outsider_coordinator, help_request, volunteer, other_community
):
    from mutualaid.aid.models import Category

    herent_category = Category.objects.create(community=other_community, slug="shopping", name="Shopping")
    herent_citizen = make_user("herent-citizen", other_community)
    herent_request = post_request(herent_citizen, other_community, herent_category)
    sign_in(client, coordinator)
    data = map_data(dashboard(client))
    assert [point[2] for point in data["requests"]] == [help_request.pk]
    assert herent_request.pk not in [point[2] for point in data["requests"]]
    assert data["request_url"] == reverse("coordinator-request", args=[0])
    ((latitude, longitude, count),) = data["volunteers"]
    assert count == 1 and (latitude, longitude) != (50.8790, 4.7050)  # not the volunteer's home


def count_dashboard_queries(client, **filters) -> int:
    dashboard(client)  # the first request of a session may cache things
    with CaptureQueriesContext(connection) as queries:
        response = dashboard(client, **filters)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.slow
def test_the_dashboard_takes_the_same_few_queries_whatever_the_size(client, db, settings):
    """At most MAX_QUERIES, and the same number at two sizes ten times apart: then also at
    5,000 requests and 3,000 volunteers (bench/dashboard.py measures that size)."""
    from mutualaid.accounts.models import User

    settings.DEBUG = True
    counts = {}
    for slug, requests, volunteers in [("small", 60, 30), ("large", 600, 300)]:
        call_command(
            "load_crisis_demo", community=slug, requests=requests, volunteers=volunteers, stdout=None
        )
        sign_in(client, User.objects.get(username=f"coordinator-{slug}"))
        counts[slug] = {
            "default": count_dashboard_queries(client),
            "searched": count_dashboard_queries(client, q="0470 11", sort="urgency", urgency=3),
            "by name, page 2": count_dashboard_queries(client, q="Peeters", status="all", page=2),
        }
    assert HelpRequest.objects.filter(community__slug="large", status="open").count() == 600
    assert counts["large"] == counts["small"]
    assert max(counts["large"].values()) <= MAX_QUERIES
