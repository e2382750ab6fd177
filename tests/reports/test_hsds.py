"""The services directory listing in Open Referral HSDS 3.0, validated against the
specification's own JSON schemas (tests/reports/hsds/, copied with their source)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import pathlib
import re
import uuid

import pytest
from django.urls import reverse
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mutualaid.aid.models import Category, HelpLineDays
from mutualaid.reports import hsds
from tests.conftest import post_request

SCHEMAS = pathlib.Path(__file__).parent / "hsds"
# The schemas' own address: their "$ref"s ("phone.json") resolve next to it.
BASE = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"


def registry() -> Registry:
    """Only the copied schema files: a reference to any other fails validation."""
    resources = [
        (BASE + path.name, Resource.from_contents(json.loads(path.read_text()), DRAFT202012))
        for path in SCHEMAS.glob("*.json")
    ]
    return Registry().with_resources(resources)


def validator(schema_file: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": BASE + schema_file},
        registry=registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,  # uuid and email are checked
    )


def schema_errors(document: dict) -> list[str]:
    """Each problem of the organization and of each of its services, with where it is."""
    organization = {key: value for key, value in document.items() if key != "services"}
    problems = [
        f"organization: {error.message}" for error in validator("organization.json").iter_errors(organization)
    ]
    for service in document["services"]:
        problems += [
            f"service {service.get('name')}: {'/'.join(map(str, error.absolute_path))} {error.message}"
            for error in validator("service.json").iter_errors(service)
        ]
    return problems


@pytest.fixture
def listed(community, shopping, pharmacy):
    Category.objects.create(community=community, slug="lifts", name="Lifts", is_active=False)
    community.service_name = "Leuven Helpt"
    community.contact_phone = "016 27 20 00"
    community.help_line_days = HelpLineDays.WEEKDAYS
    community.help_line_opens = dt.time(9)
    community.help_line_closes = dt.time(17)
    community.save()
    return community


def download(client, community, **headers):
    return client.get(reverse("transparency-hsds", args=[community.slug]), headers=headers)


def test_the_listing_is_valid_hsds_3_organization_with_services(client, listed, settings):
    settings.SITE_URL = "https://help.leuven.be"

    response = download(client, listed)
    document = response.json()

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert schema_errors(document) == []
    assert document["website"] == "https://help.leuven.be"
    assert document["name"] == "Leuven Helpt"
    assert document["alternate_name"] == "Leuven"
    assert [phone["number"] for phone in document["phones"]] == ["016 27 20 00"]
    # One service per offered category: Lifts is not offered.
    assert [service["name"] for service in document["services"]] == ["Pharmacy", "Shopping"]
    for service in document["services"]:
        assert service["organization_id"] == document["id"]
        assert service["status"] == "active"
        assert service["url"] == "https://help.leuven.be" + reverse("request-create")


def test_the_service_area_is_the_communitys_name_and_a_closed_geojson_ring_around_its_centre(client, listed):
    area = download(client, listed).json()["services"][0]["service_areas"][0]
    polygon = json.loads(area["extent"])
    ring = polygon["coordinates"][0]

    assert area["name"] == "Leuven"
    assert area["extent_type"] == "geojson"
    assert polygon["type"] == "Polygon"
    assert ring[0] == ring[-1] and len(ring) == hsds.AREA_CORNERS + 1
    longitudes, latitudes = [point[0] for point in ring], [point[1] for point in ring]
    # Longitude first (RFC 7946), around Leuven's centre (50.88 N, 4.70 E).
    assert min(longitudes) < listed.longitude < max(longitudes)
    assert min(latitudes) < listed.latitude < max(latitudes)
    assert 0.85 < max(latitudes) - min(latitudes) < 0.95  # 2 x 50 km: 0.9 degrees of latitude
    # Counter-clockwise (RFC 7946's right-hand rule): the shoelace sum is positive.
    shoelace = sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(ring))
    assert shoelace > 0


def test_the_schedule_is_the_help_lines_weekly_hours(client, listed):
    schedules = download(client, listed).json()["services"][0]["schedules"]

    assert [(schedule["freq"], schedule["byday"], schedule["wkst"]) for schedule in schedules] == [
        ("WEEKLY", "MO,TU,WE,TH,FR", "MO")
    ]
    assert re.fullmatch(r"09:00\+0[12]:00", schedules[0]["opens_at"])
    assert re.fullmatch(r"17:00\+0[12]:00", schedules[0]["closes_at"])
    assert schedules[0]["description"] == (
        "The help line answers Monday to Friday, 09:00–17:00. Online, you can ask at any time."  # noqa: RUF001
    )


def test_the_hours_carry_the_utc_offset_of_the_day_summer_time_or_not(listed):
    winter = hsds.help_line_schedule(listed, "service", today=dt.date(2026, 1, 15))[0]
    summer = hsds.help_line_schedule(listed, "service", today=dt.date(2026, 7, 15))[0]

    assert (winter["opens_at"], winter["closes_at"]) == ("09:00+01:00", "17:00+01:00")
    assert (summer["opens_at"], summer["closes_at"]) == ("09:00+02:00", "17:00+02:00")


def test_without_recorded_hours_or_phone_there_is_no_schedule_and_no_phone(client, community, shopping):
    document = download(client, community).json()

    assert schema_errors(document) == []
    assert "phones" not in document
    assert document["services"][0]["schedules"] == []
    assert document["name"] == "Leuven"


def test_ids_are_uuids_that_stay_the_same_from_one_download_to_the_next(client, listed):
    first, second = download(client, listed).json(), download(client, listed).json()

    assert first == second
    ids = [first["id"]] + [service["id"] for service in first["services"]]
    ids += [
        record["id"]
        for service in first["services"]
        for record in service["service_areas"] + service["schedules"]
    ]
    assert len(set(ids)) == len(ids)
    assert all(str(uuid.UUID(value)) == value for value in ids)


def test_the_texts_follow_the_language_asked_for(client, listed):
    response = download(client, listed, accept_language="nl")

    assert response["Content-Language"] == "nl"
    assert "hulplijn" in json.dumps(response.json(), ensure_ascii=False).lower()


def test_the_listing_holds_nothing_about_people_or_requests(client, listed, citizen, shopping):
    post_request(citizen, listed, shopping)

    body = download(client, listed).content.decode()

    assert citizen.first_name not in body
    assert "Naamsestraat" not in body


def test_an_invalid_listing_is_refused_by_the_schemas(client, listed):
    """The validation can fail: an id that is no UUID and a service without its status."""
    document = download(client, listed).json()
    document["id"] = "leuven"
    del document["services"][0]["status"]

    problems = schema_errors(document)

    assert any("organization" in problem and "uuid" in problem for problem in problems)
    assert any("'status' is a required property" in problem for problem in problems)


def test_the_figures_page_links_to_the_listing(client, listed):
    page = client.get(reverse("transparency", args=[listed.slug])).content.decode()

    assert f'href="{reverse("transparency-hsds", args=[listed.slug])}"' in page
