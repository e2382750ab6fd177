"""A referrer cancelling a referral they made; coordinators deactivating and reactivating
referrers and organisations; the partner models in the admin (read-only, scoped)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from mutualaid.aid import services
from mutualaid.aid.demo import grant_coordinator_admin
from mutualaid.aid.models import AuditEntry, HelpRequest, StatusChange
from mutualaid.aid.personal_data import account_delete
from mutualaid.aid.states import AssignmentStatus, RequestStatus
from mutualaid.partners import referrals
from mutualaid.partners import services as partner_services
from mutualaid.partners.models import ApiKey, PartnerOrganisation, Referral
from tests.conftest import PASSWORD, sign_in
from tests.partners.conftest import join, refer, signed_in


@pytest.fixture
def colleague(practice, coordinator):
    return join(practice, coordinator, email="dr.peeters@example.org", first_name="Bart")


def status_of(help_request: HelpRequest) -> str:
    return HelpRequest.objects.get(pk=help_request.pk).status


# A referrer cancels what they referred


def test_a_referrer_cancels_their_referral_after_a_question_and_the_volunteer_hears_it_live(
    referrer_user, shopping, volunteer, monkeypatch
):
    referral = refer(referrer_user, shopping)
    assignment = services.assignment_propose(help_request=referral, volunteer=volunteer, km=1.0)
    services.assignment_accept(assignment=assignment, volunteer=volunteer)
    live_events = []
    monkeypatch.setattr("notifications.dispatch.publish_task_changes", live_events.extend)
    client = signed_in(referrer_user)
    url = reverse("referral-cancel", args=[referral.pk])

    listing = client.get(reverse("referrals")).content.decode()
    question = client.get(url)
    assert f'href="{url}"' in listing  # a link to a question: works without JavaScript
    assert question.status_code == 200
    assert (
        "A volunteer has already accepted it: they will be told it is cancelled." in question.content.decode()
    )
    assert status_of(referral) == RequestStatus.ACCEPTED  # asking changes nothing

    response = client.post(url, {"reason": "her son came home"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("referrals")
    assert f"Request #{referral.pk} for Mrs Refsen is cancelled." in response.content.decode()
    assert status_of(referral) == RequestStatus.CANCELLED
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.CANCELLED
    change = StatusChange.objects.filter(help_request=referral).latest("pk")
    assert (change.actor, change.reason) == (referrer_user, "her son came home")
    assert AuditEntry.objects.filter(action="referral_cancel", actor=referrer_user).exists()
    # As when a citizen cancels: the volunteer's pages (and the dashboard) hear it.
    [(groups, event)] = live_events
    assert (event["status"], event["change"]) == ("cancelled", "cancelled")
    assert f"person-{volunteer.pk}" in groups


def test_a_finished_referral_cannot_be_cancelled_and_says_so(referrer_user, shopping):
    referral = refer(referrer_user, shopping)
    referrals.referral_cancel(referrer=referrer_user.referrer, help_request=referral)
    client = signed_in(referrer_user)

    asked = client.get(reverse("referral-cancel", args=[referral.pk]), follow=True)
    again = client.post(reverse("referral-cancel", args=[referral.pk]), follow=True)

    assert f"Request #{referral.pk} is already Cancelled." in asked.content.decode()
    assert "already Cancelled" in again.content.decode()
    assert StatusChange.objects.filter(help_request=referral, to_status=RequestStatus.CANCELLED).count() == 1
    assert (
        f'href="{reverse("referral-cancel", args=[referral.pk])}"'
        not in client.get(reverse("referrals")).content.decode()
    )


def test_only_the_referrer_who_filed_it_cancels_a_referral(
    referrer_user, colleague, other_practice, coordinator, shopping, citizen
):
    referral = refer(referrer_user, shopping)
    elsewhere = join(other_practice, coordinator, email="ocmw@example.org")

    for person in (colleague, elsewhere, citizen):
        assert signed_in(person).post(reverse("referral-cancel", args=[referral.pk])).status_code == 404
        with pytest.raises(PermissionDenied):
            services.help_request_cancel(help_request=referral, actor=person)
    assert status_of(referral) == RequestStatus.OPEN
    # The colleague sees it (their organisation's) but is offered no cancel link for it.
    assert (
        f'href="{reverse("referral-cancel", args=[referral.pk])}"'
        not in signed_in(colleague).get(reverse("referrals")).content.decode()
    )


def test_a_deactivated_referrer_cancels_nothing(referrer_user, coordinator, shopping):
    referral = refer(referrer_user, shopping)
    referrals.referrer_deactivate(referrer=referrer_user.referrer, actor=coordinator)

    with pytest.raises(PermissionDenied):
        referrals.referral_cancel(referrer=referrer_user.referrer, help_request=referral)
    assert status_of(referral) == RequestStatus.OPEN


# Deactivating and reactivating


def test_a_coordinator_reactivates_a_referrer_who_signs_in_again(referrer_user, coordinator, practice):
    referrer = referrer_user.referrer
    client = signed_in(coordinator)
    client.post(reverse("coordinator-referrer-deactivate", args=[referrer.pk]))
    assert not Client().login(username=referrer_user.username, password=PASSWORD)
    page = client.get(reverse("coordinator-partner", args=[practice.pk])).content.decode()
    assert f'action="{reverse("coordinator-referrer-reactivate", args=[referrer.pk])}"' in page

    response = client.post(reverse("coordinator-referrer-reactivate", args=[referrer.pk]), follow=True)

    assert "Ann Janssens can sign in again." in response.content.decode()
    referrer.refresh_from_db()
    assert referrer.is_active
    assert Client().login(username=referrer_user.username, password=PASSWORD)
    assert AuditEntry.objects.filter(action="referrer_reactivate", actor=coordinator).count() == 1


def test_reactivating_an_organisation_restores_its_referrers_but_no_revoked_key(
    referrer_user, colleague, practice, coordinator, shopping
):
    key, token = partner_services.api_key_create(organisation=practice, created_by=coordinator)
    # Bart was deactivated on his own before the organisation: he stays deactivated.
    referrals.referrer_deactivate(referrer=colleague.referrer, actor=coordinator)
    client = signed_in(coordinator)
    client.post(reverse("coordinator-partner-deactivate", args=[practice.pk]))
    page = client.get(reverse("coordinator-partner", args=[practice.pk])).content.decode()
    assert f'action="{reverse("coordinator-partner-reactivate", args=[practice.pk])}"' in page

    response = client.post(reverse("coordinator-partner-reactivate", args=[practice.pk]), follow=True)

    assert "Huisartsen Centrum is active again" in response.content.decode()
    practice.refresh_from_db()
    assert practice.is_active
    assert Client().login(username=referrer_user.username, password=PASSWORD)
    assert not Client().login(username=colleague.username, password=PASSWORD)
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert partner_services.api_key_authenticate(token) is None
    assert partner_services.api_key_create(organisation=practice, created_by=coordinator)[0].is_active
    entry = AuditEntry.objects.get(action="partner_reactivate")
    assert entry.actor == coordinator and entry.after["referrers"] == [referrer_user.email]


def test_no_key_of_a_deactivated_organisation_works_even_one_not_revoked(practice, coordinator):
    _key, token = partner_services.api_key_create(organisation=practice, created_by=coordinator)
    PartnerOrganisation.objects.filter(pk=practice.pk).update(deactivated_at=practice.created_at)

    assert partner_services.api_key_authenticate(token) is None
    response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/categories")
    assert response.status_code == 401


def test_a_referrer_of_a_deactivated_organisation_is_not_reactivated_alone(
    referrer_user, practice, coordinator
):
    referrals.organisation_deactivate(organisation=practice, actor=coordinator)

    response = signed_in(coordinator).post(
        reverse("coordinator-referrer-reactivate", args=[referrer_user.referrer.pk]), follow=True
    )

    assert "Reactivate the organisation first." in response.content.decode()
    assert not Client().login(username=referrer_user.username, password=PASSWORD)


def test_a_referrer_who_deleted_their_account_stays_deleted(referrer_user, coordinator):
    account_delete(person=referrer_user)
    referrals.referrer_deactivate(referrer=referrer_user.referrer, actor=coordinator)

    with pytest.raises(ValidationError):
        referrals.referrer_reactivate(referrer=referrer_user.referrer, actor=coordinator)
    referrer_user.refresh_from_db()
    assert not referrer_user.is_active


def test_only_the_communitys_coordinator_reactivates(
    referrer_user, practice, coordinator, outsider_coordinator, citizen
):
    referrals.organisation_deactivate(organisation=practice, actor=coordinator)
    for person in (outsider_coordinator, citizen):
        client = signed_in(person)
        assert client.post(reverse("coordinator-partner-reactivate", args=[practice.pk])).status_code == 404
        assert (
            client.post(
                reverse("coordinator-referrer-reactivate", args=[referrer_user.referrer.pk])
            ).status_code
            == 404
        )
        assert client.get(reverse("coordinator-partner-reactivate", args=[practice.pk])).status_code == 405
    practice.refresh_from_db()
    assert not practice.is_active
    with pytest.raises(PermissionDenied):
        referrals.organisation_reactivate(organisation=practice, actor=outsider_coordinator)


# The admin: read-only, scoped


@pytest.fixture
def herent_referral(other_community, outsider_coordinator):
    from mutualaid.aid.models import Category

    gardening = Category.objects.create(community=other_community, slug="gardening", name="Gardening")
    organisation = referrals.organisation_register(
        community=other_community, name="Herent OCMW", coordinator=outsider_coordinator
    )
    herent_referrer = join(organisation, outsider_coordinator, email="herent@example.org")
    return refer(herent_referrer, gardening, name="Mr Elsewhereson")


@pytest.mark.parametrize(
    "model", ["partnerorganisation", "apikey", "referrer", "referrerinvitation", "referral"]
)
def test_the_admin_lists_a_coordinators_own_partners_read_only(
    client, coordinator, referrer_user, practice, shopping, herent_referral, model
):
    partner_services.api_key_create(organisation=practice, created_by=coordinator)
    refer(referrer_user, shopping)
    referrals.referrer_invite(
        organisation=practice, email="later@example.org", invited_by=coordinator, language="en"
    )
    grant_coordinator_admin(coordinator)
    sign_in(client, coordinator)

    listed = client.get(reverse(f"admin:partners_{model}_changelist"))

    assert listed.status_code == 200
    rows = list(listed.context["cl"].result_list)
    assert rows
    assert all("Herent" not in str(row) and "herent" not in str(row) for row in rows)
    assert "Herent OCMW" not in listed.content.decode()
    viewed = client.get(reverse(f"admin:partners_{model}_change", args=[rows[0].pk]))
    assert viewed.status_code == 200
    assert viewed.context["has_change_permission"] is False
    assert "hash" not in viewed.content.decode().lower()
    assert client.get(reverse(f"admin:partners_{model}_add")).status_code == 403
    assert (
        client.post(reverse(f"admin:partners_{model}_delete", args=[rows[0].pk]), {"post": "yes"}).status_code
        == 403
    )


def test_another_communitys_referral_is_not_found_in_the_admin(client, coordinator, herent_referral):
    grant_coordinator_admin(coordinator)
    sign_in(client, coordinator)
    referral = Referral.objects.get(help_request=herent_referral)

    response = client.get(reverse("admin:partners_referral_change", args=[referral.pk]))

    assert response.status_code == 302 and response.url == reverse("admin:index")
