"""Tasks for several volunteers on the pages: asked for on the forms, "2 of 3 volunteers found"
and who is coming for the citizen, the others coming for a volunteer, n of m for coordinators."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from mutualaid.aid import services
from mutualaid.aid.models import Assignment, HelpRequest
from tests.conftest import KESSEL_LO, LADEUZEPLEIN, NAAMSESTRAAT, make_volunteer, sign_in
from tests.web.test_coordination import intake_data
from tests.web.test_forms import assert_shown_next_to, post_request_form, request_data


@pytest.fixture
def helpers(community, shopping):
    return [
        make_volunteer(name, community, [shopping], LADEUZEPLEIN if index % 2 else KESSEL_LO)
        for index, name in enumerate(["anna", "bram", "chloe", "dirk"])
    ]


@pytest.fixture
def wardrobe(citizen, community, shopping):
    return services.help_request_create(
        community=community,
        requester=citizen,
        created_by=citizen,
        category=shopping,
        description="Carry a wardrobe up the stairs.",
        urgency=1,
        location=NAAMSESTRAAT,
        time_windows=[(timezone.localdate() + dt.timedelta(days=2), 1)],
        people_needed=3,
    )


def two_of_three(wardrobe, helpers) -> list[Assignment]:
    """Anna and Bram accepted, Chloe is asked."""
    assignments = [
        services.assignment_propose(help_request=wardrobe, volunteer=volunteer, km=1.0)
        for volunteer in helpers[:3]
    ]
    for assignment, volunteer in zip(assignments[:2], helpers[:2], strict=True):
        services.assignment_accept(assignment=assignment, volunteer=volunteer)
    return assignments


def test_the_citizen_asks_for_several_volunteers_on_the_form(client, citizen, shopping):
    response = post_request_form(client, citizen, request_data(shopping, people_needed="3"))
    assert response.status_code == 302
    assert HelpRequest.objects.get().people_needed == 3


def test_a_form_left_without_the_number_asks_for_one(client, citizen, shopping):
    post_request_form(client, citizen, request_data(shopping))
    assert HelpRequest.objects.get().people_needed == 1


@pytest.mark.parametrize("people_needed", ["0", "7", "two"])
def test_a_number_of_volunteers_out_of_bounds_is_explained_next_to_the_field(
    client, citizen, shopping, people_needed
):
    response = post_request_form(client, citizen, request_data(shopping, people_needed=people_needed))
    assert "people_needed" in response.context["form"].errors
    assert_shown_next_to(response, "people_needed", response.context["form"].errors["people_needed"][0])
    assert not HelpRequest.objects.exists()


def test_the_phone_intake_asks_how_many_volunteers(client, coordinator, shopping):
    sign_in(client, coordinator)
    assert 'name="people_needed"' in client.get(reverse("coordinator-intake")).text

    client.post(reverse("coordinator-intake"), intake_data(shopping, people_needed="2"))

    assert HelpRequest.objects.get().people_needed == 2


def test_the_citizen_sees_how_many_are_found_and_who_is_coming(client, citizen, wardrobe, helpers):
    two_of_three(wardrobe, helpers)
    sign_in(client, citizen)

    page = client.get(reverse("request-detail", args=[wardrobe.pk])).text
    listing = client.get(reverse("my-requests")).text

    assert "2 of 3 volunteers found" in page and "2 of 3 volunteers found" in listing
    assert "Anna Volunteer is coming to help you" in page and "Bram Volunteer is coming to help you" in page
    assert "Chloe" not in page  # asked, not coming
    assert "We go on looking for the others" in page


def test_a_single_volunteer_request_page_says_nothing_of_places(client, citizen, help_request, volunteer):
    proposal = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=1.0)
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    sign_in(client, citizen)

    page = client.get(reverse("request-detail", args=[help_request.pk])).text

    assert "volunteers found" not in page and "volunteer found" not in page
    assert "Volunteer is coming to help you" in page


def test_a_volunteer_who_accepted_sees_the_others_coming_and_one_asked_sees_only_how_many(
    client, wardrobe, helpers
):
    assignments = two_of_three(wardrobe, helpers)

    sign_in(client, helpers[0])
    accepted_page = client.get(reverse("task-detail", args=[assignments[0].pk])).text
    sign_in(client, helpers[2])
    asked_page = client.get(reverse("task-detail", args=[assignments[2].pk])).text

    assert "2 of 3 volunteers found: Bram and you" in accepted_page
    assert "2 of 3 volunteers found" in asked_page
    assert "Anna" not in asked_page and "Bram" not in asked_page


def test_coordinators_see_n_of_m_and_can_give_the_open_place_or_take_one_back(
    client, coordinator, wardrobe, helpers
):
    assignments = two_of_three(wardrobe, helpers)
    services.assignment_decline(assignment=assignments[2], volunteer=helpers[2])
    sign_in(client, coordinator)

    page = client.get(reverse("coordinator-request", args=[wardrobe.pk])).text
    dashboard = client.get(reverse("dashboard")).text

    assert "2 of 3 volunteers found" in page and "2 of 3 volunteers found" in dashboard
    assert 'id="assign-form"' in page  # a place is open
    assert f'id="unassign-form-{assignments[1].pk}"' in page

    response = client.post(
        reverse("coordinator-unassign", args=[wardrobe.pk]),
        {"assignment": assignments[1].pk, "reason": "fell ill"},
    )

    assert response.status_code == 302
    assert Assignment.objects.get(pk=assignments[1].pk).status == "cancelled"
    assert Assignment.objects.get(pk=assignments[0].pk).status == "accepted"


def test_the_call_back_list_names_every_volunteer_of_a_phoned_in_team(
    client, coordinator, community, shopping, helpers
):
    phoned = services.help_request_create(
        community=community,
        requester=None,
        created_by=coordinator,
        category=shopping,
        description="Move a bed",
        urgency=1,
        location=NAAMSESTRAAT,
        any_time=True,
        contact_name="Mrs Maes",
        contact_phone="016 12 34 56",
        people_needed=2,
    )
    for volunteer in helpers[:2]:
        services.assignment_assign_by_coordinator(
            help_request=phoned,
            volunteer=volunteer,
            coordinator=coordinator,
            reason="phone",
            agreed_by_phone=True,
        )
    sign_in(client, coordinator)

    page = client.get(reverse("coordinator-callbacks")).text

    assert "tell Mrs Maes that Anna Volunteer" in page and "Bram Volunteer" in page and "are coming" in page
