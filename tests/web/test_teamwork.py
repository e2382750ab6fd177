"""Coordinators working on one request together: team notes, and taking a call so that two
coordinators never call the same person."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from mutualaid.aid import services
from mutualaid.aid.models import AuditEntry, HelpRequest, TeamNote
from notifications.kinds import ChangeKind
from tests.conftest import NAAMSESTRAAT, make_user, sign_in


@pytest.fixture
def colleague(community):
    return make_user(
        "an", community, first_name="An", last_name="Janssens", is_coordinator=True, is_staff=True
    )


@pytest.fixture
def phoned_in(coordinator, community, shopping) -> HelpRequest:
    return services.help_request_create(
        community=community,
        requester=None,
        created_by=coordinator,
        contact_name="Mrs Maes",
        contact_phone="+3216234567",
        category=shopping,
        description="Bread and soup.",
        urgency=2,
        location=NAAMSESTRAAT,
        time_windows=[],
        any_time=True,
    )


def page(client, user, help_request) -> str:
    sign_in(client, user)
    response = client.get(reverse("coordinator-request", args=[help_request.pk]))
    assert response.status_code == 200
    return response.text


# Team notes


def test_a_coordinators_team_note_shows_on_the_request_page_with_who_and_when(
    client, coordinator, colleague, help_request
):
    sign_in(client, coordinator)
    response = client.post(
        reverse("coordinator-team-note", args=[help_request.pk]), {"text": "Daughter visits on Fridays."}
    )
    assert response.status_code == 302
    note = TeamNote.objects.get()
    assert (note.author, note.text) == (coordinator, "Daughter visits on Fridays.")
    text = page(client, colleague, help_request)
    assert "Daughter visits on Fridays." in text and "Coordinator" in text


def test_a_team_note_is_in_the_history_and_the_audit_log_without_its_words(client, coordinator, help_request):
    note = services.team_note_add(help_request=help_request, coordinator=coordinator, text="Hard of hearing.")
    entry = AuditEntry.objects.get(action="team_note")
    assert entry.subject == f"help_request:{help_request.pk}" and entry.after == {"note": note.pk}
    history = page(client, coordinator, help_request).split("Every change of this request")[1]
    assert "Team note" in history and "Hard of hearing." in history


def test_team_notes_are_never_shown_to_the_citizen_or_the_volunteer(
    client, coordinator, citizen, volunteer, proposal
):
    help_request = proposal.help_request
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    services.team_note_add(help_request=help_request, coordinator=coordinator, text="SECRET-TEAM-NOTE")
    sign_in(client, citizen)
    assert "SECRET-TEAM-NOTE" not in client.get(reverse("request-detail", args=[help_request.pk])).text
    sign_in(client, volunteer)
    assert "SECRET-TEAM-NOTE" not in client.get(reverse("task-detail", args=[proposal.pk])).text
    assert "SECRET-TEAM-NOTE" not in client.get(reverse("inbox")).text


@pytest.mark.parametrize("who", ["citizen", "volunteer", "outsider_coordinator"])
def test_only_coordinators_of_the_community_can_add_a_team_note(client, request, help_request, who):
    sign_in(client, request.getfixturevalue(who))
    response = client.post(reverse("coordinator-team-note", args=[help_request.pk]), {"text": "Hello"})
    assert response.status_code == 404
    assert not TeamNote.objects.exists()


def test_the_service_refuses_a_coordinator_of_another_community(outsider_coordinator, help_request):
    with pytest.raises(PermissionDenied):
        services.team_note_add(help_request=help_request, coordinator=outsider_coordinator, text="Hi")


def test_an_empty_team_note_is_refused_at_the_field(client, coordinator, help_request):
    sign_in(client, coordinator)
    response = client.post(reverse("coordinator-team-note", args=[help_request.pk]), {"text": "  "})
    assert response.status_code == 200
    assert "This field is required." in response.text
    assert not TeamNote.objects.exists()


def test_the_api_gives_a_partner_no_team_notes_nor_who_has_the_call(community, shopping, coordinator):
    from django.test import Client

    from tests.partners.test_api import BASE, create, key_for

    key = key_for(community)
    partner = Client(HTTP_AUTHORIZATION=f"Bearer {key}", enforce_csrf_checks=True)
    created = create(partner)
    assert created.status_code == 201, created.content
    help_request = HelpRequest.objects.get(pk=int(created.json()["id"]))
    services.team_note_add(help_request=help_request, coordinator=coordinator, text="SECRET-TEAM-NOTE")
    services.call_take(help_request=help_request, coordinator=coordinator)
    open311 = f"/open311/v2/requests/{help_request.pk}.json?jurisdiction_id={community.slug}&api_key={key}"
    answers = [
        partner.get(f"{BASE}/requests/{help_request.pk}"),
        partner.get(f"{BASE}/requests"),
        Client().get(open311),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.content
        assert "SECRET-TEAM-NOTE" not in answer.text and "Coordinator" not in answer.text


# Taking a call


def test_taking_a_call_shows_who_has_it_to_the_other_coordinators(client, coordinator, colleague, phoned_in):
    sign_in(client, colleague)
    response = client.post(reverse("coordinator-call-take", args=[phoned_in.pk]), {"kind": "call_back"})
    assert response.status_code == 302
    phoned_in.refresh_from_db()
    since = timezone.localtime(phoned_in.call_taken_at).strftime("%H:%M")
    assert phoned_in.call_taken_by == colleague and phoned_in.call_is_taken
    assert f"Taken by An Janssens (since {since})" in page(client, coordinator, phoned_in)
    sign_in(client, coordinator)
    dashboard = client.get(reverse("dashboard")).text
    assert f"Taken by An Janssens (since {since})" in dashboard


def test_taking_a_call_someone_has_says_who_has_it_and_changes_nothing(
    client, coordinator, colleague, phoned_in
):
    services.call_take(help_request=phoned_in, coordinator=colleague, kind="follow_up")
    sign_in(client, coordinator)
    response = client.post(
        reverse("coordinator-call-take", args=[phoned_in.pk]), {"kind": "call_back"}, follow=True
    )
    assert "An Janssens has taken this call (since" in response.text
    phoned_in.refresh_from_db()
    assert phoned_in.call_taken_by == colleague and phoned_in.call_kind == "follow_up"


def test_two_coordinators_who_loaded_the_page_before_either_took_it_cannot_both_have_it(
    coordinator, colleague, phoned_in
):
    # Both hold the same stale copy of the request (read before either clicked).
    stale = HelpRequest.objects.get(pk=phoned_in.pk)
    services.call_take(help_request=stale, coordinator=colleague)
    with pytest.raises(services.TaskActionError, match="An Janssens has taken this call"):
        services.call_take(help_request=stale, coordinator=coordinator)
    assert AuditEntry.objects.filter(action="call_taken").count() == 1


def test_a_call_left_taken_lapses_after_the_setting_and_another_can_take_it(
    settings, coordinator, colleague, phoned_in
):
    settings.CALL_CLAIM_MINUTES = 120
    services.call_take(help_request=phoned_in, coordinator=colleague)
    HelpRequest.objects.filter(pk=phoned_in.pk).update(
        call_taken_until=timezone.now() - dt.timedelta(seconds=1)
    )
    phoned_in.refresh_from_db()
    assert not phoned_in.call_is_taken
    taken = services.call_take(help_request=phoned_in, coordinator=coordinator)
    assert taken.call_taken_by == coordinator
    assert taken.call_taken_until - taken.call_taken_at == dt.timedelta(minutes=120)


def test_the_taker_releases_the_call_and_only_the_taker_can(client, coordinator, colleague, phoned_in):
    services.call_take(help_request=phoned_in, coordinator=colleague)
    with pytest.raises(services.TaskActionError, match="An Janssens has taken this call"):
        services.call_release(help_request=phoned_in, coordinator=coordinator)
    sign_in(client, colleague)
    client.post(reverse("coordinator-call-release", args=[phoned_in.pk]))
    phoned_in.refresh_from_db()
    assert not phoned_in.call_is_taken and phoned_in.call_taken_by is None
    assert "Nobody is calling this person now." in page(client, coordinator, phoned_in)


def test_a_call_done_becomes_a_team_note_and_leaves_the_call_back_list(
    client, colleague, volunteer, phoned_in
):
    proposal = services.assignment_propose(help_request=phoned_in, volunteer=volunteer, km=1)
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    sign_in(client, colleague)
    assert "Mrs Maes" in client.get(reverse("coordinator-callbacks")).text
    next_url = reverse("coordinator-callbacks")
    client.post(
        reverse("coordinator-call-take", args=[phoned_in.pk]), {"kind": "call_back", "next": next_url}
    )
    response = client.post(
        reverse("coordinator-call-done", args=[phoned_in.pk]),
        {"outcome": "She knows Fatima comes at 10.", "next": next_url},
    )
    assert response.status_code == 302 and response.url == next_url
    note = TeamNote.objects.get()
    assert note.text == "Called: She knows Fatima comes at 10." and note.author == colleague
    phoned_in.refresh_from_db()
    assert not phoned_in.call_is_taken
    assert "Mrs Maes" not in client.get(reverse("coordinator-callbacks")).text
    history = page(client, colleague, phoned_in).split("Every change of this request")[1]
    assert "Call taken (call-back)" in history and "Call made (call-back)" in history
    assert "Called: She knows Fatima comes at 10." in history


def test_saying_a_call_is_done_without_what_was_said_is_refused_at_the_field(client, colleague, phoned_in):
    services.call_take(help_request=phoned_in, coordinator=colleague)
    sign_in(client, colleague)
    response = client.post(reverse("coordinator-call-done", args=[phoned_in.pk]), {"outcome": ""})
    assert response.status_code == 200 and "This field is required." in response.text
    phoned_in.refresh_from_db()
    assert phoned_in.call_is_taken


def test_a_next_address_elsewhere_is_not_followed(client, colleague, phoned_in):
    sign_in(client, colleague)
    response = client.post(
        reverse("coordinator-call-take", args=[phoned_in.pk]), {"next": "https://evil.example/"}
    )
    assert response.url == reverse("coordinator-request", args=[phoned_in.pk])


@pytest.mark.parametrize("who", ["citizen", "volunteer", "outsider_coordinator"])
def test_only_coordinators_of_the_community_can_take_a_call(client, request, phoned_in, who):
    sign_in(client, request.getfixturevalue(who))
    assert client.post(reverse("coordinator-call-take", args=[phoned_in.pk])).status_code == 404
    phoned_in.refresh_from_db()
    assert phoned_in.call_taken_by is None


def test_an_unknown_kind_of_call_is_refused(colleague, phoned_in):
    with pytest.raises(ValidationError):
        services.call_take(help_request=phoned_in, coordinator=colleague, kind="visit")


def test_taking_releasing_and_noting_tell_the_communitys_open_pages(
    colleague, phoned_in, django_capture_on_commit_callbacks, monkeypatch
):
    told = []
    monkeypatch.setattr(
        "mutualaid.aid.services.teamwork.publish_community_change",
        lambda *, community_id, change: told.append((community_id, change)),
    )
    services.call_take(help_request=phoned_in, coordinator=colleague)
    services.call_release(help_request=phoned_in, coordinator=colleague)
    services.team_note_add(help_request=phoned_in, coordinator=colleague, text="Note")
    assert told == [
        (phoned_in.community_id, ChangeKind.CALL_TAKEN),
        (phoned_in.community_id, ChangeKind.CALL_RELEASED),
        (phoned_in.community_id, ChangeKind.TEAM_NOTE),
    ]


def test_the_teams_kinds_are_not_told_to_citizens_pages():
    from notifications.kinds import for_page_script

    kinds = for_page_script()["task_kinds"]
    assert not {"team_note", "call_taken", "call_released", "concern", "suspension"} & set(kinds)


def test_the_call_back_lists_i_called_button_also_ends_a_taken_call(client, colleague, volunteer, phoned_in):
    proposal = services.assignment_propose(help_request=phoned_in, volunteer=volunteer, km=1)
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    services.call_take(help_request=phoned_in, coordinator=colleague)
    sign_in(client, colleague)
    client.post(reverse("coordinator-callback-done", args=[phoned_in.pk]))
    phoned_in.refresh_from_db()
    assert not phoned_in.call_is_taken and phoned_in.called_back_status == "accepted"
