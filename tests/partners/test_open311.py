"""Open311 GeoReport v2: the spec's shapes, a FixMyStreet-like client end to end, the errors."""

from __future__ import annotations

import datetime as dt
import json
import re
from xml.etree import ElementTree

import pytest
from django.test import Client
from django.utils import timezone

from matching.services import propose_assignments
from mutualaid.aid.models import AuditEntry, Category, HelpRequest, StatusChange
from mutualaid.aid.states import RequestStatus
from mutualaid.partners import services
from tests.conftest import post_request
from tests.partners import open311_spec_examples as spec

BASE = "/open311/v2"
ISO_WITH_ZONE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)$")


class FixMyStreetLikeClient:
    """Talks to us as FixMyStreet's Open311 module does: XML only, `jurisdiction_id` on
    every call, `api_key` in the POST body, the reporter's name split into first and last
    name at the first space, `attribute[code]` for the service's extra questions."""

    def __init__(self, jurisdiction: str, api_key: str) -> None:
        self.client = Client(enforce_csrf_checks=True)  # a server-to-server call has no cookie
        self.jurisdiction = jurisdiction
        self.api_key = api_key

    def _xml(self, response) -> ElementTree.Element:
        assert response["Content-Type"] == "text/xml; charset=utf-8", response["Content-Type"]
        return ElementTree.fromstring(response.content)

    def get_service_list(self) -> list[dict]:
        response = self.client.get(f"{BASE}/services.xml", {"jurisdiction_id": self.jurisdiction})
        assert response.status_code == 200
        return [{child.tag: child.text for child in service} for service in self._xml(response)]

    def get_service_meta_info(self, code: str) -> ElementTree.Element:
        response = self.client.get(f"{BASE}/services/{code}.xml", {"jurisdiction_id": self.jurisdiction})
        assert response.status_code == 200
        return self._xml(response)

    def send_service_request(self, problem: dict, extra: dict) -> str | None:
        first_name, _space, last_name = problem["name"].partition(" ")
        params = {
            "jurisdiction_id": self.jurisdiction,
            "api_key": self.api_key,
            "email": problem["email"],
            "description": problem["detail"],
            "service_code": problem["category"],
            "lat": problem["latitude"],
            "long": problem["longitude"],
            "address_string": problem.get("address", ""),
            "first_name": first_name,
            "last_name": last_name,
            "phone": problem["phone"],
        }
        params |= {f"attribute[{code}]": value for code, value in extra.items()}
        response = self.client.post(f"{BASE}/requests.xml", params)
        self.last_response = response
        if response.status_code != 200:
            return None
        return self._xml(response).find("request/service_request_id").text

    def get_service_requests(self, ids: list[str]) -> list[dict]:
        response = self.client.get(
            f"{BASE}/requests.xml",
            {
                "jurisdiction_id": self.jurisdiction,
                "api_key": self.api_key,
                "service_request_id": ",".join(ids),
            },
        )
        assert response.status_code == 200, response.content
        return [{child.tag: child.text or "" for child in request} for request in self._xml(response)]


def structure(element: ElementTree.Element) -> dict:
    """Tag -> structure of children (the first of a list), ignoring the values."""
    return {child.tag: structure(child) for child in element}


def key_for(community, name="Leuven 311"):
    organisation = services.organisation_get_or_create(community=community, name=name)
    return services.api_key_create(organisation=organisation, created_by=None)


@pytest.fixture
def api_key(community, shopping, pharmacy):
    _key, token = key_for(community)
    return token


@pytest.fixture
def fms(api_key):
    return FixMyStreetLikeClient("leuven", api_key)


PROBLEM = {
    "name": "Maria De Smet",
    "email": "maria@example.org",
    "detail": "I broke my hip and need groceries twice a week.",
    "category": "shopping",
    "latitude": "50.8735",
    "longitude": "4.7003",
    "address": "Naamsestraat 12, 3000 Leuven",
    "phone": "+32 470 55 66 77",
}
CONSENT = {"consent": "yes"}


def test_a_request_filed_like_fixmystreet_is_proposed_by_matching_and_read_back(fms, volunteer, community):
    services_offered = fms.get_service_list()
    assert {service["service_code"] for service in services_offered} == {"pharmacy", "shopping"}
    assert all(service["type"] == "realtime" and service["group"] for service in services_offered)
    definition = fms.get_service_meta_info("shopping")
    codes = {attribute.findtext("code"): attribute for attribute in definition.iter("attribute")}
    assert set(codes) == {
        "urgency",
        "language",
        "when",
        "people",
        "volunteers",
        "recurrence",
        "recurrence_until",
        "consent",
    }
    assert codes["consent"].findtext("required") == "true"
    assert [value.findtext("key") for value in codes["consent"].iter("value")] == ["yes"]

    request_id = fms.send_service_request(PROBLEM, CONSENT | {"urgency": "2", "people": "2"})
    assert request_id is not None, fms.last_response.content
    help_request = HelpRequest.objects.get(pk=int(request_id))
    organisation = help_request.partner
    assert organisation.name == "Leuven 311"
    assert help_request.requester is None and help_request.created_by == organisation.system_user
    assert (help_request.contact_name, help_request.contact_phone) == ("Maria De Smet", "+32470556677")
    assert help_request.any_time and help_request.urgency == 2 and "(People: 2)" in help_request.description
    assert help_request.people_needed == 1  # no `volunteers` attribute: one
    assert AuditEntry.objects.filter(
        action="api_request_create", subject=f"help_request:{request_id}"
    ).exists()

    [before] = fms.get_service_requests([request_id])
    assert before["service_request_id"] == request_id
    assert (before["status"], before["status_notes"]) == ("open", "Looking for a volunteer.")
    assert ISO_WITH_ZONE.match(before["requested_datetime"]) and ISO_WITH_ZONE.match(
        before["updated_datetime"]
    )

    propose_assignments(community=community)
    help_request.refresh_from_db()
    assert help_request.status == RequestStatus.PROPOSED
    assert help_request.assignments.get().volunteer == volunteer
    [after] = fms.get_service_requests([request_id])
    assert after["status"] == "open"
    assert after["status_notes"] == "Proposed to a volunteer; waiting for their answer."
    assert after["updated_datetime"] >= before["updated_datetime"]
    assert StatusChange.objects.filter(help_request=help_request, to_status="proposed").exists()


def test_our_xml_has_the_structure_of_the_specs_examples(fms, api_key, client):
    request_id = fms.send_service_request(PROBLEM, CONSENT | {"when": tomorrow_morning()})
    ours = {
        "services.xml": (spec.SERVICE_LIST_XML, f"{BASE}/services.xml?jurisdiction_id=leuven"),
        "services/shopping.xml": (
            spec.SERVICE_DEFINITION_XML,
            f"{BASE}/services/shopping.xml?jurisdiction_id=leuven",
        ),
        "requests.xml": (
            spec.GET_SERVICE_REQUESTS_XML,
            f"{BASE}/requests.xml?jurisdiction_id=leuven&api_key={api_key}",
        ),
        f"requests/{request_id}.xml": (
            spec.GET_SERVICE_REQUESTS_XML,
            f"{BASE}/requests/{request_id}.xml?jurisdiction_id=leuven&api_key={api_key}",
        ),
        "discovery.xml": (spec.DISCOVERY_XML, f"{BASE}/discovery.xml"),
        "error": (spec.ERRORS_XML, f"{BASE}/requests.xml?jurisdiction_id=leuven"),
    }
    for name, (example, url) in ours.items():
        response = client.get(url)
        assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>'), name
        assert response["Content-Type"] == "text/xml; charset=utf-8"
        mine = ElementTree.fromstring(response.content)
        theirs = ElementTree.fromstring(example.encode())
        assert mine.tag == theirs.tag, name
        assert structure(mine) == structure(theirs), name
    # POST: the spec's service_notice and account_id are optional; the id is there.
    posted = ElementTree.fromstring(fms.last_response.content)
    example = ElementTree.fromstring(spec.POST_SERVICE_REQUEST_XML.encode())
    assert posted.tag == example.tag and set(structure(posted)["request"]) <= set(
        structure(example)["request"]
    )
    [document] = fms.get_service_requests([request_id])
    assert ISO_WITH_ZONE.match(document["expected_datetime"])
    assert document["expected_datetime"].startswith(f"{timezone.localdate() + dt.timedelta(days=1)}T08:00:00")


def tomorrow_morning() -> str:
    return f"{timezone.localdate() + dt.timedelta(days=1)}/morning"


def test_json_too_with_string_ids(api_key, client):
    response = client.post(
        f"{BASE}/requests.json",
        {
            "jurisdiction_id": "leuven",
            "api_key": api_key,
            "service_code": "pharmacy",
            "address_string": "Naamsestraat 12, 3000 Leuven",
            "description": "Medicine from the pharmacy, prescription at the door. Ça va?",
            "first_name": "Jeanne",
            "phone": "016 22 33 44",
            "attribute[consent]": "yes",
            "attribute[language]": "fr",
            "attribute[when]": tomorrow_morning(),
        },
    )
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    [created] = response.json()
    assert set(created) <= set(json.loads(spec.POST_SERVICE_REQUEST_JSON)[0])
    assert isinstance(created["service_request_id"], str)
    listed = client.get(f"{BASE}/requests.json", {"jurisdiction_id": "leuven", "api_key": api_key}).json()
    assert [item["service_request_id"] for item in listed] == [created["service_request_id"]]
    assert "Ça va?" in listed[0]["description"] and listed[0]["status"] == "open"
    help_request = HelpRequest.objects.get(pk=int(created["service_request_id"]))
    assert help_request.language_needed == "fr" and help_request.neighbourhood == "Leuven centrum"
    assert client.get(f"{BASE}/services.json", {"jurisdiction_id": "leuven"}).json()[0]["metadata"] is True


def errors_of(response) -> list[tuple[int, str]]:
    if response["Content-Type"].startswith("application/json"):
        return [(item["code"], item["description"]) for item in response.json()]
    root = ElementTree.fromstring(response.content)
    assert root.tag == "errors"
    return [(int(error.findtext("code")), error.findtext("description")) for error in root]


def post(client, token, fmt="xml", **changes):
    data = {
        "jurisdiction_id": "leuven",
        "api_key": token,
        "service_code": "shopping",
        "lat": "50.8735",
        "long": "4.7003",
        "description": "Groceries",
        "first_name": "Maria",
        "last_name": "De Smet",
        "phone": "+32 470 55 66 77",
        "attribute[consent]": "yes",
    } | changes
    return client.post(
        f"{BASE}/requests.{fmt}", {key: value for key, value in data.items() if value is not None}
    )


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_errors_are_the_specs_list_with_the_right_codes(api_key, client, other_community, fmt):
    _other_key, other_token = key_for(other_community, "Herent OCMW")
    cases = [
        (client.get(f"{BASE}/requests.{fmt}", {"jurisdiction_id": "leuven"}), 403),
        (client.get(f"{BASE}/requests.{fmt}", {"jurisdiction_id": "leuven", "api_key": "mak_wrong"}), 403),
        (client.get(f"{BASE}/requests.{fmt}", {"jurisdiction_id": "leuven", "api_key": other_token}), 403),
        (client.get(f"{BASE}/requests/999999.{fmt}", {"jurisdiction_id": "leuven", "api_key": api_key}), 404),
        (client.get(f"{BASE}/requests/abc.{fmt}", {"jurisdiction_id": "leuven", "api_key": api_key}), 404),
        (client.get(f"{BASE}/services.{fmt}", {"jurisdiction_id": "atlantis"}), 404),
        (client.get(f"{BASE}/services.{fmt}"), 400),  # two communities: which?
        (client.get(f"{BASE}/services/gardening.{fmt}", {"jurisdiction_id": "leuven"}), 404),
        (post(client, api_key, fmt, service_code="gardening"), 400),
        (post(client, api_key, fmt, api_key=None), 403),
        (post(client, api_key, fmt, api_key=other_token), 403),
        (post(client, api_key, fmt, jurisdiction_id="atlantis"), 404),
        (post(client, api_key, fmt, **{"attribute[consent]": None}), 400),
        (post(client, api_key, fmt, **{"attribute[consent]": "no"}), 400),
        (post(client, api_key, fmt, lat=None, long=None), 400),
        (post(client, api_key, fmt, lat="north", long="4.7"), 400),
        (post(client, api_key, fmt, lat="4.7003", long="50.8735"), 400),  # swapped: far away
        (
            post(client, api_key, fmt, lat=None, long=None, address_string="Nowhere Lane 1, 9999 Atlantis"),
            400,
        ),
        (post(client, api_key, fmt, phone=""), 400),
        (post(client, api_key, fmt, first_name="", last_name=""), 400),
        (post(client, api_key, fmt, description=" "), 400),
        (post(client, api_key, fmt, **{"attribute[urgency]": "9"}), 400),
        (post(client, api_key, fmt, **{"attribute[when]": "someday"}), 400),
        (post(client, api_key, fmt, **{"attribute[people]": "-1"}), 400),
        (post(client, api_key, fmt, **{"attribute[volunteers]": "7"}), 400),
        (client.put(f"{BASE}/requests.{fmt}"), 405),
        (
            client.get(
                f"{BASE}/requests.{fmt}",
                {
                    "jurisdiction_id": "leuven",
                    "api_key": api_key,
                    "start_date": "2026-01-01T00:00:00Z",
                    "end_date": "2026-06-01T00:00:00Z",
                },
            ),
            400,
        ),
        (
            client.get(
                f"{BASE}/requests.{fmt}", {"jurisdiction_id": "leuven", "api_key": api_key, "status": "x"}
            ),
            400,
        ),
    ]
    for index, (response, code) in enumerate(cases):
        assert response.status_code == code, (index, response.content)
        [(error_code, description)] = errors_of(response)
        assert error_code == code and description, index
    assert not HelpRequest.objects.exists()


def test_one_community_needs_no_jurisdiction_id(api_key, client):
    assert client.get(f"{BASE}/services.xml").status_code == 200
    assert post(client, api_key, jurisdiction_id=None).status_code == 200


def test_a_key_sees_only_its_own_organisations_requests(api_key, client, community, shopping, citizen):
    _other_key, other_token = key_for(community, "OCMW Leuven")
    theirs = post(client, other_token, "json").json()[0]["service_request_id"]
    citizens = post_request(citizen, community, shopping)
    mine = post(client, api_key, "json").json()[0]["service_request_id"]
    listed = client.get(f"{BASE}/requests.json", {"jurisdiction_id": "leuven", "api_key": api_key}).json()
    assert [item["service_request_id"] for item in listed] == [mine]
    for other in (theirs, str(citizens.pk)):
        url = f"{BASE}/requests/{other}.json"
        assert client.get(url, {"jurisdiction_id": "leuven", "api_key": api_key}).status_code == 404


def test_status_filter_and_closed_requests(api_key, client):
    first = post(client, api_key, "json").json()[0]["service_request_id"]
    second = post(client, api_key, "json").json()[0]["service_request_id"]
    key = services.api_key_find(api_key)
    services.partner_request_cancel(key=key, help_request=HelpRequest.objects.get(pk=first), reason="solved")
    query = {"jurisdiction_id": "leuven", "api_key": api_key}

    def ids(**filters):
        return [
            item["service_request_id"] for item in client.get(f"{BASE}/requests.json", query | filters).json()
        ]

    assert ids(status="closed") == [first]
    assert ids(status="open") == [second]
    assert sorted(ids(status="open,closed")) == sorted([first, second])
    assert ids(service_code="pharmacy") == []
    assert ids(start_date=(timezone.now() + dt.timedelta(hours=1)).isoformat()) == []
    assert AuditEntry.objects.filter(action="api_request_cancel").count() == 1


def test_over_the_rate_limit_429_with_the_same_body(api_key, client, settings):
    settings.RATE_LIMITS = settings.RATE_LIMITS | {"api": "2/m"}
    query = {"jurisdiction_id": "leuven", "api_key": api_key}
    assert client.get(f"{BASE}/requests.xml", query).status_code == 200
    assert client.get(f"{BASE}/requests.xml", query).status_code == 200
    limited = client.get(f"{BASE}/requests.xml", query)
    assert limited.status_code == 429
    assert errors_of(limited)[0][0] == 429


def test_a_revoked_key_is_refused(api_key, client):
    services.api_key_revoke(key=services.api_key_find(api_key), actor=None)
    assert post(client, api_key).status_code == 403


def test_paths_are_exact_never_redirected(client, api_key):
    for path in ("/open311/v2/services.xml/", "/open311/v2/services", "/open311/v2/requests.csv"):
        assert client.get(path, {"jurisdiction_id": "leuven"}).status_code == 404, path


def test_attributes_describe_the_category_only_when_it_is_offered(client, shopping):
    shopping.is_active = False
    shopping.save()
    assert client.get(f"{BASE}/services/shopping.xml", {"jurisdiction_id": "leuven"}).status_code == 404
    codes = [service["service_code"] for service in client.get(f"{BASE}/services.json").json()]
    assert codes == list(Category.objects.filter(is_active=True).values_list("slug", flat=True))


@pytest.mark.parametrize(
    "changes",
    [
        {"jurisdiction_id": "leu\x00ven"},
        {"service_code": "shop\x00ping"},
        {"description": "Bread\x00"},
        {"first_name": "x" * 100_000},
        {"api_key": "mak_\x00"},
        {"lat": "nan", "long": "inf"},
        {"attribute[when]": "2026-02-30/morning"},
        {"attribute[urgency]": "\x00"},
    ],
)
def test_odd_input_is_a_4xx_never_a_server_error(api_key, client, changes):
    response = post(client, api_key, "xml", **changes)
    assert 400 <= response.status_code < 500, response.content
    for path in ("/open311/v2/services/shop%00ping.xml", "/open311/v2/requests/%00.xml"):
        assert client.get(path, {"jurisdiction_id": "leuven", "api_key": api_key}).status_code == 404
    listing = client.get(
        f"{BASE}/requests.xml", {"jurisdiction_id": "leuven", "api_key": api_key, "service_code": "a\x00"}
    )
    assert listing.status_code == 400
