"""The coordinators' volunteer directory and the page recording a volunteer's checks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from mutualaid.aid import selectors, services
from mutualaid.aid.models import AuditEntry, VolunteerCheck
from tests.conftest import KESSEL_LO, LADEUZEPLEIN, make_volunteer, offer_of, post_request, sign_in


def directory(client, **params) -> str:
    response = client.get(reverse("coordinator-volunteers"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_directory_lists_each_volunteer_with_contact_skills_load_vetting_and_pause(
    client, coordinator, citizen, community, shopping, volunteer, second_volunteer
):
    services.assignment_propose(
        help_request=post_request(citizen, community, shopping), volunteer=volunteer, km=1
    )
    services.volunteer_offer_set_paused(offer=offer_of(second_volunteer), paused=True)
    sign_in(client, coordinator)
    page = directory(client)
    assert "2 volunteers in Leuven" in page
    assert volunteer.name_told_apart in page and 'href="tel:+32470998877"' in page
    assert "Shopping, Pharmacy" in page or "Pharmacy, Shopping" in page
    assert "Not vetted" in page
    row = page[page.index(f'data-volunteer="{volunteer.pk}"') :].split("</tr>")[0]
    assert "<td>0</td>\n    <td>1</td>" in row  # no task accepted, one proposal waiting


def test_two_namesakes_are_told_apart_by_neighbourhood_and_phone_end(
    client, coordinator, community, shopping
):
    first = make_volunteer("luc1", community, [shopping], LADEUZEPLEIN)
    second = make_volunteer("luc2", community, [shopping], KESSEL_LO)
    for person, phone in ((first, "+32470111222"), (second, "+32470333444")):
        person.first_name, person.last_name, person.phone = "Luc", "Dubois", phone
        person.save()
    sign_in(client, coordinator)
    page = directory(client)
    assert "Luc Dubois · Leuven centrum · phone …222" in page
    assert "Luc Dubois · Kessel-Lo · phone …444" in page


def test_the_directory_finds_a_volunteer_by_name_or_by_phone_as_people_write_it(
    client, coordinator, community, volunteer, second_volunteer
):
    second_volunteer.phone = "+32471234567"
    second_volunteer.save()
    sign_in(client, coordinator)
    by_name = directory(client, q="second")
    assert "1 volunteer matches" in by_name and second_volunteer.display_name in by_name
    assert f'data-volunteer="{volunteer.pk}"' not in by_name
    by_phone = directory(client, q="0471 23 45 67")
    assert f'data-volunteer="{second_volunteer.pk}"' in by_phone
    assert f'data-volunteer="{volunteer.pk}"' not in by_phone
    assert "No volunteer found" in directory(client, q="nobody here")


def test_the_directory_is_paginated_and_keeps_the_search(
    client, coordinator, community, shopping, monkeypatch
):
    monkeypatch.setattr(selectors, "DIRECTORY_PAGE_SIZE", 2)
    for number in range(5):
        make_volunteer(f"helper{number}", community, [shopping], LADEUZEPLEIN)
    sign_in(client, coordinator)
    first = directory(client, q="helper")
    assert "page 1 of 3" in first and "q=helper&amp;page=2" in first
    last = directory(client, q="helper", page=3)
    assert last.count("data-volunteer=") == 1
    assert directory(client, q="helper", page="nonsense").count("data-volunteer=") == 2


def test_the_directory_takes_a_bounded_number_of_queries(
    client, coordinator, community, shopping, django_assert_max_num_queries
):
    for number in range(12):
        volunteer = make_volunteer(f"helper{number}", community, [shopping], LADEUZEPLEIN)
        VolunteerCheck.objects.create(
            volunteer=volunteer,
            community=community,
            kind="id_seen",
            checked_on=timezone.localdate(),
            checked_by=coordinator,
        )
    sign_in(client, coordinator)
    with django_assert_max_num_queries(12):
        directory(client)


@pytest.mark.parametrize("who", ["citizen", "volunteer", "outsider_coordinator"])
def test_only_the_communitys_coordinators_see_its_volunteers(client, request, who, volunteer, coordinator):
    sign_in(client, request.getfixturevalue(who))
    response = client.get(reverse("coordinator-volunteers"))
    assert response.status_code == 404 or volunteer.display_name not in response.content.decode()
    checks = reverse("coordinator-volunteer-checks", args=[volunteer.pk])
    assert client.get(checks).status_code == 404
    assert client.post(checks, {"kind": "id_seen", "checked_on": "2026-01-01"}).status_code == 404
    assert not VolunteerCheck.objects.exists()


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("coordinator-volunteers"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_coordinator_records_checks_and_the_directory_shows_the_volunteer_vetted(
    client, coordinator, volunteer
):
    sign_in(client, coordinator)
    checks = reverse("coordinator-volunteer-checks", args=[volunteer.pk])
    today = timezone.localdate()
    until = today + dt.timedelta(days=365)
    client.post(checks, {"kind": "id_seen", "checked_on": today.isoformat()})
    response = client.post(
        checks,
        {"kind": "criminal_record_2", "checked_on": today.isoformat(), "expires_on": until.isoformat()},
        follow=True,
    )
    page = response.content.decode()
    assert "Recorded: Criminal-record extract (model 2)" in page
    assert "Vetted until" in page and coordinator.display_name in page
    assert AuditEntry.objects.filter(action="record_check", actor=coordinator).count() == 2
    assert "Vetted until" in directory(client)


def test_an_extract_without_an_expiry_date_is_refused_next_to_the_field(client, coordinator, volunteer):
    sign_in(client, coordinator)
    checks = reverse("coordinator-volunteer-checks", args=[volunteer.pk])
    response = client.post(
        checks, {"kind": "criminal_record_2", "checked_on": timezone.localdate().isoformat()}
    )
    assert response.status_code == 200
    assert "Give the date until which the extract is valid." in response.content.decode()
    assert client.post(checks, {"kind": "nonsense", "checked_on": "not a date"}).status_code == 200
    assert not VolunteerCheck.objects.exists()
