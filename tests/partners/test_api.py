"""/api/v1/: a partner's requests with a bearer key, categories, figures, errors, the docs."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone

from matching.services import propose_assignments
from mutualaid.aid.models import AuditEntry, HelpRequest
from mutualaid.partners import services
from tests.conftest import post_request, sign_in

BASE = "/api/v1"


def key_for(community, name="Leuven 311") -> str:
    organisation = services.organisation_get_or_create(community=community, name=name)
    return services.api_key_create(organisation=organisation, created_by=None)[1]


@pytest.fixture
def api(community, shopping, pharmacy) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {key_for(community)}", enforce_csrf_checks=True)


NEW = {
    "category": "shopping",
    "description": "Groceries twice a week.",
    "name": "Maria De Smet",
    "phone": "+32 470 55 66 77",
    "consent": True,
    "address": "Naamsestraat 12, 3000 Leuven",
    "urgency": 2,
}


def create(client: Client, **changes):
    return client.post(f"{BASE}/requests", NEW | changes, content_type="application/json")


def test_create_list_read_cancel(api, community, volunteer, coordinator):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    created = create(api, when=[f"{tomorrow}/afternoon"])
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "open" and body["open311_status"] == "open" and body["category"] == "shopping"
    assert body["expected_at"].startswith(f"{tomorrow}T13:00:00")
    help_request = HelpRequest.objects.get(pk=int(body["id"]))
    assert help_request.requester is None and help_request.partner.name == "Leuven 311"
    assert help_request.contact_name == "Maria De Smet"

    coordinators_page = Client()
    sign_in(coordinators_page, coordinator)
    page = coordinators_page.get(f"/coordinator/requests/{body['id']}/").content.decode()
    assert "Maria De Smet" in page and "through Leuven 311" in page

    propose_assignments(community=community)
    read = api.get(f"{BASE}/requests/{body['id']}").json()
    assert read["status"] == "proposed" and read["open311_status"] == "open"

    for _ in range(2):
        assert create(api).status_code == 201
    page = api.get(f"{BASE}/requests", {"page_size": 2}).json()
    assert page["count"] == 3 and len(page["items"]) == 2
    assert api.get(f"{BASE}/requests", {"page_size": 2, "page": 2}).json()["items"][0]["id"] == body["id"]

    cancelled = api.post(f"{BASE}/requests/{body['id']}/cancel?reason=family+helps")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["open311_status"] == "closed"
    assert help_request.assignments.get().status == "cancelled"  # the volunteer is released
    assert help_request.status_changes.last().reason == "family helps"
    again = api.post(f"{BASE}/requests/{body['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    assert sorted(
        AuditEntry.objects.filter(action__startswith="api_request").values_list("action", flat=True)
    ) == [
        "api_request_cancel",
        *["api_request_create"] * 3,
    ]


def test_categories_and_figures(api, community):
    assert api.get(f"{BASE}/categories").json() == [
        {"code": "pharmacy", "name": "Pharmacy"},
        {"code": "shopping", "name": "Shopping"},
    ]
    figures = api.get(f"{BASE}/figures").json()
    public = Client().get(f"/communities/{community.slug}/transparency.json").json()
    assert figures == public


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"category": "gardening"}, 400),
        ({"consent": False}, 400),
        ({"phone": "12"}, 400),
        ({"address": "", "latitude": None}, 400),
        ({"latitude": 48.85, "longitude": 2.35}, 400),  # Paris is no part of Leuven
        ({"when": ["tomorrow"]}, 400),
        ({"urgency": 7}, 400),
        ({"description": "x" * 5000}, 400),
        ({"volunteers": 0}, 400),
        ({"volunteers": 7}, 400),
    ],
)
def test_bad_input_is_400_with_an_error_code(api, changes, status):
    response = create(api, **changes)
    assert response.status_code == status, response.content
    assert response.json()["error"] == "invalid" and response.json()["detail"]
    assert not HelpRequest.objects.exists()


def test_no_key_a_bad_key_or_a_session_is_401(api, community, coordinator):
    session = Client()
    sign_in(session, coordinator)
    for client in (Client(), Client(HTTP_AUTHORIZATION="Bearer mak_nope"), session):
        response = client.get(f"{BASE}/requests")
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"


def test_only_the_organisations_own_requests(api, community, other_community, shopping, citizen):
    other = Client(HTTP_AUTHORIZATION=f"Bearer {key_for(community, 'OCMW')}")
    theirs = create(other).json()["id"]
    citizens = post_request(citizen, community, shopping)
    for request_id in (theirs, citizens.pk, 999999):
        response = api.get(f"{BASE}/requests/{request_id}")
        assert response.status_code == 404 and response.json()["error"] == "not_found"
        assert api.post(f"{BASE}/requests/{request_id}/cancel").status_code == 404
    assert api.get(f"{BASE}/requests").json()["count"] == 0
    HelpRequest.objects.get(pk=int(theirs))  # untouched
    assert HelpRequest.objects.get(pk=citizens.pk).status == "open"


def test_rate_limited_per_key(api, settings):
    settings.RATE_LIMITS = settings.RATE_LIMITS | {"api": "2/m"}
    assert api.get(f"{BASE}/categories").status_code == 200
    assert api.get(f"{BASE}/categories").status_code == 200
    limited = api.get(f"{BASE}/categories")
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"


def test_openapi_and_docs_work_without_a_cdn(client):
    schema = client.get(f"{BASE}/openapi.json").json()
    assert {"/api/v1/requests", "/api/v1/categories", "/api/v1/figures"} <= set(schema["paths"])
    docs = client.get(f"{BASE}/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn" not in html.lower()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(asset.startswith("/static/") for asset in assets), assets
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset


def test_a_retried_create_with_the_same_idempotency_key_files_one_request(api, community):
    headers = {"Idempotency-Key": "partner-call-0001"}
    first = api.post(f"{BASE}/requests", NEW, content_type="application/json", headers=headers)
    again = api.post(f"{BASE}/requests", NEW, content_type="application/json", headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert HelpRequest.objects.count() == 1
    other_key = {"Idempotency-Key": "partner-call-0002"}
    other = api.post(f"{BASE}/requests", NEW, content_type="application/json", headers=other_key)
    assert other.status_code == 201 and HelpRequest.objects.count() == 2
    assert create(api).status_code == 201 and HelpRequest.objects.count() == 3  # no key: as before


def test_an_idempotency_key_of_the_wrong_shape_is_a_400_with_a_reason(api):
    bad = api.post(f"{BASE}/requests", NEW, content_type="application/json", headers={"Idempotency-Key": "x"})
    assert bad.status_code == 400 and "Idempotency-Key" in bad.json()["detail"]
    assert not HelpRequest.objects.exists()


def test_a_partner_asks_for_several_volunteers(api):
    response = create(api, volunteers=3)
    assert response.status_code == 201, response.content
    assert HelpRequest.objects.get(pk=int(response.json()["id"])).people_needed == 3
