"""The coordinators' CSV export: personal data, for the community's coordinators only."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncRequestFactory
from django.urls import reverse
from django.utils import timezone

from mutualaid.aid import services
from mutualaid.aid.models import AuditEntry, Category, HelpRequest
from mutualaid.reports import views
from mutualaid.reports.exports import EXPORT_HEADER, spreadsheet_safe
from tests.conftest import KESSEL_LO, make_user, make_volunteer, post_request, sign_in
from tests.reports.helpers import accepted, local, set_created

URL = reverse("coordinator-export")


def export(client, user, **params) -> tuple[int, list[list[str]], object]:
    sign_in(client, user)
    response = client.get(URL, params)
    if response.status_code != 200:
        return response.status_code, [], response
    text = b"".join(response.streaming_content).decode()
    return response.status_code, list(csv.reader(io.StringIO(text))), response


def rows_by_id(rows: list[list[str]]) -> dict[str, dict[str, str]]:
    return {row[0]: dict(zip(EXPORT_HEADER, row, strict=True)) for row in rows[1:]}


@pytest.fixture
def phoned_in(community, coordinator, pharmacy) -> HelpRequest:
    return services.help_request_create(
        community=community,
        requester=None,
        created_by=coordinator,
        category=pharmacy,
        description="Prescription to collect.",
        urgency=3,
        location=KESSEL_LO,
        any_time=True,
        contact_name="Maria Janssens",
        contact_phone="016 12 34 56",
    )


def test_export_is_a_streamed_csv_download_with_a_header_row(client, coordinator, help_request):
    status, rows, response = export(client, coordinator)
    assert status == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate()
    start = today - dt.timedelta(days=29)
    assert response["Content-Disposition"] == f'attachment; filename="requests-leuven-{start}-{today}.csv"'
    assert "no-store" in response["Cache-Control"]
    assert rows[0] == EXPORT_HEADER


def test_export_row_has_the_request_its_requester_and_its_volunteer(client, coordinator, proposal, volunteer):
    accepted_assignment = services.assignment_accept(assignment=proposal, volunteer=volunteer)
    _status, rows, _response = export(client, coordinator)
    row = rows_by_id(rows)[str(proposal.help_request_id)]
    assert row["category"] == "Shopping"
    assert row["urgency"] == "This week"
    assert row["status"] == "A volunteer is coming"
    assert row["neighbourhood"] == "Leuven centrum"
    assert row["address"] == "Naamsestraat 12, 3000 Leuven"
    assert (row["requester_name"], row["requester_phone"]) == ("Citizen Peeters", "+32 470 11 22 33")
    assert (row["volunteer_name"], row["volunteer_phone"]) == ("Volunteer Volunteer", "+32 470 99 88 77")
    assert (row["assignment_status"], row["km"]) == ("Accepted", "0.7")
    local_zone = timezone.get_default_timezone()
    assert row["proposed_at"] == accepted_assignment.proposed_at.astimezone(local_zone).isoformat(
        timespec="minutes"
    )
    assert row["responded_at"] != ""
    assert row["hours_spent"] == ""


def test_export_shows_the_latest_assignment_of_a_request(
    client, coordinator, proposal, volunteer, second_volunteer
):
    services.assignment_decline(assignment=proposal, volunteer=volunteer, reason="Away")
    services.assignment_propose(help_request=proposal.help_request, volunteer=second_volunteer, km=2.5)
    _status, rows, _response = export(client, coordinator)
    row = rows_by_id(rows)[str(proposal.help_request_id)]
    assert (row["volunteer_name"], row["assignment_status"], row["km"]) == (
        "Second-Volunteer Volunteer",
        "Proposed, no answer yet",
        "2.5",
    )
    assert len(rows) == 2  # one row per request, not per assignment


def test_export_of_a_phoned_in_request_gives_the_callers_name_and_phone(client, coordinator, phoned_in):
    _status, rows, _response = export(client, coordinator)
    row = rows_by_id(rows)[str(phoned_in.pk)]
    assert (row["requester_name"], row["requester_phone"]) == ("Maria Janssens", "+3216123456")
    assert row["volunteer_name"] == row["assignment_status"] == ""


def test_export_gives_the_hours_of_a_done_task(client, coordinator, proposal, volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    services.assignment_complete(assignment=proposal, volunteer=volunteer, hours_spent=1.5)
    _status, rows, _response = export(client, coordinator)
    assert rows_by_id(rows)[str(proposal.help_request_id)]["hours_spent"] == "1.5"


def test_export_filters_on_creation_day_both_ends_included(client, coordinator, citizen, community, shopping):
    moments = {
        "day before": local(2025, 2, 28, 23, 59),
        "first day": local(2025, 3, 1, 0, 1),
        "last day": local(2025, 3, 5, 23, 30),
        "day after": local(2025, 3, 6, 0, 10),
    }
    ids = {}
    for name, moment in moments.items():
        help_request = post_request(citizen, community, shopping)
        set_created(help_request, moment)
        ids[name] = str(help_request.pk)

    _status, rows, response = export(client, coordinator, start="2025-03-01", end="2025-03-05")

    assert [row[0] for row in rows[1:]] == [ids["first day"], ids["last day"]]
    assert (
        response["Content-Disposition"] == 'attachment; filename="requests-leuven-2025-03-01-2025-03-05.csv"'
    )


def test_export_defaults_to_the_last_30_days(client, coordinator, citizen, community, shopping):
    recent, old = post_request(citizen, community, shopping), post_request(citizen, community, shopping)
    now = timezone.now()
    set_created(recent, now - dt.timedelta(days=28))
    set_created(old, now - dt.timedelta(days=31))
    _status, rows, _response = export(client, coordinator)
    assert [row[0] for row in rows[1:]] == [str(recent.pk)]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"start": "yesterday"}, "'start' must be a date written as YYYY-MM-DD"),
        ({"end": "2025-13-01"}, "'end' must be a date written as YYYY-MM-DD"),
        ({"start": "2025-02-30"}, "'start' must be a date written as YYYY-MM-DD"),
        (
            {"start": "2025-03-05", "end": "2025-03-01"},
            "The start (2025-03-05) is after the end (2025-03-01).",
        ),
    ],
)
def test_export_with_bad_dates_is_a_bad_request_saying_why(client, coordinator, params, reason):
    sign_in(client, coordinator)
    response = client.get(URL, params)
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert reason in response.content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client, help_request):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("persona", ["citizen", "volunteer"])
def test_citizens_and_volunteers_get_not_found(client, persona, request, help_request):
    sign_in(client, request.getfixturevalue(persona))
    assert client.get(URL).status_code == 404


def test_another_communitys_coordinator_gets_only_their_own_rows(
    client, outsider_coordinator, help_request, other_community
):
    gardening = Category.objects.create(community=other_community, slug="gardening", name="Gardening")
    herent_request = post_request(make_user("herent-citizen", other_community), other_community, gardening)
    for params in ({}, {"community": "leuven"}):
        _status, rows, _response = export(client, outsider_coordinator, **params)
        assert [row[0] for row in rows[1:]] == [str(herent_request.pk)]
        assert "Peeters" not in str(rows)


def test_a_superuser_picks_the_community(client, help_request, other_community):
    admin = make_user("admin", None, is_superuser=True, is_staff=True)
    _status, rows, _response = export(client, admin, community="leuven")
    assert [row[0] for row in rows[1:]] == [str(help_request.pk)]
    _status, rows, _response = export(client, admin, community="herent")
    assert rows[1:] == []


def test_export_queries_do_not_grow_with_the_rows(
    client, coordinator, citizen, community, shopping, second_volunteer, django_assert_max_num_queries
):
    sign_in(client, coordinator)
    for index in range(12):
        helper = make_volunteer(f"helper-{index}", community, [shopping], KESSEL_LO)
        accepted(post_request(citizen, community, shopping), helper)
    # session, user, the session's verified device, community, the audit record, requests,
    # their assignments
    with django_assert_max_num_queries(7):
        response = client.get(URL)
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 13


def test_export_under_asgi_streams_an_asynchronous_iterator(coordinator, help_request):
    request = AsyncRequestFactory().get(URL, {"start": "2000-01-01"})
    request.user = coordinator
    response = views.coordinator_export(request)
    assert response.is_async  # Django would otherwise gather every row before sending

    async def read() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    rows = list(csv.reader(io.StringIO(async_to_sync(read)().decode())))
    assert rows[0] == EXPORT_HEADER
    assert [row[0] for row in rows[1:]] == [str(help_request.pk)]


@pytest.mark.parametrize(
    ("typed", "exported"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("+32 470 11 22 33", "+32 470 11 22 33"),
        ("Citizen Peeters", "Citizen Peeters"),
    ],
)
def test_names_are_exported_so_a_spreadsheet_does_not_run_them(typed, exported):
    assert spreadsheet_safe(typed) == exported


def test_export_escapes_a_formula_typed_as_a_name(client, coordinator, community, shopping):
    sneaky = make_user("sneaky", community, first_name="=cmd|' /C calc'!A0", last_name="")
    post_request(sneaky, community, shopping)
    _status, rows, _response = export(client, coordinator)
    assert rows[1][EXPORT_HEADER.index("requester_name")] == "'=cmd|' /C calc'!A0"


def test_each_export_is_written_in_the_audit_log_with_its_dates(client, coordinator, community):
    sign_in(client, coordinator)

    client.get(URL, {"start": "2026-01-01", "end": "2026-01-31"})

    entry = AuditEntry.objects.get(action="export")
    assert (entry.actor, entry.community) == (coordinator, community)
    assert entry.after == {"start": "2026-01-01", "end": "2026-01-31"}
