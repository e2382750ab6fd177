"""A retried form post never files a second request: each blank create form carries a
hidden idempotency key, and a second post with the same key (by the same person) leads to
the request the first one filed."""

from __future__ import annotations

import re
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from mutualaid.aid import services
from mutualaid.aid.models import HelpRequest
from tests.conftest import NAAMSESTRAAT, sign_in
from tests.web.test_coordination import intake_data
from tests.web.test_forms import request_data


def key_on_the_form(client: Client, url: str) -> str:
    found = re.search(r'name="idempotency_key" value="([^"]+)"', client.get(url).text)
    assert found, "the form carries no idempotency key"
    return found.group(1)


def test_posting_the_request_form_twice_with_its_key_files_one_request_and_leads_to_it_both_times(
    client, citizen, shopping
):
    sign_in(client, citizen)
    key = key_on_the_form(client, reverse("request-create"))
    first = client.post(reverse("request-create"), request_data(shopping, idempotency_key=key))
    again = client.post(reverse("request-create"), request_data(shopping, idempotency_key=key))
    help_request = HelpRequest.objects.get()
    assert first.status_code == again.status_code == 302
    assert first.url == again.url == reverse("request-detail", kwargs={"request_id": help_request.pk})
    assert help_request.idempotency_key == key


def test_each_blank_form_has_a_new_key_so_a_second_request_is_filed_on_purpose(client, citizen, shopping):
    sign_in(client, citizen)
    for _ in range(2):
        key = key_on_the_form(client, reverse("request-create"))
        client.post(reverse("request-create"), request_data(shopping, idempotency_key=key))
    assert HelpRequest.objects.count() == 2


def test_a_key_belongs_to_the_person_who_posted_it(client, citizen, other_citizen, shopping):
    sign_in(client, citizen)
    key = key_on_the_form(client, reverse("request-create"))
    client.post(reverse("request-create"), request_data(shopping, idempotency_key=key))
    sign_in(client, other_citizen)
    response = client.post(reverse("request-create"), request_data(shopping, idempotency_key=key))
    theirs = HelpRequest.objects.get(requester=other_citizen)
    assert response.url == reverse("request-detail", kwargs={"request_id": theirs.pk})
    assert HelpRequest.objects.count() == 2


def test_a_key_that_is_not_ours_files_as_before_without_deduplication(client, citizen, shopping):
    sign_in(client, citizen)
    for _ in range(2):
        client.post(reverse("request-create"), request_data(shopping, idempotency_key="<script>"))
    assert HelpRequest.objects.count() == 2
    assert set(HelpRequest.objects.values_list("idempotency_key", flat=True)) == {""}


def test_a_retried_phone_intake_files_one_request(client, coordinator, shopping):
    sign_in(client, coordinator)
    key = key_on_the_form(client, reverse("coordinator-intake"))
    data = intake_data(shopping, idempotency_key=key)
    answers = [client.post(reverse("coordinator-intake"), data) for _ in range(2)]
    assert [answer.status_code for answer in answers] == [302, 302]
    assert answers[0].url == answers[1].url == reverse("coordinator-intake")
    assert HelpRequest.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_posts_with_one_key_at_the_same_moment_file_one_request(citizen, community, shopping):
    """The double click: both reach the service at once; the unique key lets one insert win
    (on PostgreSQL the other waits for it, then finds it)."""
    barrier = threading.Barrier(2)
    filed: list[int] = []
    errors: list[BaseException] = []

    def post() -> None:
        try:
            barrier.wait(timeout=10)
            help_request = services.help_request_create(
                community=community,
                requester=citizen,
                created_by=citizen,
                category=shopping,
                description="Bread.",
                urgency=2,
                location=NAAMSESTRAAT,
                any_time=True,
                idempotency_key="a-double-click-key",
            )
            filed.append(help_request.pk)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len(filed) == 2 and len(set(filed)) == 1
    assert HelpRequest.objects.count() == 1
