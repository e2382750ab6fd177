"""Recurring help from partners: Open311's `recurrence` attribute and /api/v1/'s field file a
series whose first occurrence is the request the partner follows; the worker files the next."""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree

import pytest
from django.test import Client
from django.utils import timezone

from mutualaid.aid.models import HelpRequest, HelpSeries, PartOfDay
from mutualaid.aid.services.series import file_due_occurrences
from mutualaid.partners.models import Referral
from tests.partners.test_api import BASE as API
from tests.partners.test_api import NEW, create
from tests.partners.test_api import key_for as bearer_key_for
from tests.partners.test_api_session import browser
from tests.partners.test_api_session import create as create_in_session
from tests.partners.test_open311 import (
    BASE,
    CONSENT,
    PROBLEM,
    FixMyStreetLikeClient,
    errors_of,
    key_for,
    post,
)


@pytest.fixture
def api_key(community, shopping, pharmacy) -> str:
    return key_for(community)[1]


@pytest.fixture
def fms(api_key) -> FixMyStreetLikeClient:
    return FixMyStreetLikeClient("leuven", api_key)


@pytest.fixture
def api(community, shopping, pharmacy) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {bearer_key_for(community)}", enforce_csrf_checks=True)


def today() -> dt.date:
    return timezone.localdate()


def tomorrow() -> dt.date:
    return today() + dt.timedelta(days=1)


def test_the_service_definition_offers_recurrence_once_weekly_or_fortnightly(fms):
    definition = fms.get_service_meta_info("shopping")
    codes = {attribute.findtext("code"): attribute for attribute in definition.iter("attribute")}
    recurrence = codes["recurrence"]
    assert recurrence.findtext("datatype") == "singlevaluelist"
    assert recurrence.findtext("required") == "false"
    assert [value.findtext("key") for value in recurrence.iter("value")] == ["none", "weekly", "fortnightly"]
    assert codes["recurrence_until"].findtext("datatype") == "string"


def test_a_weekly_request_like_fixmystreet_files_a_series_and_answers_its_first_occurrence(fms):
    request_id = fms.send_service_request(
        PROBLEM, CONSENT | {"when": f"{tomorrow()}/morning", "recurrence": "weekly"}
    )

    assert request_id is not None, fms.last_response.content
    first = HelpRequest.objects.get(pk=int(request_id))
    series = first.series
    assert series is not None and first.series_date == tomorrow()
    assert series.rule == "FREQ=WEEKLY" and series.starts == tomorrow() and series.until is None
    assert series.part_of_day == PartOfDay.MORNING
    assert series.partner.name == "Leuven 311" and first.partner == series.partner
    assert series.created_by == series.partner.system_user and series.requester is None
    assert (series.contact_name, series.contact_phone) == ("Maria De Smet", "+32470556677")
    [read_back] = fms.get_service_requests([request_id])
    assert (read_back["status"], read_back["status_notes"]) == ("open", "Looking for a volunteer.")
    assert read_back["expected_datetime"].startswith(f"{tomorrow()}T08:00:00")

    # The worker's job, a week later, files the next occurrence: the partner's request too.
    assert file_due_occurrences(today() + dt.timedelta(days=7)) == 1
    second = series.occurrences.get(series_date=tomorrow() + dt.timedelta(days=7))
    assert second.partner == series.partner and second.pk != first.pk
    assert {
        item["service_request_id"] for item in fms.get_service_requests([request_id, str(second.pk)])
    } == {
        request_id,
        str(second.pk),
    }


def test_a_weekly_request_in_json_with_a_last_day(api_key, client):
    until = tomorrow() + dt.timedelta(days=14)
    response = post(
        client,
        api_key,
        "json",
        **{
            "attribute[when]": f"{tomorrow()}/evening",
            "attribute[recurrence]": "weekly",
            "attribute[recurrence_until]": until.isoformat(),
        },
    )

    assert response.status_code == 200, response.content
    [created] = response.json()
    first = HelpRequest.objects.get(pk=int(created["service_request_id"]))
    assert first.series.until == until and first.series.part_of_day == PartOfDay.EVENING
    assert first.series.rule == f"FREQ=WEEKLY;UNTIL={until:%Y%m%d}T000000"
    read = client.get(f"{BASE}/requests/{first.pk}.json", {"jurisdiction_id": "leuven", "api_key": api_key})
    assert read.status_code == 200 and read.json()[0]["status"] == "open"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"attribute[recurrence]": "weekly"}, "exactly one part of a day"),
        ({"attribute[recurrence]": "weekly", "attribute[when]": "any"}, "exactly one part of a day"),
        (
            {
                "attribute[recurrence]": "weekly",
                "attribute[when]": f"{tomorrow()}/morning,{tomorrow()}/evening",
            },
            "exactly one part of a day",
        ),
        ({"attribute[recurrence]": "monthly", "attribute[when]": f"{tomorrow()}/morning"}, "must be one of"),
        (
            {
                "attribute[recurrence]": "weekly",
                "attribute[when]": f"{today() + dt.timedelta(days=20)}/morning",
            },
            "within 7 days",
        ),
        (
            {
                "attribute[recurrence]": "weekly",
                "attribute[when]": f"{tomorrow()}/morning",
                "attribute[recurrence_until]": "next year",
            },
            "is not a date",
        ),
        (
            {
                "attribute[recurrence]": "fortnightly",
                "attribute[when]": f"{tomorrow()}/morning",
                "attribute[recurrence_until]": today().isoformat(),
            },
            "cannot be before the first",
        ),
        ({"attribute[recurrence_until]": tomorrow().isoformat()}, "only for a weekly or fortnightly"),
        (
            {
                "attribute[recurrence]": "weekly",
                "attribute[when]": f"{tomorrow()}/morning",
                "attribute[volunteers]": "7",
            },
            "volunteers must be a whole number from 1 to 6",
        ),
    ],
)
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_bad_recurrences_are_the_specs_400_with_a_reason(api_key, client, changes, reason, fmt):
    response = post(client, api_key, fmt, **changes)

    assert response.status_code == 400
    [(code, description)] = errors_of(response)
    assert code == 400 and reason in description, description
    assert not HelpSeries.objects.exists() and not HelpRequest.objects.exists()


def test_a_weekly_request_for_two_volunteers_like_fixmystreet_asks_two_each_time(fms):
    request_id = fms.send_service_request(
        PROBLEM, CONSENT | {"when": f"{tomorrow()}/morning", "recurrence": "weekly", "volunteers": "2"}
    )

    assert request_id is not None, fms.last_response.content
    first = HelpRequest.objects.get(pk=int(request_id))
    assert first.series.people_needed == 2 and first.people_needed == 2
    assert file_due_occurrences(today() + dt.timedelta(days=7)) == 1
    assert first.series.occurrences.get(series_date=tomorrow() + dt.timedelta(days=7)).people_needed == 2


def test_the_service_definition_says_volunteers_count_for_each_occurrence(fms):
    definition = fms.get_service_meta_info("shopping")
    codes = {attribute.findtext("code"): attribute for attribute in definition.iter("attribute")}
    assert "each occurrence needs as many" in ElementTree.tostring(codes["volunteers"], encoding="unicode")


def test_recurrence_none_files_a_one_off_request(api_key, client):
    response = post(client, api_key, **{"attribute[recurrence]": "none"})

    assert response.status_code == 200, response.content
    request_id = ElementTree.fromstring(response.content).findtext("request/service_request_id")
    assert HelpRequest.objects.get(pk=int(request_id)).series is None and not HelpSeries.objects.exists()


def test_a_fortnightly_request_through_the_json_api(api):
    created = create(api, when=[f"{tomorrow()}/afternoon"], recurrence="fortnightly")

    assert created.status_code == 201, created.content
    body = created.json()
    first = HelpRequest.objects.get(pk=int(body["id"]))
    series = first.series
    assert series.rule == "FREQ=WEEKLY;INTERVAL=2" and series.starts == tomorrow()
    assert series.part_of_day == PartOfDay.AFTERNOON and first.partner == series.partner
    assert body["status"] == "open" and body["expected_at"].startswith(f"{tomorrow()}T13:00:00")
    assert file_due_occurrences(today() + dt.timedelta(days=7)) == 0  # not next week
    assert file_due_occurrences(today() + dt.timedelta(days=14)) == 1  # the week after
    second = series.occurrences.get(series_date=tomorrow() + dt.timedelta(days=14))
    assert api.get(f"{API}/requests/{second.pk}").json()["status"] == "open"


def test_a_weekly_request_for_three_volunteers_through_the_json_api(api):
    created = create(api, when=[f"{tomorrow()}/morning"], recurrence="weekly", volunteers=3)

    assert created.status_code == 201, created.content
    series = HelpRequest.objects.get(pk=int(created.json()["id"])).series
    assert series.people_needed == 3
    file_due_occurrences(today() + dt.timedelta(days=7))
    assert sorted(series.occurrences.values_list("people_needed", flat=True)) == [3, 3]


def test_the_json_api_refuses_seven_volunteers_for_recurring_help(api):
    response = create(api, when=[f"{tomorrow()}/morning"], recurrence="weekly", volunteers=7)

    assert response.status_code == 400
    assert "1 to 6" in response.json()["detail"]
    assert not HelpSeries.objects.exists()


def test_the_json_apis_bad_recurrences_are_400(api):
    unknown = create(api, when=[f"{tomorrow()}/morning"], recurrence="daily")
    no_day = create(api, recurrence="weekly")
    before_start = create(
        api, when=[f"{tomorrow()}/morning"], recurrence="weekly", recurrence_until=today().isoformat()
    )

    assert [response.status_code for response in (unknown, no_day, before_start)] == [400, 400, 400]
    assert unknown.json()["error"] == "invalid" and "recurrence" in unknown.json()["detail"]
    assert "exactly one part of a day" in no_day.json()["detail"]
    assert "cannot be before the first" in before_start.json()["detail"]
    assert not HelpSeries.objects.exists()


def test_the_openapi_document_shows_recurrence(client):
    schema = client.get(f"{API}/openapi.json").json()
    fields = schema["components"]["schemas"]["RequestIn"]["properties"]
    assert fields["recurrence"]["enum"] == ["none", "weekly", "fortnightly"]
    assert "recurrence_until" in fields


def test_a_retried_recurring_create_with_the_same_idempotency_key_files_one_series(api):
    data = {"when": [f"{tomorrow()}/morning"], "recurrence": "weekly"}
    headers = {"Idempotency-Key": "partner-series-0001"}

    answers = [
        api.post(f"{API}/requests", NEW | data, content_type="application/json", headers=headers)
        for _ in range(2)
    ]
    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert HelpSeries.objects.count() == 1 and HelpRequest.objects.count() == 1


def test_a_referrers_session_files_a_series_whose_first_occurrence_is_the_referral(
    referrer_user, practice, shopping
):
    session = browser(referrer_user)
    response = create_in_session(session, when=[f"{tomorrow()}/morning"], recurrence="weekly")

    assert response.status_code == 201, response.content
    first = HelpRequest.objects.get(pk=int(response.json()["id"]))
    assert first.series.partner == practice and first.series.created_by == referrer_user
    referral = Referral.objects.get(help_request=first)
    assert referral.referrer == referrer_user.referrer and referral.consent_recorded_by == referrer_user
    assert file_due_occurrences(today() + dt.timedelta(days=7)) == 1
    assert first.series.occurrences.filter(partner=practice).count() == 2
