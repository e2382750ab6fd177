"""A citizen changes a posted request while no one has accepted, and adds a note after."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from mutualaid.aid import services
from mutualaid.aid.models import AuditEntry, HelpRequest
from mutualaid.aid.personal_data import personal_data_export
from mutualaid.aid.states import AssignmentStatus, RequestStatus
from tests.conftest import KESSEL_LO, NAAMSESTRAAT, sign_in


def in_two_days() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=2)


def edit(help_request, actor, **changes):
    details = {
        "category": help_request.category,
        "description": help_request.description,
        "urgency": help_request.urgency,
        "location": NAAMSESTRAAT,
        "time_windows": [(in_two_days(), 1)],
    } | changes
    return services.help_request_edit(help_request=help_request, actor=actor, **details)


def test_an_open_request_is_changed_and_matched_again(help_request, citizen, pharmacy):
    changed = edit(
        help_request, citizen, category=pharmacy, description="My prescription.", location=KESSEL_LO
    )

    changed.refresh_from_db()
    assert (changed.category, changed.description, changed.neighbourhood) == (
        pharmacy,
        "My prescription.",
        "Kessel-Lo",
    )
    assert list(changed.time_windows.values_list("date", "part_of_day")) == [(in_two_days(), 1)]
    assert changed.status == RequestStatus.OPEN
    entry = AuditEntry.objects.get(action="request_edit")
    assert entry.after == {"changed": ["category", "description", "place", "when"]}


def test_changing_a_proposed_request_withdraws_the_proposal_and_records_why(proposal, citizen):
    changed = edit(proposal.help_request, citizen, description="Only bread now.")

    proposal.refresh_from_db()
    assert proposal.status == AssignmentStatus.CANCELLED
    assert changed.status == RequestStatus.OPEN
    last = changed.status_changes.filter(subject="request").last()
    assert (last.from_status, last.to_status, last.reason_label) == (
        "proposed",
        "open",
        "the request was changed",
    )


def test_an_accepted_request_cannot_be_changed_only_noted(proposal, citizen, volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)

    with pytest.raises(services.TaskActionError):
        edit(proposal.help_request, citizen, description="Changed my mind.")
    services.help_request_add_note(
        help_request=proposal.help_request, actor=citizen, note="Back door, please."
    )

    help_request = HelpRequest.objects.get(pk=proposal.help_request_id)
    assert help_request.description == "Groceries for the week, please."
    assert help_request.note_for_volunteer == "Back door, please."


def test_a_note_before_anyone_accepted_is_refused(help_request, citizen):
    with pytest.raises(services.TaskActionError):
        services.help_request_add_note(help_request=help_request, actor=citizen, note="Hello")


def test_a_passed_time_cannot_be_put_in_by_a_change(help_request, citizen):
    yesterday = timezone.localdate() - dt.timedelta(days=1)

    with pytest.raises(ValidationError):
        edit(help_request, citizen, time_windows=[(yesterday, 0)])

    assert help_request.time_windows.get().date != yesterday


def test_another_citizen_cannot_change_the_request(help_request, other_citizen):
    with pytest.raises(PermissionDenied):
        edit(help_request, other_citizen, description="Mine now.")


def test_the_note_reaches_the_volunteer_who_accepted_and_nobody_before(client, proposal, citizen, volunteer):
    sign_in(client, volunteer)
    task_url = reverse("task-detail", args=[proposal.pk])
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    services.help_request_add_note(
        help_request=proposal.help_request, actor=citizen, note="Back door, please."
    )

    assert "Back door, please." in client.get(task_url).content.decode()


def test_the_change_page_is_prefilled_and_saves(client, help_request, citizen):
    sign_in(client, citizen)
    url = reverse("request-edit", args=[help_request.pk])

    page = client.get(url).content.decode()
    assert "Groceries for the week, please." in page
    assert "Change your request" in page
    form = {
        "category": help_request.category_id,
        "description": "Groceries and a newspaper.",
        "urgency": "1",
        "address": "Naamsestraat 12, 3000 Leuven",
        "window_1_date": in_two_days().isoformat(),
        "window_1_part": "2",
    }
    response = client.post(url, form)

    assert response.status_code == 302
    help_request.refresh_from_db()
    assert help_request.description == "Groceries and a newspaper."


def test_a_bad_change_keeps_what_was_saved_and_says_what_is_wrong(client, help_request, citizen):
    sign_in(client, citizen)

    page = client.post(
        reverse("request-edit", args=[help_request.pk]),
        {"category": help_request.category_id, "description": "", "urgency": "1", "any_time": "on"},
    ).content.decode()

    assert "This field is required." in page
    help_request.refresh_from_db()
    assert help_request.description == "Groceries for the week, please."


def test_the_data_export_and_the_purge_cover_the_note(proposal, citizen, volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    services.help_request_add_note(
        help_request=proposal.help_request, actor=citizen, note="Key under the mat."
    )

    exported = personal_data_export(citizen)

    assert exported["help_requests"][0]["note_for_volunteer"] == "Key under the mat."
