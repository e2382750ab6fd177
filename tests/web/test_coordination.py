"""Coordinators: phone intake, call-backs, overrides with their records, messages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from matching.services import propose_assignments, run_due_matching
from mutualaid.aid import services
from mutualaid.aid.models import Assignment, CoordinatorMessage, HelpRequest, StatusChange
from notifications.models import OutgoingMessage
from tests.conftest import NAAMSESTRAAT, make_user, sign_in

TOMORROW = timezone.localdate() + dt.timedelta(days=1)


def intake_data(shopping, **overrides) -> dict:
    data = {
        "contact_name": "Mrs Maes",
        "contact_phone": "016 23 45 67",
        "address": "Naamsestraat 12, 3000 Leuven",
        "category": shopping.pk,
        "description": "Bread and soup.",
        "urgency": 2,
        "any_time": "on",
    }
    return data | overrides


def test_a_coordinator_files_a_phoned_in_request_in_one_form(client, coordinator, shopping):
    sign_in(client, coordinator)
    response = client.post(reverse("coordinator-intake"), intake_data(shopping))
    assert response.status_code == 302 and response.url == reverse("coordinator-intake")
    help_request = HelpRequest.objects.get()
    assert help_request.requester is None and help_request.created_by == coordinator
    assert (help_request.contact_name, help_request.contact_phone) == ("Mrs Maes", "+3216234567")
    assert help_request.neighbourhood == "Leuven centrum"


def test_phone_intake_says_what_is_missing_and_saves_nothing(client, coordinator, shopping):
    sign_in(client, coordinator)
    response = client.post(
        reverse("coordinator-intake"), intake_data(shopping, contact_phone="12", address="Nowhere 1")
    )
    assert response.status_code == 200
    assert "Give a phone number we can call back." in response.text
    assert "We could not find" in response.text
    assert not HelpRequest.objects.exists()


@pytest.mark.parametrize("page", ["coordinator-intake", "coordinator-callbacks", "coordinator-messages"])
def test_coordinator_pages_are_not_for_citizens(client, citizen, page):
    sign_in(client, citizen)
    assert client.get(reverse(page)).status_code == 404


def phoned_in(coordinator, community, shopping) -> HelpRequest:
    return services.help_request_create(
        community=community,
        requester=None,
        created_by=coordinator,
        category=shopping,
        description="Soup.",
        urgency=1,
        location=NAAMSESTRAAT,
        any_time=True,
        contact_name="Mrs Maes",
        contact_phone="016 23 45 67",
    )


def test_the_call_back_list_says_whom_to_call_and_what_to_say(
    client, coordinator, community, shopping, volunteer
):
    help_request = phoned_in(coordinator, community, shopping)
    sign_in(client, coordinator)
    assert "Nobody to call back" in client.get(reverse("coordinator-callbacks")).text
    assignment = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.5)
    services.assignment_accept(assignment=assignment, volunteer=volunteer)
    page = client.get(reverse("coordinator-callbacks")).text
    assert "tell Mrs Maes that Volunteer" in page.replace("Volunteer Volunteer", "Volunteer")
    assert "+3216234567" in page and str(volunteer.phone) in page
    client.post(reverse("coordinator-callback-done", args=[help_request.pk]))
    assert "Nobody to call back" in client.get(reverse("coordinator-callbacks")).text
    services.assignment_complete(assignment=assignment, volunteer=volunteer)
    assert "ask Mrs Maes whether all went well" in client.get(reverse("coordinator-callbacks")).text


def test_a_coordinator_assigns_a_chosen_volunteer_and_the_record_says_who_and_why(
    client, coordinator, help_request, volunteer
):
    sign_in(client, coordinator)
    response = client.post(
        reverse("coordinator-assign", args=[help_request.pk]),
        {"volunteer": volunteer.pk, "reason": "She knows Mrs Peeters"},
    )
    assert response.status_code == 302
    assignment = Assignment.objects.get(help_request=help_request)
    assert assignment.status == "proposed" and assignment.volunteer == volunteer
    record = StatusChange.objects.get(assignment=assignment, subject="assignment", to_status="proposed")
    assert record.actor == coordinator and record.reason == "coordinator: She knows Mrs Peeters"


def test_an_assignment_agreed_on_the_phone_is_accepted_at_once(coordinator, help_request, volunteer):
    services.assignment_assign_by_coordinator(
        help_request=help_request,
        volunteer=volunteer,
        coordinator=coordinator,
        reason="phoned",
        agreed_by_phone=True,
    )
    help_request.refresh_from_db()
    assert help_request.status == "accepted"


def test_an_override_without_a_reason_is_refused(coordinator, help_request, volunteer):
    with pytest.raises(ValidationError):
        services.assignment_assign_by_coordinator(
            help_request=help_request, volunteer=volunteer, coordinator=coordinator, reason="  "
        )
    assert not Assignment.objects.exists()


def test_unassigning_reopens_the_request_and_matching_skips_that_volunteer(
    client, coordinator, help_request, volunteer, second_volunteer
):
    propose_assignments(community=help_request.community)
    first = Assignment.objects.get(help_request=help_request)
    services.assignment_accept(assignment=first, volunteer=first.volunteer)
    sign_in(client, coordinator)
    client.post(reverse("coordinator-unassign", args=[help_request.pk]), {"reason": "fell ill"})
    first.refresh_from_db()
    help_request.refresh_from_db()
    assert first.status == "cancelled" and help_request.status == "open"
    assert StatusChange.objects.filter(
        help_request=help_request, to_status="open", actor=coordinator
    ).exists()
    # The coordinator's hold keeps matching away until they release it.
    assert propose_assignments(community=help_request.community).proposed == 0
    services.help_request_release_hold(help_request=help_request, coordinator=coordinator)
    propose_assignments(community=help_request.community)
    second = Assignment.objects.get(help_request=help_request, status="proposed")
    assert second.volunteer != first.volunteer


def test_another_communitys_coordinator_cannot_override(
    client, outsider_coordinator, help_request, volunteer
):
    sign_in(client, outsider_coordinator)
    assert client.get(reverse("coordinator-request", args=[help_request.pk])).status_code == 404
    response = client.post(
        reverse("coordinator-assign", args=[help_request.pk]), {"volunteer": volunteer.pk, "reason": "x"}
    )
    assert response.status_code == 404
    assert not Assignment.objects.exists()


def test_a_phoned_in_request_is_attached_to_the_account_the_caller_makes_later(
    client, coordinator, community, shopping
):
    help_request = phoned_in(coordinator, community, shopping)
    newcomer = make_user("mrs-maes", community, phone="+32 16 23 45 67")
    make_user("someone-else", community, phone="+32 470 00 00 00")
    sign_in(client, coordinator)
    page = client.get(reverse("coordinator-request", args=[help_request.pk])).text
    assert "mrs-maes" in page.lower() and "someone-else" not in page.lower()
    client.post(reverse("coordinator-attach", args=[help_request.pk]), {"person": newcomer.pk})
    help_request.refresh_from_db()
    assert help_request.requester == newcomer


def test_a_message_reaches_volunteers_with_a_skill_in_an_area_and_is_logged(
    client, coordinator, volunteer, second_volunteer, shopping, pharmacy
):
    for person in (volunteer, second_volunteer):
        person.email = f"{person.username}@example.org"
        person.save()
    sign_in(client, coordinator)
    response = client.post(
        reverse("coordinator-messages"),
        {
            "subject": "Pharmacy run",
            "body": "Who can help on Friday?",
            "skill": pharmacy.pk,
            "neighbourhood": "",
        },
    )
    assert response.status_code == 302
    assert list(OutgoingMessage.objects.values_list("to_address", flat=True)) == [volunteer.email]
    message = CoordinatorMessage.objects.get()
    assert (message.sender, message.recipients, message.skill) == (coordinator, 1, pharmacy)
    assert "Pharmacy run" in client.get(reverse("coordinator-messages")).text


def test_a_message_to_nobody_says_so(client, coordinator, pharmacy):
    sign_in(client, coordinator)
    response = client.post(
        reverse("coordinator-messages"), {"subject": "Hi", "body": "x", "skill": pharmacy.pk}
    )
    assert response.status_code == 200 and "Nobody matches" in response.text
    assert not CoordinatorMessage.objects.exists()


def test_a_volunteer_records_the_hours_a_task_took(client, proposal, volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    sign_in(client, volunteer)
    client.post(reverse("task-done", args=[proposal.pk]), {"hours_spent": "1.5"})
    proposal.refresh_from_db()
    assert (proposal.status, proposal.hours_spent) == ("done", 1.5)


def test_impossible_hours_get_a_message_and_nothing_changes(client, proposal, volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    sign_in(client, volunteer)
    response = client.post(reverse("task-done", args=[proposal.pk]), {"hours_spent": "99"}, follow=True)
    assert "less than or equal to 24" in response.text
    proposal.refresh_from_db()
    assert proposal.status == "accepted"


def test_the_dashboard_map_lists_open_requests_and_only_approximate_volunteer_homes(
    client, coordinator, help_request, volunteer
):
    import json

    sign_in(client, coordinator)
    page = client.get(reverse("dashboard")).text
    data = json.loads(page.split('id="map-data" type="application/json">')[1].split("</script>")[0])
    # [latitude, longitude, number, urgency, category index]; the categories by index.
    ((latitude, longitude, number, urgency, category),) = data["requests"]
    assert (latitude, longitude, number, urgency) == (50.8735, 4.7003, help_request.pk, 1)
    assert data["categories"][category] == "Shopping"
    ((latitude, longitude, _count),) = data["volunteers"]
    assert (latitude, longitude) != (50.8790, 4.7050)  # Ladeuzeplein, the volunteer's exact point
    assert abs(latitude - 50.8790) < 0.005 and abs(longitude - 4.7050) < 0.0075


def test_volunteer_choices_put_skilled_and_near_volunteers_first(
    help_request, volunteer, second_volunteer, community, pharmacy
):
    from mutualaid.aid.selectors import volunteer_choices
    from tests.conftest import KESSEL_LO, make_volunteer

    make_volunteer("pharmacist", community, [pharmacy], KESSEL_LO)
    choices = volunteer_choices(help_request)
    assert [choice.volunteer.username for choice in choices] == [
        "volunteer",
        "second-volunteer",
        "pharmacist",
    ]
    assert choices[0].has_skill and not choices[2].has_skill


def test_the_dashboard_shows_counters_that_match_the_data(
    client, coordinator, citizen, community, shopping, volunteer, second_volunteer
):
    import re

    from tests.conftest import post_request

    post_request(citizen, community, shopping)  # stays open
    proposed = post_request(citizen, community, shopping)
    services.assignment_propose(help_request=proposed, volunteer=volunteer, km=0.5)
    done = post_request(citizen, community, shopping)
    assignment = services.assignment_propose(help_request=done, volunteer=second_volunteer, km=2.0)
    services.assignment_accept(assignment=assignment, volunteer=second_volunteer)
    services.assignment_complete(assignment=assignment, volunteer=second_volunteer, hours_spent=2)
    sign_in(client, coordinator)
    page = client.get(reverse("dashboard")).text

    def counter(name: str) -> str:
        return re.search(rf'data-counter="{name}">([^<]*)<', page).group(1).strip()

    assert (counter("open"), counter("proposed"), counter("accepted"), counter("done-today")) == (
        "1",
        "1",
        "0",
        "1",
    )
    assert counter("volunteers") == "2"
    assert counter("given") == "1 task, 2 h"
    assert counter("median-acceptance").endswith("min")
    assert 'id="shortage-by-category-title"' in page and reverse("coordinator-export") in page


def test_anyone_finds_the_open_figures_from_the_home_page(client, community):
    page = client.get(reverse("home")).text
    assert reverse("transparency", args=[community.slug]) in page


def test_the_request_page_shows_who_holds_it_until_when_and_releases_it(client, coordinator, help_request):
    sign_in(client, coordinator)
    page = client.get(reverse("coordinator-request", args=[help_request.pk])).text
    assert "Hold for 15 minutes" in page and "Release hold" not in page
    response = client.post(reverse("coordinator-hold", args=[help_request.pk]))
    assert response.status_code == 302
    help_request.refresh_from_db()
    until = timezone.localtime(help_request.held_until).strftime("%H:%M")
    page = client.get(reverse("coordinator-request", args=[help_request.pk])).text
    assert f"Held by {coordinator.display_name} until {until}" in page
    assert "Release hold" in page and "Hold for 15 minutes" not in page
    assert f"Held away from matching until {until}" in page  # in the history
    client.post(reverse("coordinator-release-hold", args=[help_request.pk]))
    page = client.get(reverse("coordinator-request", args=[help_request.pk])).text
    assert "Held by" not in page and "Hold released" in page and "Hold for 15 minutes" in page


def test_the_dashboard_marks_a_held_request(client, coordinator, help_request):
    sign_in(client, coordinator)
    assert "data-held" not in client.get(reverse("dashboard")).text
    services.help_request_hold(help_request=help_request, coordinator=coordinator)
    assert "data-held" in client.get(reverse("dashboard")).text


def test_the_citizens_request_page_does_not_show_who_held_it(
    client, coordinator, citizen, help_request, volunteer
):
    services.help_request_hold(help_request=help_request, coordinator=coordinator)
    live = services.assignment_assign_by_coordinator(
        help_request=help_request, volunteer=volunteer, coordinator=coordinator, reason="nearby"
    )
    services.assignment_unassign(assignment=live, coordinator=coordinator, reason="she is ill")
    sign_in(client, citizen)
    page = client.get(reverse("request-detail", args=[help_request.pk])).text
    assert coordinator.display_name not in page
    assert "held" not in page.lower()


def test_a_coordinator_gives_a_live_task_to_another_volunteer_from_the_request_page(
    client, coordinator, proposal, volunteer, second_volunteer
):
    sign_in(client, coordinator)
    page = client.get(reverse("coordinator-request", args=[proposal.help_request_id])).text
    assert "Give to another volunteer instead" in page and "Assign a volunteer" not in page
    response = client.post(
        reverse("coordinator-reassign", args=[proposal.help_request_id]),
        {"volunteer": second_volunteer.pk, "reason": "She knows Mrs Peeters"},
    )
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == "cancelled"
    given = Assignment.objects.get(help_request_id=proposal.help_request_id, status="proposed")
    assert given.volunteer == second_volunteer
    page = client.get(reverse("coordinator-request", args=[proposal.help_request_id])).text
    assert f"Given to {second_volunteer.display_name} instead of {volunteer.display_name}" in page


def test_giving_a_task_to_the_volunteer_who_has_it_says_so_next_to_the_field(
    client, coordinator, proposal, volunteer
):
    sign_in(client, coordinator)
    response = client.post(
        reverse("coordinator-reassign", args=[proposal.help_request_id]),
        {"volunteer": volunteer.pk, "reason": "x"},
    )
    assert response.status_code == 200
    assert "already has this task" in response.text
    proposal.refresh_from_db()
    assert proposal.status == "proposed"


def test_unassigning_on_the_page_holds_the_request_and_assigning_then_succeeds(
    client, coordinator, proposal, second_volunteer
):
    sign_in(client, coordinator)
    request_id = proposal.help_request_id
    client.post(reverse("coordinator-unassign", args=[request_id]), {"reason": "fell ill"})
    run_due_matching()  # what the worker would do at once
    assert "Held by" in client.get(reverse("coordinator-request", args=[request_id])).text
    response = client.post(
        reverse("coordinator-assign", args=[request_id]),
        {"volunteer": second_volunteer.pk, "reason": "lives nearby"},
    )
    assert response.status_code == 302
    assert Assignment.objects.get(help_request_id=request_id, status="proposed").volunteer == second_volunteer


def test_a_caller_who_already_has_a_request_under_way_is_shown_it_and_nothing_is_filed(
    client, coordinator, shopping
):
    sign_in(client, coordinator)
    client.post(reverse("coordinator-intake"), intake_data(shopping))
    existing = HelpRequest.objects.get()

    # The same number typed another way: it is compared normalised.
    response = client.post(
        reverse("coordinator-intake"), intake_data(shopping, contact_phone="+32 16 23 45 67")
    )

    assert response.status_code == 200
    assert "Possible duplicate: this phone already has a request under way" in response.text
    assert reverse("coordinator-request", args=[existing.pk]) in response.text
    assert 'name="file_anyway"' in response.text
    assert "Tick this box to file a new one anyway." in response.text
    assert HelpRequest.objects.count() == 1


def test_the_coordinator_files_a_second_request_for_the_same_caller_when_they_confirm(
    client, coordinator, shopping
):
    sign_in(client, coordinator)
    client.post(reverse("coordinator-intake"), intake_data(shopping))

    response = client.post(
        reverse("coordinator-intake"),
        intake_data(shopping, description="A lift to the doctor.", file_anyway="on"),
    )

    assert response.status_code == 302
    assert HelpRequest.objects.filter(contact_phone="+3216234567").count() == 2


def test_a_citizen_account_with_the_callers_phone_counts_as_a_duplicate(
    client, coordinator, shopping, help_request, citizen
):
    sign_in(client, coordinator)
    response = client.post(
        reverse("coordinator-intake"), intake_data(shopping, contact_phone=str(citizen.phone))
    )
    assert response.status_code == 200
    assert reverse("coordinator-request", args=[help_request.pk]) in response.text
    assert HelpRequest.objects.count() == 1


def test_a_cancelled_request_is_no_duplicate(client, coordinator, shopping):
    sign_in(client, coordinator)
    client.post(reverse("coordinator-intake"), intake_data(shopping))
    services.help_request_cancel(help_request=HelpRequest.objects.get(), actor=coordinator)

    response = client.post(reverse("coordinator-intake"), intake_data(shopping, description="Soup."))

    assert response.status_code == 302
    assert HelpRequest.objects.count() == 2


def test_the_duplicate_warning_in_dutch_and_french(client, coordinator, shopping):
    sign_in(client, coordinator)
    client.post(reverse("coordinator-intake"), intake_data(shopping))

    for language in ("nl", "fr"):
        text = client.post(
            reverse("coordinator-intake"), intake_data(shopping), HTTP_ACCEPT_LANGUAGE=language
        ).text
        assert "Possible duplicate" not in text and "File it anyway" not in text
    assert HelpRequest.objects.count() == 1
