"""Partner organisations and their referrers: inviting, joining, filing for a neighbour with
their consent, following the organisation's referrals, hearing of help, deactivating."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mutualaid.accounts.models import User
from mutualaid.aid import services
from mutualaid.aid.models import AuditEntry, HelpRequest
from mutualaid.aid.states import RequestStatus
from mutualaid.partners import referrals
from mutualaid.partners import services as partner_services
from mutualaid.partners.models import Referral, ReferrerInvitation
from notifications.models import OutgoingMessage
from tests.conftest import NAAMSESTRAAT, PASSWORD, sign_in
from tests.partners.conftest import invite, join, refer, signed_in

NEW_PASSWORD = "a-referrers-long-password-7"


def form_data(shopping, **extra) -> dict:
    data = {
        "contact_name": "Mrs Refsen",
        "contact_phone": "0470 55 66 77",
        "address": "Naamsestraat 12, 3000 Leuven",
        "category": shopping.pk,
        "description": "Groceries, she cannot walk far.",
        "urgency": 2,
        "any_time": "on",
        "consent": "on",
    }
    data.update(extra)
    return data


# Registering and inviting


def test_a_coordinator_registers_an_organisation_of_their_community_only(
    community, coordinator, outsider_coordinator
):
    organisation = referrals.organisation_register(community=community, name="OCMW", coordinator=coordinator)
    assert organisation.community == community and organisation.is_active
    assert AuditEntry.objects.filter(action="partner_register", community=community).exists()
    with pytest.raises(PermissionDenied):
        referrals.organisation_register(community=community, name="Other", coordinator=outsider_coordinator)


def test_the_invitation_goes_through_the_outbox_and_stores_only_a_hash_of_its_token(practice, coordinator):
    token = invite(practice, coordinator)
    mail = OutgoingMessage.objects.get(to_address="dr.janssens@example.org")
    assert mail.channel == OutgoingMessage.Channel.EMAIL and mail.recipient is None
    assert "Huisartsen Centrum" in mail.subject
    invitation = ReferrerInvitation.objects.get()
    assert token not in str(list(ReferrerInvitation.objects.values()))
    assert invitation.expires_at - timezone.now() > dt.timedelta(days=13)


def test_an_address_that_already_has_an_account_cannot_be_invited(practice, coordinator, citizen):
    citizen.email = "peeters@example.org"
    citizen.save()
    with pytest.raises(ValidationError):
        referrals.referrer_invite(
            organisation=practice, email="Peeters@example.org", invited_by=coordinator, language="en"
        )


def test_accepting_makes_a_referrer_account_of_no_community_that_signs_in(practice, coordinator):
    user = join(practice, coordinator)
    assert user.referrer.organisation == practice and user.is_referrer
    assert user.community is None and not user.is_coordinator
    assert Client().login(username="dr.janssens@example.org", password=PASSWORD)


def test_an_invitation_works_once(practice, coordinator):
    token = invite(practice, coordinator)
    invitation = referrals.invitation_find(token)
    referrals.invitation_accept(
        invitation=invitation, first_name="A", last_name="B", password=PASSWORD, language="en"
    )
    assert referrals.invitation_find(token) is None
    with pytest.raises(PermissionDenied):
        referrals.invitation_accept(
            invitation=invitation, first_name="C", last_name="D", password=PASSWORD, language="en"
        )


def test_an_expired_invitation_no_longer_works(practice, coordinator):
    token = invite(practice, coordinator)
    ReferrerInvitation.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert referrals.invitation_find(token) is None
    response = Client().get(reverse("referrer-invitation", args=[token]))
    assert response.status_code == 404
    assert b"no longer works" in response.content


def test_the_invitation_page_sets_name_and_password_and_signs_the_referrer_in(practice, coordinator):
    token = invite(practice, coordinator)
    client = Client()
    url = reverse("referrer-invitation", args=[token])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {"first_name": "Ann", "last_name": "Janssens", "password1": NEW_PASSWORD, "password2": "different"},
    )
    assert response.status_code == 200 and "The two passwords differ." in response.content.decode()
    response = client.post(
        url,
        {"first_name": "Ann", "last_name": "Janssens", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response.url == reverse("referrals")
    # Referrers see their neighbours' details: setting up two-step sign-in comes first.
    response = client.get(reverse("referrals"))
    assert response.status_code == 302 and response.url.startswith(reverse("two-factor-enrol"))
    user = User.objects.get(email="dr.janssens@example.org")
    sign_in(client, user)
    assert client.get(reverse("referrals")).status_code == 200
    assert user.first_name == "Ann" and user.check_password(NEW_PASSWORD)


def test_the_coordinator_page_invites_and_says_what_is_wrong_next_to_the_field(practice, coordinator):
    client = signed_in(coordinator)
    url = reverse("coordinator-partner", args=[practice.pk])
    response = client.post(url, {"email": "not an address"})
    assert response.status_code == 200 and "Enter a valid email address." in response.content.decode()
    response = client.post(url, {"email": "nurse@example.org"})
    assert response.status_code == 302
    assert OutgoingMessage.objects.filter(to_address="nurse@example.org").exists()
    assert "nurse@example.org" in client.get(url).content.decode()


# Filing for a neighbour


def test_a_referral_records_organisation_referrer_and_consent(referrer_user, practice, shopping):
    help_request = refer(referrer_user, shopping)
    referral = Referral.objects.get(help_request=help_request)
    assert referral.organisation == practice and referral.referrer.user == referrer_user
    assert referral.consent_recorded_by == referrer_user and referral.consent_recorded_at is not None
    assert help_request.partner == practice and help_request.requester is None
    assert help_request.created_by == referrer_user and help_request.contact_phone == "+32470556677"
    assert AuditEntry.objects.filter(action="referral_create", actor=referrer_user).exists()


def test_no_referral_without_the_neighbours_consent(referrer_user, shopping):
    with pytest.raises(ValidationError):
        refer(referrer_user, shopping, consent=False)
    assert not HelpRequest.objects.exists()


def test_the_consent_box_is_required_on_the_form(referrer_user, shopping):
    response = signed_in(referrer_user).post(reverse("referral-create"), form_data(shopping, consent=""))
    assert response.status_code == 200
    assert "Only with the neighbour&#x27;s consent" in response.content.decode()
    assert not HelpRequest.objects.exists()


def test_the_referral_form_files_the_request_with_the_phone_intakes_fields(referrer_user, practice, shopping):
    client = signed_in(referrer_user)
    page = client.get(reverse("referral-create")).content.decode()
    for label in ("Neighbour&#x27;s name", "Neighbour&#x27;s phone", "What kind of help?", "When?"):
        assert label in page
    response = client.post(reverse("referral-create"), form_data(shopping))
    assert response.status_code == 302 and response.url == reverse("referrals")
    help_request = HelpRequest.objects.get()
    assert help_request.referral.organisation == practice and help_request.contact_name == "Mrs Refsen"
    assert help_request.any_time and help_request.address.startswith("Naamsestraat")


def test_the_referral_form_shows_no_other_request_of_the_same_phone(
    referrer_user, community, coordinator, shopping
):
    services.help_request_create(
        community=community,
        requester=None,
        created_by=coordinator,
        category=shopping,
        description="Medicine",
        urgency=2,
        location=NAAMSESTRAAT,
        any_time=True,
        contact_name="Callsen",
        contact_phone="0470 55 66 77",
    )
    response = signed_in(referrer_user).post(reverse("referral-create"), form_data(shopping))
    assert response.status_code == 302 and "Callsen" not in response.content.decode()
    assert HelpRequest.objects.count() == 2


def test_a_deactivated_referrer_cannot_file(referrer_user, coordinator, shopping):
    referrals.referrer_deactivate(referrer=referrer_user.referrer, actor=coordinator)
    referrer_user.refresh_from_db()
    with pytest.raises(PermissionDenied):
        refer(referrer_user, shopping)


def test_a_referrer_of_another_organisation_cannot_file_in_its_name(
    referrer_user, other_practice, community, shopping
):
    with pytest.raises(PermissionDenied):
        services.help_request_create(
            community=community,
            requester=None,
            created_by=referrer_user,
            partner=other_practice,
            category=shopping,
            description="x",
            urgency=2,
            location=NAAMSESTRAAT,
            any_time=True,
            contact_name="X",
            contact_phone="0470 55 66 77",
        )


# Following


def test_a_referrer_follows_their_organisations_referrals_by_status_never_the_volunteer(
    referrer_user, practice, coordinator, shopping, volunteer
):
    colleague = join(practice, coordinator, email="nurse@example.org", first_name="Bert")
    mine = refer(referrer_user, shopping, name="Mrs Refsen")
    theirs = refer(colleague, shopping, name="Mr Colleaguesen")
    assignment = services.assignment_propose(help_request=mine, volunteer=volunteer, km=0.5)
    services.assignment_accept(assignment=assignment, volunteer=volunteer)
    page = signed_in(referrer_user).get(reverse("referrals")).content.decode()
    assert f"#{mine.pk}" in page and f"#{theirs.pk}" in page
    assert "Mrs Refsen" in page and "Mr Colleaguesen" in page and "Bert" in page
    assert str(RequestStatus.ACCEPTED.label) in page and str(RequestStatus.OPEN.label) in page
    assert volunteer.first_name not in page and "99 88 77" not in page and "Volunteer" not in page


def test_referrers_of_one_organisation_never_see_anothers_referrals(
    referrer_user, other_practice, coordinator, shopping
):
    outsider = join(other_practice, coordinator, email="social@example.org")
    refer(outsider, shopping, name="Mr Elsewhere")
    page = signed_in(referrer_user).get(reverse("referrals")).content.decode()
    assert "Mr Elsewhere" not in page and "No referrals yet." in page


def test_a_referrer_opens_no_request_page_dashboard_or_volunteers_page(referrer_user, shopping, help_request):
    referral = refer(referrer_user, shopping)
    client = signed_in(referrer_user)
    for url in (
        reverse("request-detail", args=[referral.pk]),
        reverse("request-detail", args=[help_request.pk]),
        reverse("coordinator-request", args=[referral.pk]),
        reverse("dashboard"),
        reverse("coordinator-partners"),
        reverse("request-create"),
        reverse("offer-edit"),
    ):
        assert client.get(url).status_code == 404, url
    assert client.get(reverse("inbox")).status_code == 302


def test_a_referrers_home_and_menu_lead_to_referrals_not_to_citizens_or_volunteers_pages(referrer_user):
    page = signed_in(referrer_user).get(reverse("home")).content.decode()
    assert reverse("referral-create") in page and reverse("referrals") in page
    assert reverse("inbox") not in page and reverse("request-create") not in page


def test_people_who_are_no_referrer_get_404_on_the_referrers_pages(citizen, coordinator):
    for person in (citizen, coordinator):
        client = signed_in(person)
        assert client.get(reverse("referrals")).status_code == 404
        assert client.get(reverse("referral-create")).status_code == 404


def test_coordinators_see_the_referrals_of_their_community_only(
    referrer_user, practice, coordinator, outsider_coordinator, shopping
):
    referral = refer(referrer_user, shopping)
    page = signed_in(coordinator).get(reverse("coordinator-partner", args=[practice.pk])).content.decode()
    assert "Mrs Refsen" in page and reverse("coordinator-request", args=[referral.pk]) in page
    assert signed_in(coordinator).get(reverse("coordinator-request", args=[referral.pk])).status_code == 200
    outsider = signed_in(outsider_coordinator)
    assert outsider.get(reverse("coordinator-partner", args=[practice.pk])).status_code == 404
    assert outsider.get(reverse("coordinator-request", args=[referral.pk])).status_code == 404


# Hearing of help


def test_the_referrer_is_emailed_when_help_is_arranged_and_done_without_the_volunteers_name(
    referrer_user, shopping, volunteer
):
    referral = refer(referrer_user, shopping)
    assignment = services.assignment_propose(help_request=referral, volunteer=volunteer, km=0.5)
    services.assignment_accept(assignment=assignment, volunteer=volunteer)
    arranged = OutgoingMessage.objects.get(recipient=referrer_user)
    assert arranged.channel == OutgoingMessage.Channel.EMAIL and arranged.to_address == referrer_user.email
    assert f"#{referral.pk}" in arranged.subject and "Mrs Refsen" in arranged.body
    assert volunteer.first_name not in arranged.body and "99 88 77" not in arranged.body
    assert reverse("referrals") in arranged.body
    services.assignment_complete(assignment=assignment, volunteer=volunteer)
    done = OutgoingMessage.objects.filter(recipient=referrer_user).latest("pk")
    assert done.pk != arranged.pk and volunteer.first_name not in done.body


def test_a_referrer_gets_no_text_message_even_if_they_chose_texts(referrer_user, shopping, volunteer):
    User.objects.filter(pk=referrer_user.pk).update(sms_notifications=True, phone="+32470123456")
    referral = refer(referrer_user, shopping)
    assignment = services.assignment_propose(help_request=referral, volunteer=volunteer, km=0.5)
    services.assignment_accept(assignment=assignment, volunteer=volunteer)
    channels = set(OutgoingMessage.objects.filter(recipient=referrer_user).values_list("channel", flat=True))
    assert channels == {OutgoingMessage.Channel.EMAIL}


def test_a_deactivated_referrer_hears_nothing_more(referrer_user, coordinator, shopping, volunteer):
    referral = refer(referrer_user, shopping)
    referrals.referrer_deactivate(referrer=referrer_user.referrer, actor=coordinator)
    assignment = services.assignment_propose(help_request=referral, volunteer=volunteer, km=0.5)
    services.assignment_accept(assignment=assignment, volunteer=volunteer)
    assert not OutgoingMessage.objects.filter(recipient=referrer_user).exists()


# Revoking


def test_deactivating_a_referrer_closes_their_sign_in_and_keeps_their_referrals(
    referrer_user, practice, coordinator, shopping
):
    referral = refer(referrer_user, shopping)
    client = signed_in(referrer_user)
    response = signed_in(coordinator).post(
        reverse("coordinator-referrer-deactivate", args=[referrer_user.referrer.pk])
    )
    assert response.status_code == 302
    assert client.get(reverse("referrals")).status_code == 302  # signed out: to the login page
    assert not Client().login(username=referrer_user.username, password=PASSWORD)
    assert Referral.objects.filter(help_request=referral).exists()
    assert AuditEntry.objects.filter(action="referrer_deactivate").exists()


def test_deactivating_an_organisation_stops_its_referrers_keys_and_invitations(
    referrer_user, practice, coordinator, shopping
):
    _key, token = partner_services.api_key_create(organisation=practice, created_by=coordinator)
    pending = invite(practice, coordinator, email="later@example.org")
    response = signed_in(coordinator).post(reverse("coordinator-partner-deactivate", args=[practice.pk]))
    assert response.status_code == 302
    practice.refresh_from_db()
    assert not practice.is_active
    assert not Client().login(username=referrer_user.username, password=PASSWORD)
    assert partner_services.api_key_authenticate(token) is None
    assert referrals.invitation_find(pending) is None
    with pytest.raises(PermissionDenied):
        referrals.referrer_invite(
            organisation=practice, email="x@example.org", invited_by=coordinator, language="en"
        )


def test_only_the_communitys_coordinator_deactivates(referrer_user, practice, outsider_coordinator, citizen):
    for person in (outsider_coordinator, citizen, referrer_user):
        client = signed_in(person)
        assert client.post(reverse("coordinator-partner-deactivate", args=[practice.pk])).status_code == 404
        assert (
            client.post(
                reverse("coordinator-referrer-deactivate", args=[referrer_user.referrer.pk])
            ).status_code
            == 404
        )
    practice.refresh_from_db()
    referrer_user.referrer.refresh_from_db()
    assert practice.is_active and referrer_user.referrer.deactivated_at is None


def test_the_organisations_page_registers_one_and_lists_it(coordinator, community):
    client = signed_in(coordinator)
    response = client.post(reverse("coordinator-partners"), {"name": "Wijkgezondheidscentrum"})
    assert response.status_code == 302
    assert "Wijkgezondheidscentrum" in client.get(reverse("coordinator-partners")).content.decode()
    response = client.post(reverse("coordinator-partners"), {"name": ""})
    assert response.status_code == 200 and "This field is required." in response.content.decode()


def test_a_deactivated_organisation_gets_no_new_key(practice, coordinator):
    referrals.organisation_deactivate(organisation=practice, actor=coordinator)
    with pytest.raises(PermissionDenied):
        partner_services.api_key_create(organisation=practice, created_by=coordinator)
    response = signed_in(coordinator).post(reverse("coordinator-api-keys"), {"organisation": practice.name})
    assert response.status_code == 200
    assert "This organisation is deactivated: it gets no keys." in response.content.decode()
    assert not practice.api_keys.exists()
