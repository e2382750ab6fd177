"""The public transparency page and its open data: for anyone, about no one."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from mutualaid.aid import services
from mutualaid.aid.models import HelpRequest
from mutualaid.aid.states import RequestStatus
from tests.conftest import KESSEL_LO, NAAMSESTRAAT
from tests.reports.helpers import (
    HEVERLEE,
    WILSELE,
    accepted,
    done,
    last_month,
    requests_in,
    set_request_change_time,
)

CALLER_NAME = "Maria Janssens"
CALLER_PHONE = "016 12 34 56"


@pytest.fixture
def published_month(
    citizen, other_citizen, coordinator, community, shopping, pharmacy, volunteer, second_volunteer
):
    """Last month: 4 requests in Wilsele, 6 in Kessel-Lo, 8 in Heverlee, some helped."""
    requests_in(4, citizen, community, shopping, WILSELE)
    requests_in(6, other_citizen, community, pharmacy, KESSEL_LO)
    heverlee = requests_in(7, citizen, community, shopping, HEVERLEE)
    services.help_request_create(
        community=community,
        requester=None,
        created_by=coordinator,
        category=shopping,
        description="Mrs Janssens cannot leave the house; bread and milk.",
        urgency=1,
        location=HEVERLEE,
        any_time=True,
        contact_name=CALLER_NAME,
        contact_phone=CALLER_PHONE,
    )
    done(heverlee[0], volunteer, hours=2)
    accepted(heverlee[1], second_volunteer)
    moment = last_month()
    HelpRequest.objects.filter(community=community).update(created_at=moment)
    set_request_change_time(heverlee[0], RequestStatus.DONE, moment)
    return community


def secrets(citizen, other_citizen, volunteer, help_requests) -> list[str]:
    """Everything about a person or a single request that must never be published."""
    values = [CALLER_NAME, CALLER_PHONE, "Janssens", "bread and milk", "Groceries for the week"]
    values += [citizen.display_name, "Peeters", other_citizen.display_name, "Maes", volunteer.display_name]
    values += [str(citizen.phone), str(volunteer.phone)]
    for help_request in help_requests:
        values += [help_request.address, help_request.address.split(",")[0]]
        values.append(f"/requests/{help_request.pk}/")
    values += [NAAMSESTRAAT.address, "Naamsestraat", "Kapelstraat", "Waversebaan", "Gemeentestraat"]
    return values


def get(client, name: str, slug: str = "leuven"):
    return client.get(reverse(name, args=[slug]))


def test_transparency_page_is_public_with_charts_tables_and_open_data_links(client, published_month):
    response = get(client, "transparency")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('role="img"') == 3  # per neighbourhood, per kind of help, per month
    assert "<caption>Requests per neighbourhood</caption>" in html
    assert '<th scope="row">Heverlee</th><td>8</td>' in html
    assert '<th scope="row">Wilsele</th><td>fewer than 5</td>' in html
    assert '<th scope="row">Kessel-Lo</th><td>hidden</td>' in html
    assert reverse("transparency-csv", args=["leuven"]) in html
    assert reverse("transparency-json", args=["leuven"]) in html
    assert f'href="{reverse("home")}"' in html
    assert "<main" in html and "<h1>" in html


def test_transparency_page_leaves_out_this_months_requests(client, citizen, community, shopping):
    requests_in(6, citizen, community, shopping, KESSEL_LO)  # created now
    html = get(client, "transparency").content.decode()
    assert "Kessel-Lo" not in html
    assert "No requests in this period." in html


@pytest.mark.parametrize("name", ["transparency", "transparency-csv", "transparency-json"])
def test_unknown_community_is_not_found(client, name, community):
    assert get(client, name, "atlantis").status_code == 404


@pytest.mark.parametrize("name", ["transparency", "transparency-csv", "transparency-json"])
def test_public_figures_publish_no_names_phones_addresses_descriptions_or_ids(
    client, name, published_month, citizen, other_citizen, volunteer
):
    content = get(client, name).content.decode()
    for secret in secrets(citizen, other_citizen, volunteer, HelpRequest.objects.all()):
        assert secret not in content, f"{secret!r} published"


def test_open_data_json_has_the_documented_shape_and_suppressed_counts(client, published_month):
    response = get(client, "transparency-json")
    data = response.json()
    assert response["Content-Type"] == "application/json"
    assert set(data) == {
        "community",
        "period",
        "suppression",
        "requests_total",
        "requests_helped",
        "requests_time_passed",
        "median_hours_to_help",
        "requests_by_neighbourhood",
        "requests_by_category",
        "requests_by_month",
        "licence",
    }
    assert data["community"] == {"name": "Leuven", "slug": "leuven"}
    assert data["licence"] == {"name": "CC BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"}
    assert response["Link"] == '<https://creativecommons.org/licenses/by/4.0/>; rel="license"'
    # Twelve whole months, oldest first; one helped request is too few to show per month.
    months = data["requests_by_month"]
    assert len(months) == 12 and all(month["requests"] == 0 for month in months[:-1])
    assert months[-1] == {"month": last_month().strftime("%Y-%m"), "requests": 18, "helped": "hidden"}
    assert data["suppression"] == {"threshold": 5, "small": "<5", "hidden": "hidden"}
    assert data["requests_total"] == 18
    assert data["requests_helped"] == "<5"
    assert data["median_hours_to_help"] is None
    assert data["requests_by_neighbourhood"] == [
        {"label": "Heverlee", "requests": 8},
        {"label": "Kessel-Lo", "requests": "hidden"},
        {"label": "Wilsele", "requests": "<5"},
    ]
    assert data["requests_by_category"] == [
        {"label": "Pharmacy", "requests": 6},
        {"label": "Shopping", "requests": 12},
    ]


def test_open_data_csv_is_a_download_with_a_header_and_the_same_figures(client, published_month):
    response = get(client, "transparency-csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="transparency-leuven.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["figure", "group", "value"]
    assert ["requests_total", "", "18"] in rows
    assert ["requests_by_neighbourhood", "Wilsele", "<5"] in rows
    assert ["requests_by_neighbourhood", "Kessel-Lo", "hidden"] in rows
    assert ["requests_by_neighbourhood", "Heverlee", "8"] in rows
    assert ["requests_by_category", "Shopping", "12"] in rows


def test_open_data_marks_a_withheld_table(client, citizen, community, shopping):
    for help_request in requests_in(3, citizen, community, shopping, WILSELE):
        HelpRequest.objects.filter(pk=help_request.pk).update(created_at=last_month())
    rows = list(csv.reader(io.StringIO(get(client, "transparency-csv").content.decode())))
    assert ["requests_by_neighbourhood", "", "withheld"] in rows
    assert get(client, "transparency-json").json()["requests_by_neighbourhood"] is None
    assert "There are too few requests yet" in get(client, "transparency").content.decode()


def test_open_data_may_be_read_by_other_sites(client, community):
    assert get(client, "transparency-json")["Access-Control-Allow-Origin"] == "*"
    assert get(client, "transparency-csv")["Access-Control-Allow-Origin"] == "*"


def test_the_month_by_month_series_shows_requests_and_helped_with_small_months_protected(
    client, citizen, community, shopping, volunteer
):
    last = last_month()
    two_months_ago, three_months_ago = last - dt.timedelta(days=31), last - dt.timedelta(days=62)
    helped = requests_in(6, citizen, community, shopping, KESSEL_LO)
    for help_request in helped[:5]:
        done(help_request, volunteer)
        set_request_change_time(help_request, RequestStatus.DONE, last)
    HelpRequest.objects.filter(pk__in=[r.pk for r in helped]).update(created_at=last)
    earlier = requests_in(7, citizen, community, shopping, KESSEL_LO)
    HelpRequest.objects.filter(pk__in=[r.pk for r in earlier]).update(created_at=two_months_ago)
    few = requests_in(2, citizen, community, shopping, KESSEL_LO)
    HelpRequest.objects.filter(pk__in=[r.pk for r in few]).update(created_at=three_months_ago)

    cells = get(client, "transparency-json").json()["requests_by_month"]
    months = {cell["month"]: cell for cell in cells}

    # Two requests is a small count: the smallest other month is hidden with it, so that the
    # sum of the months cannot give it away; the helped column has no small count.
    assert len(cells) == 12
    assert months[three_months_ago.strftime("%Y-%m")]["requests"] == "<5"
    assert months[two_months_ago.strftime("%Y-%m")]["requests"] == 7
    assert months[last.strftime("%Y-%m")]["requests"] == "hidden"
    assert months[last.strftime("%Y-%m")]["helped"] == 5
    rows = list(csv.reader(io.StringIO(get(client, "transparency-csv").content.decode())))
    assert ["helped_by_month", last.strftime("%Y-%m"), "5"] in rows
    assert ["requests_by_month", three_months_ago.strftime("%Y-%m"), "<5"] in rows
    page = get(client, "transparency").content.decode()
    assert "Month by month" in page and 'rel="license"' in page and "CC BY 4.0" in page
