"""/api/v1/ with a referrer's session (signed in on the site): they act for their
organisation under the referrer rules, with Django's CSRF check for unsafe methods."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from mutualaid.aid import services
from mutualaid.aid.models import AuditEntry, HelpRequest
from mutualaid.aid.states import RequestStatus
from mutualaid.partners import referrals
from mutualaid.partners import services as partner_services
from mutualaid.partners.models import Referral
from tests.conftest import NAAMSESTRAAT, make_volunteer, sign_in
from tests.partners.conftest import join, refer

BASE = "/api/v1"
NEW = {
    "category": "shopping",
    "description": "Groceries twice a week.",
    "name": "Maria De Smet",
    "phone": "+32 470 55 66 77",
    "consent": True,
    "address": "Naamsestraat 12, 3000 Leuven",
    "urgency": 2,
}


def browser(user) -> Client:
    """A browser signed in as the user, with Django's CSRF checks on (as in real life)."""
    client = Client(enforce_csrf_checks=True)
    sign_in(client, user)
    client.get(reverse("account"))  # a page with a form: sets the csrftoken cookie
    return client


def csrf_header(client: Client) -> dict:
    return {"X-CSRFToken": client.cookies["csrftoken"].value}


def create(client: Client, *, with_token: bool = True, **changes):
    return client.post(
        f"{BASE}/requests",
        NEW | changes,
        content_type="application/json",
        headers=csrf_header(client) if with_token else {},
    )


@pytest.fixture
def session(referrer_user) -> Client:
    return browser(referrer_user)


def test_a_referrers_session_files_a_referral_of_their_organisation_with_the_csrf_token(
    session, referrer_user, practice, shopping
):
    response = create(session)

    assert response.status_code == 201, response.content
    help_request = HelpRequest.objects.get(pk=int(response.json()["id"]))
    assert help_request.partner == practice and help_request.requester is None
    assert help_request.created_by == referrer_user  # the referrer, not the organisation's system user
    referral = Referral.objects.get(help_request=help_request)
    assert referral.referrer == referrer_user.referrer
    assert referral.consent_recorded_by == referrer_user


def test_without_the_csrf_token_a_session_files_nothing(session, shopping):
    response = create(session, with_token=False)

    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert "CSRF" in response.json()["detail"]
    assert not HelpRequest.objects.exists()


def test_reading_needs_no_csrf_token(session, referrer_user, shopping):
    referral = refer(referrer_user, shopping)

    response = session.get(f"{BASE}/requests/{referral.pk}")

    assert response.status_code == 200
    assert response.json()["status"] == "open"


def test_a_referrer_sees_their_organisations_requests_only(
    session, referrer_user, practice, other_practice, coordinator, shopping
):
    colleague = join(practice, coordinator, email="dr.peeters@example.org", first_name="Bart")
    own = refer(referrer_user, shopping)
    colleagues = refer(colleague, shopping)
    # The organisation's key filed one too: the key sees it, the referrer (as on their
    # page) sees their organisation's referrals only.
    key = partner_services.api_key_create(organisation=practice, created_by=coordinator)[1]
    key_client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    by_key = key_client.post(f"{BASE}/requests", NEW, content_type="application/json").json()["id"]
    elsewhere = refer(join(other_practice, coordinator, email="ocmw@example.org"), shopping)

    listed = session.get(f"{BASE}/requests").json()

    assert {item["id"] for item in listed["items"]} == {str(own.pk), str(colleagues.pk)}
    assert listed["count"] == 2
    for hidden in (by_key, elsewhere.pk):
        assert session.get(f"{BASE}/requests/{hidden}").json()["error"] == "not_found"
    assert key_client.get(f"{BASE}/requests").json()["count"] == 3  # the key: the organisation's all


def test_the_volunteers_contact_never_reaches_the_referrer(session, referrer_user, shopping, community):
    referral = refer(referrer_user, shopping)
    helper = make_volunteer("vandessel", community, [shopping], NAAMSESTRAAT)
    assignment = services.assignment_propose(help_request=referral, volunteer=helper, km=1.0)
    services.assignment_accept(assignment=assignment, volunteer=helper)

    body = session.get(f"{BASE}/requests/{referral.pk}").content.decode()
    listing = session.get(f"{BASE}/requests").content.decode()

    assert json.loads(body)["status"] == "accepted"
    for text in (body, listing):
        # make_volunteer: first name Vandessel, last name Volunteer, phone +32 470 99 88 77.
        assert "Vandessel" not in text and "Volunteer" not in text and "99 88 77" not in text
        assert "+32470998877" not in text


def test_a_session_cancels_the_referrers_own_referral_with_the_csrf_token(session, referrer_user, shopping):
    referral = refer(referrer_user, shopping)
    url = f"{BASE}/requests/{referral.pk}/cancel?reason=sorted"

    refused = session.post(url)
    cancelled = session.post(url, headers=csrf_header(session))

    assert refused.status_code == 403
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert HelpRequest.objects.get(pk=referral.pk).status == RequestStatus.CANCELLED
    assert AuditEntry.objects.filter(action="referral_cancel", actor=referrer_user).exists()


def test_a_session_cannot_cancel_a_colleagues_referral(session, practice, coordinator, shopping):
    colleague = join(practice, coordinator, email="dr.peeters@example.org", first_name="Bart")
    theirs = refer(colleague, shopping)

    response = session.post(f"{BASE}/requests/{theirs.pk}/cancel", headers=csrf_header(session))

    assert response.status_code == 403
    assert response.json() == {
        "error": "forbidden",
        "detail": "only the referrer who filed this request can cancel it",
    }
    assert HelpRequest.objects.get(pk=theirs.pk).status == RequestStatus.OPEN


@pytest.mark.parametrize("persona", ["citizen", "coordinator", "volunteer"])
def test_no_other_session_is_a_caller_of_the_api(request, persona, shopping):
    client = browser(request.getfixturevalue(persona))

    assert client.get(f"{BASE}/categories").status_code == 401
    response = create(client)
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"
    assert not HelpRequest.objects.exists()


def test_a_deactivated_referrers_session_no_longer_works(session, referrer_user, coordinator, shopping):
    referrals.referrer_deactivate(referrer=referrer_user.referrer, actor=coordinator)

    assert session.get(f"{BASE}/requests").status_code == 401


def test_a_bad_key_is_refused_even_with_a_referrers_session(session, shopping):
    response = session.get(f"{BASE}/categories", headers={"Authorization": "Bearer mak_not-a-key"})

    assert response.status_code == 401


def test_a_referrers_session_reads_categories_and_figures_of_their_community(session, shopping, community):
    categories = session.get(f"{BASE}/categories")
    figures = session.get(f"{BASE}/figures")

    assert categories.json() == [{"code": "shopping", "name": "Shopping"}]
    assert figures.json()["community"]["slug"] == community.slug


def test_a_referrers_session_is_rate_limited(session, settings, shopping):
    settings.RATE_LIMITS = settings.RATE_LIMITS | {"api": "2/m"}

    codes = [session.get(f"{BASE}/categories").status_code for _ in range(3)]

    assert codes == [200, 200, 429]


def test_the_openapi_document_names_both_ways_in(client):
    schemes = client.get(f"{BASE}/openapi.json").json()["components"]["securitySchemes"]

    assert {scheme["type"] for scheme in schemes.values()} == {"http", "apiKey"}
    assert any(scheme.get("in") == "cookie" for scheme in schemes.values())
