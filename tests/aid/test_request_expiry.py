"""A request whose every chosen time passed with no one found expires; new times open it again."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mutualaid.aid import services
from mutualaid.aid.models import HelpRequest, StatusChange, TimeWindow
from mutualaid.aid.personal_data import FORGOTTEN, personal_data_purge
from mutualaid.aid.selectors import callbacks_for_community, community_board
from mutualaid.aid.states import AssignmentStatus, RequestStatus
from mutualaid.partners import intake
from mutualaid.reports.exports import public_figures_rows
from mutualaid.reports.statistics import dashboard_counters, public_figures
from tests.conftest import NAAMSESTRAAT, post_request, sign_in
from worker import jobs
from worker.models import PeriodicJob

TOMORROW = timezone.localdate() + dt.timedelta(days=1)


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


# post_request asks for tomorrow morning, which is over at noon.
AFTER_TOMORROW_MORNING = local(TOMORROW, 12, 5)
DURING_TOMORROW_MORNING = local(TOMORROW, 11, 55)


def expire(help_request: HelpRequest, now: dt.datetime = AFTER_TOMORROW_MORNING) -> bool:
    return services.help_request_expire_if_time_passed(help_request=help_request, now=now)


def test_a_request_whose_every_window_passed_expires_with_the_reason_recorded(help_request):
    assert expire(help_request) is True

    help_request.refresh_from_db()
    assert help_request.status == RequestStatus.EXPIRED
    last = help_request.status_changes.filter(subject=StatusChange.Subject.REQUEST).last()
    assert (last.from_status, last.to_status, last.actor, last.reason) == (
        "open",
        "expired",
        None,
        "time_passed",
    )
    assert last.reason_label == "every time chosen has passed"


def test_a_request_is_not_expired_before_its_last_window_is_over(help_request):
    assert expire(help_request, DURING_TOMORROW_MORNING) is False
    help_request.refresh_from_db()
    assert help_request.status == RequestStatus.OPEN


def test_one_window_still_ahead_keeps_the_request_open(help_request):
    TimeWindow.objects.create(help_request=help_request, date=TOMORROW, part_of_day=2)  # evening

    assert expire(help_request) is False
    help_request.refresh_from_db()
    assert help_request.status == RequestStatus.OPEN


def test_an_any_time_request_never_expires(citizen, community, shopping):
    any_time = services.help_request_create(
        community=community,
        requester=citizen,
        created_by=citizen,
        category=shopping,
        description="Whenever suits you.",
        urgency=2,
        location=NAAMSESTRAAT,
        any_time=True,
    )

    assert expire(any_time, local(TOMORROW + dt.timedelta(days=30), 23)) is False
    assert services.expire_requests_whose_time_passed(now=local(TOMORROW + dt.timedelta(days=30), 23)) == 0
    any_time.refresh_from_db()
    assert any_time.status == RequestStatus.OPEN


def test_an_accepted_request_is_not_expired_its_volunteer_may_still_mark_it_done(proposal, volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)

    assert expire(proposal.help_request) is False
    services.assignment_complete(assignment=proposal, volunteer=volunteer)
    assert HelpRequest.objects.get(pk=proposal.help_request_id).status == RequestStatus.DONE


def test_a_proposed_request_expires_and_its_proposal_ends_with_it(proposal, volunteer, citizen, monkeypatch):
    live_events = []
    monkeypatch.setattr("notifications.dispatch.publish_task_changes", live_events.extend)

    assert expire(proposal.help_request) is True

    proposal.refresh_from_db()
    assert proposal.status == AssignmentStatus.EXPIRED
    assert HelpRequest.objects.get(pk=proposal.help_request_id).status == RequestStatus.EXPIRED
    # The citizen's and the volunteer's pages and the dashboard hear it, as its own kind.
    [(groups, event)] = live_events
    assert (event["status"], event["change"]) == ("expired", "time_passed")
    assert {f"person-{citizen.pk}", f"person-{volunteer.pk}"} <= set(groups)
    with pytest.raises(services.TaskActionError, match="The time asked for has passed"):
        services.assignment_accept(assignment=proposal, volunteer=volunteer)


def test_all_waiting_requests_are_looked_at_and_each_expires_once(citizen, community, shopping):
    first = post_request(citizen, community, shopping)
    second = post_request(citizen, community, shopping)
    later = post_request(citizen, community, shopping)
    TimeWindow.objects.create(help_request=later, date=TOMORROW + dt.timedelta(days=1), part_of_day=0)

    assert services.expire_requests_whose_time_passed(now=AFTER_TOMORROW_MORNING) == 2
    assert services.expire_requests_whose_time_passed(now=AFTER_TOMORROW_MORNING) == 0
    statuses = dict(HelpRequest.objects.values_list("pk", "status"))
    assert statuses == {first.pk: "expired", second.pk: "expired", later.pk: "open"}


def test_the_worker_job_runs_once_per_period_across_workers_and_records_what_it_did(help_request):
    assert jobs.expire_passed_requests(now=AFTER_TOMORROW_MORNING) == 1
    assert jobs.expire_passed_requests(now=AFTER_TOMORROW_MORNING + dt.timedelta(minutes=1)) is None
    assert jobs.expire_passed_requests(now=AFTER_TOMORROW_MORNING + dt.timedelta(minutes=11)) == 0
    assert PeriodicJob.objects.get(name="expire_passed_requests").last_outcome == "0 requests expired"
    assert "time_passed" in jobs.make_jobs()


def test_an_expired_request_cannot_be_cancelled_or_expired_again(help_request, citizen):
    expire(help_request)

    with pytest.raises(services.TaskActionError):
        services.help_request_cancel(help_request=help_request, actor=citizen)
    assert expire(help_request, AFTER_TOMORROW_MORNING + dt.timedelta(days=1)) is False


def test_new_times_open_an_expired_request_again(help_request, citizen):
    expire(help_request)
    in_two_days = timezone.localdate() + dt.timedelta(days=2)

    services.help_request_edit(
        help_request=help_request,
        actor=citizen,
        category=help_request.category,
        description=help_request.description,
        urgency=help_request.urgency,
        location=NAAMSESTRAAT,
        time_windows=[(in_two_days, 1)],
    )

    help_request.refresh_from_db()
    assert help_request.status == RequestStatus.OPEN
    last = help_request.status_changes.filter(subject=StatusChange.Subject.REQUEST).last()
    assert (last.from_status, last.to_status, last.reason) == ("expired", "open", "changed")


def test_the_citizens_page_says_the_time_passed_and_offers_new_times(client, help_request, citizen):
    expire(help_request)
    sign_in(client, citizen)

    page = client.get(reverse("request-detail", args=[help_request.pk])).text

    assert "The time passed: no one was found" in page
    assert "status-expired" in page
    assert "The time you chose has passed" in page
    assert "We are looking for a volunteer." not in page
    assert reverse("request-edit", args=[help_request.pk]) in page and "Choose new times" in page
    assert reverse("request-create") in page
    assert reverse("request-cancel", args=[help_request.pk]) not in page
    edit_page = client.get(reverse("request-edit", args=[help_request.pk]))
    assert edit_page.status_code == 200
    assert "Every time you chose has passed" in edit_page.text


def test_the_citizens_page_in_dutch_and_french(client, help_request, citizen):
    expire(help_request)
    sign_in(client, citizen)
    url = reverse("request-detail", args=[help_request.pk])

    dutch = client.get(url, HTTP_ACCEPT_LANGUAGE="nl").text
    french = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").text

    assert "The time you chose has passed" not in dutch and "The time you chose has passed" not in french
    assert "Kies nieuwe tijden" in dutch
    assert "Choisir de nouveaux moments" in french


def test_coordinators_see_it_counted_on_the_board_and_must_call_a_phoned_in_caller(
    client, community, shopping, coordinator
):
    caller = services.help_request_create(
        community=community,
        requester=None,
        created_by=coordinator,
        contact_name="Mrs Maes",
        contact_phone="016 23 45 67",
        category=shopping,
        description="Bread.",
        urgency=2,
        location=NAAMSESTRAAT,
        time_windows=[(TOMORROW, 0)],
    )
    expire(caller)

    assert dashboard_counters(community)["expired"] == 1
    column = next(column for column in community_board(community)["columns"] if column["status"] == "expired")
    assert column["count"] == 1 and column["requests"] == [caller]
    [call] = callbacks_for_community(community)
    assert call.help_request == caller and "no one was found: tell Mrs Maes" in call.what_to_say

    sign_in(client, coordinator)
    assert "tell Mrs Maes" in client.get(reverse("coordinator-callbacks")).text
    overview = client.get(reverse("coordinator-request", args=[caller.pk])).text
    assert "Every time chosen passed before anyone accepted." in overview
    assert reverse("request-edit", args=[caller.pk]) in overview
    dashboard = client.get(reverse("dashboard")).text
    assert "Time passed, no one found" in dashboard and 'data-counter="expired">1<' in dashboard


def test_the_api_and_open311_call_an_expired_request_closed(help_request):
    expire(help_request)
    help_request.refresh_from_db()

    assert intake.open311_status(help_request) == "closed"
    assert RequestStatus.EXPIRED in intake.CLOSED_STATUSES
    assert intake.STATUS_NOTES[RequestStatus.EXPIRED].startswith("Expired: every requested time passed")


def test_a_partners_expired_request_reads_closed_through_both_apis(community, shopping, pharmacy):
    from mutualaid.partners import services as partner_services

    organisation = partner_services.organisation_get_or_create(community=community, name="Leuven 311")
    token = partner_services.api_key_create(organisation=organisation, created_by=None)[1]
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    created = api.post(
        "/api/v1/requests",
        {
            "category": "shopping",
            "description": "Groceries.",
            "name": "Maria De Smet",
            "phone": "+32 470 55 66 77",
            "consent": True,
            "address": "Naamsestraat 12, 3000 Leuven",
            "when": [f"{TOMORROW}/morning"],
        },
        content_type="application/json",
    ).json()
    expire(HelpRequest.objects.get(pk=int(created["id"])))

    read = api.get(f"/api/v1/requests/{created['id']}").json()
    assert (read["status"], read["open311_status"]) == ("expired", "closed")
    query = {"jurisdiction_id": community.slug, "api_key": token}
    [listed] = Client().get("/open311/v2/requests.json", query | {"status": "closed"}).json()
    assert listed["service_request_id"] == created["id"] and listed["status"] == "closed"
    assert listed["status_notes"].startswith("Expired")


def test_the_retention_purge_forgets_long_expired_requests_like_finished_ones(citizen, community, shopping):
    long_ago = post_request(citizen, community, shopping)
    expire(long_ago)
    waiting = post_request(citizen, community, shopping)
    HelpRequest.objects.filter(pk__in=[long_ago.pk, waiting.pk]).update(
        updated_at=timezone.now() - dt.timedelta(days=400)
    )

    assert personal_data_purge(older_than_days=180) == 1

    long_ago.refresh_from_db()
    waiting.refresh_from_db()
    assert long_ago.description == FORGOTTEN and long_ago.address == ""
    assert waiting.description != FORGOTTEN


def test_the_public_figures_count_requests_whose_time_passed_suppressed_when_small(
    client, citizen, community, shopping
):
    for _ in range(4):
        expire(post_request(citizen, community, shopping))
    still_waiting = post_request(citizen, community, shopping)
    until = timezone.localdate() + dt.timedelta(days=1)

    figures = public_figures(community, until=until)
    assert figures["requests_time_passed"] == "<5"
    assert ["requests_time_passed", "", "<5"] in list(public_figures_rows(figures))
    expire(still_waiting)
    assert public_figures(community, until=until)["requests_time_passed"] == 5
