"""People's data: download, deletion that keeps statistics, retention, and the audit log."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from mutualaid.aid import services
from mutualaid.aid.models import Assignment, AuditEntry, HelpRequest, VolunteerOffer
from mutualaid.aid.personal_data import FORGOTTEN, personal_data_purge
from tests.conftest import LADEUZEPLEIN, NAAMSESTRAAT, PASSWORD, make_user, make_volunteer, post_request


def test_a_person_downloads_all_their_data_and_nobody_elses(client, citizen, proposal, volunteer):
    client.force_login(citizen)
    response = client.get(reverse("account-data"))
    assert response["Content-Disposition"].startswith("attachment")
    data = json.loads(response.content)
    assert data["account"]["username"] == "citizen" and data["account"]["phone"] == citizen.phone
    (request_data,) = data["help_requests"]
    assert request_data["address"] == "Naamsestraat 12, 3000 Leuven"
    assert [step["to"] for step in request_data["history"]][:1] == ["open"]
    assert f'"{volunteer.username}"' not in response.text and volunteer.phone not in response.text


def test_a_volunteers_download_lists_their_tasks_without_the_other_persons_details(
    client, proposal, volunteer
):
    client.force_login(volunteer)
    data = client.get(reverse("account-data")).json()
    assert data["volunteer_offer"]["skills"] == ["Pharmacy", "Shopping"]
    assert data["tasks_as_volunteer"][0]["category"] == "Shopping"
    assert "Peeters" not in json.dumps(data) and "Naamsestraat" not in json.dumps(data)


def test_deleting_an_account_needs_the_password(client, citizen):
    client.force_login(citizen)
    response = client.post(reverse("account"), {"password": "wrong"})
    assert response.status_code == 200 and "That is not your password." in response.text
    citizen.refresh_from_db()
    assert citizen.is_active


def test_deleting_an_account_removes_personal_data_but_keeps_the_statistics(
    client, citizen, community, shopping
):
    done = post_request(citizen, community, shopping)
    volunteer = make_volunteer("helper", community, [shopping], LADEUZEPLEIN)
    assignment = services.assignment_propose(help_request=done, volunteer=volunteer, km=0.5)
    services.assignment_accept(assignment=assignment, volunteer=volunteer)
    services.assignment_complete(assignment=assignment, volunteer=volunteer)
    open_request = post_request(citizen, community, shopping)
    client.force_login(citizen)
    response = client.post(reverse("account"), {"password": PASSWORD})
    assert response.status_code == 302

    citizen.refresh_from_db()
    assert (citizen.username, citizen.first_name, citizen.last_name, citizen.phone, citizen.email) == (
        f"deleted-{citizen.pk}",
        "",
        "",
        "",
        "",
    )
    assert not citizen.is_active and not citizen.has_usable_password()
    done.refresh_from_db()
    open_request.refresh_from_db()
    assert done.status == "done" and done.neighbourhood == "Leuven centrum"  # still counts where it helped
    assert done.description == FORGOTTEN and done.address == ""
    assert (done.latitude, done.longitude) != (50.8735, 4.7003)
    assert open_request.status == "cancelled"
    assert AuditEntry.objects.filter(action="account_deleted", subject=f"user:{citizen.pk}").exists()
    assert client.get(reverse("my-requests")).status_code == 302  # logged out


def test_a_deleted_volunteers_tasks_go_back_to_matching(proposal, volunteer, help_request):
    from mutualaid.aid.personal_data import account_delete

    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    account_delete(person=volunteer)
    help_request.refresh_from_db()
    proposal.refresh_from_db()
    assert help_request.status == "open" and proposal.status == "cancelled"
    assert not VolunteerOffer.objects.filter(volunteer=volunteer).exists()


def test_retention_forgets_details_of_long_finished_requests_only(citizen, community, shopping, capsys):
    old = post_request(citizen, community, shopping)
    services.help_request_cancel(help_request=old, actor=citizen)
    recent = post_request(citizen, community, shopping)
    services.help_request_cancel(help_request=recent, actor=citizen)
    still_open = post_request(citizen, community, shopping)
    HelpRequest.objects.filter(pk__in=[old.pk, still_open.pk]).update(
        updated_at=timezone.now() - dt.timedelta(days=400)
    )
    call_command("purge_personal_data", "--days", "180")
    assert "1 requests older than 180 days" in capsys.readouterr().out
    for help_request in (old, recent, still_open):
        help_request.refresh_from_db()
    assert old.description == FORGOTTEN and old.address == ""
    assert recent.description != FORGOTTEN and still_open.description != FORGOTTEN
    assert personal_data_purge(older_than_days=180) == 0  # nothing left to forget


def test_coordinator_actions_are_recorded_in_the_append_only_audit_log(coordinator, help_request, volunteer):
    services.assignment_assign_by_coordinator(
        help_request=help_request, volunteer=volunteer, coordinator=coordinator, reason="neighbours"
    )
    live = Assignment.objects.get(help_request=help_request)
    services.assignment_unassign(assignment=live, coordinator=coordinator, reason="ill")
    actions = list(AuditEntry.objects.order_by("pk").values_list("action", "actor", "before", "after"))
    assert [action for action, *_ in actions] == ["assign", "unassign"]
    assert actions[1][1] == coordinator.pk
    assert actions[1][2] == {"status": "proposed", "volunteer": volunteer.pk}
    assert actions[1][3] == {"status": "open", "reason": "ill"}


def test_the_audit_log_cannot_be_changed_in_the_admin(admin_client, coordinator, help_request, volunteer):
    services.assignment_assign_by_coordinator(
        help_request=help_request, volunteer=volunteer, coordinator=coordinator, reason="x"
    )
    entry = AuditEntry.objects.get()
    assert admin_client.get(reverse("admin:aid_auditentry_changelist")).status_code == 200
    assert (
        admin_client.post(
            reverse("admin:aid_auditentry_delete", args=[entry.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize("who", ["phone_intake", "called_back", "attach_to_account", "message", "cancel"])
def test_every_kind_of_coordinator_action_is_audited(
    who, coordinator, community, shopping, pharmacy, volunteer
):
    phoned = services.help_request_create(
        community=community, requester=None, created_by=coordinator, category=shopping, description="x",
        urgency=1, location=NAAMSESTRAAT, any_time=True, contact_name="Mrs Maes", contact_phone="016 234567",
    )  # fmt: skip
    if who == "called_back":
        services.help_request_mark_called_back(help_request=phoned, coordinator=coordinator)
    elif who == "attach_to_account":
        person = make_user("maes", community, phone="016 234567")
        services.help_request_attach_to_account(help_request=phoned, person=person, coordinator=coordinator)
    elif who == "message":
        volunteer.email = "v@example.org"
        volunteer.save()
        with transaction.atomic():
            services.coordinator_message_send(
                coordinator=coordinator, community=community, subject="Hello", body="x", skill=pharmacy
            )
    elif who == "cancel":
        services.help_request_cancel(help_request=phoned, actor=coordinator, reason="duplicate")
    assert AuditEntry.objects.filter(action=who, actor=coordinator).exists()
