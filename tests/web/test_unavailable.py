"""Requests the service cannot serve now or cannot read: 503 with Retry-After when the
database is unavailable, 400 for a NUL byte in a parameter, never a 500."""

from __future__ import annotations

import json

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client
from django.urls import reverse

from mutualaid.aid.models import HelpRequest
from mutualaid.partners import services as partner_services
from mutualaid.partners.services import TOKEN_MARK
from tests.conftest import make_user, sign_in


@pytest.fixture
def superuser_client(community) -> Client:
    client = Client()
    sign_in(client, make_user("root", None, is_superuser=True, is_staff=True))
    return client


def test_a_nul_byte_in_an_admin_filter_is_a_400_not_a_500(superuser_client):
    response = superuser_client.get("/admin/aid/helprequest/?status__exact=%00")
    assert response.status_code == 400
    assert "not allowed" in response.content.decode()


def test_a_nul_byte_in_a_form_field_is_a_400_and_nothing_is_saved(client, citizen, community, shopping):
    sign_in(client, citizen)
    response = client.post(
        reverse("request-create"),
        {"category": shopping.pk, "description": "milk\x00", "urgency": 2, "address": "Naamsestraat 12"},
    )
    assert response.status_code == 400
    assert not HelpRequest.objects.filter(requester=citizen).exists()


def test_a_nul_byte_in_a_parameter_name_of_the_api_is_a_json_400(client, db):
    response = client.get("/api/v1/requests?a%00=1")
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


def test_a_nul_byte_in_open311_is_a_400_in_open311s_error_format(client, db):
    response = client.get("/open311/v2/services.json?jurisdiction_id=%00")
    assert response.status_code == 400
    assert response.json()[0]["code"] == 400


def test_a_form_without_nul_bytes_is_untouched(superuser_client):
    assert superuser_client.get("/admin/aid/helprequest/?status__exact=open").status_code == 200


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html"),
        ("/api/v1/requests", "application/json"),
        ("/open311/v2/services.json", "application/json"),
    ],
)
def test_a_database_that_cannot_be_reached_in_a_view_is_a_503_with_retry_after(
    client, db, monkeypatch, path, content_type
):
    def unreachable(*args, **kwargs):
        raise OperationalError("couldn't get a connection after 5.00 sec")

    with monkeypatch.context() as patch:  # undone before the test database is torn down
        patch.setattr("django.db.backends.base.base.BaseDatabaseWrapper.ensure_connection", unreachable)
        response = client.get(path, headers={"Authorization": f"Bearer {TOKEN_MARK}a-key-to-look-up"})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"].startswith(content_type)
    if content_type == "application/json":
        json.loads(response.content)


def test_outside_a_view_the_500_handler_answers_503_when_the_database_is_the_cause(rf):
    from mutualaid.operations.unavailable import server_error

    try:
        raise InterfaceError("connection already closed")
    except InterfaceError:
        response = server_error(rf.get("/requests/"))
    assert response.status_code == 503 and response["Retry-After"] == "5"
    try:
        raise ValueError("a bug")
    except ValueError:
        assert server_error(rf.get("/requests/")).status_code == 500


def test_a_form_post_to_a_json_endpoint_is_refused_with_a_reason_not_a_server_error(community, shopping):
    organisation = partner_services.organisation_get_or_create(community=community, name="Leuven 311")
    _key, token = partner_services.api_key_create(organisation=organisation, created_by=None)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.post("/api/v1/requests", {"description": "Bread"})  # multipart, not JSON

    assert response.status_code in (400, 422)
