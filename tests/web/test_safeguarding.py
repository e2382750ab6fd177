"""Safeguarding: concerns told privately to the coordinators, and suspending a volunteer."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from matching.services import propose_assignments
from mutualaid.aid import services
from mutualaid.aid.models import Assignment, AuditEntry, ConcernReport, StatusChange
from mutualaid.aid.services.assignments import SUSPENDED_MESSAGE
from tests.conftest import offer_of, post_request, sign_in

CONCERN = "He asked for my bank card PIN."


@pytest.fixture
def accepted(proposal, volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    proposal.refresh_from_db()
    return proposal


@pytest.fixture
def report(accepted, citizen):
    return services.concern_report_file(
        reporter=citizen, help_request=accepted.help_request, about="volunteer", text=CONCERN
    )


# Reporting


def test_a_citizen_reports_a_concern_about_the_volunteer_from_their_request_page(client, citizen, accepted):
    sign_in(client, citizen)
    detail = client.get(reverse("request-detail", args=[accepted.help_request_id])).text
    url = reverse("concern-about-volunteer", args=[accepted.help_request_id])
    assert url in detail
    assert client.get(url).status_code == 200
    response = client.post(url, {"text": CONCERN})
    assert response.status_code == 302
    report = ConcernReport.objects.get()
    assert (report.reporter, report.person, report.about) == (citizen, accepted.volunteer, "volunteer")
    assert report.status == "open" and report.community == accepted.help_request.community
    entry = AuditEntry.objects.get(action="concern_reported")
    assert entry.actor == citizen and CONCERN not in str(entry.after)


def test_a_volunteer_reports_a_concern_about_the_person_they_help_from_the_task_page(
    client, volunteer, citizen, proposal
):
    sign_in(client, volunteer)
    url = reverse("concern-about-requester", args=[proposal.pk])
    assert url in client.get(reverse("task-detail", args=[proposal.pk])).text
    client.post(url, {"text": "The dog bit me."})
    report = ConcernReport.objects.get()
    assert (report.reporter, report.person, report.about) == (volunteer, citizen, "requester")


def test_an_empty_concern_is_refused_at_the_field(client, citizen, accepted):
    sign_in(client, citizen)
    response = client.post(reverse("concern-about-volunteer", args=[accepted.help_request_id]), {"text": " "})
    assert response.status_code == 200 and "This field is required." in response.text
    assert not ConcernReport.objects.exists()


def test_no_concern_about_a_volunteer_before_one_accepted(client, citizen, proposal):
    sign_in(client, citizen)
    assert client.get(reverse("concern-about-volunteer", args=[proposal.help_request_id])).status_code == 404


def test_nobody_else_can_report_through_someone_elses_request_or_task(
    client, other_citizen, second_volunteer, coordinator, accepted
):
    for person in (other_citizen, second_volunteer, coordinator):
        sign_in(client, person)
        assert (
            client.get(reverse("concern-about-volunteer", args=[accepted.help_request_id])).status_code == 404
        )
        assert (
            client.post(reverse("concern-about-requester", args=[accepted.pk]), {"text": "x"}).status_code
            == 404
        )
    assert not ConcernReport.objects.exists()
    with pytest.raises(PermissionDenied):
        services.concern_report_file(
            reporter=other_citizen, help_request=accepted.help_request, about="volunteer", text="x"
        )


# Who sees reports


def test_coordinators_of_the_community_see_the_report_with_its_status(client, coordinator, report):
    sign_in(client, coordinator)
    page = client.get(reverse("coordinator-concerns")).text
    assert CONCERN in page and "Citizen Peeters" in page and "Open" in page
    client.post(reverse("coordinator-concern-dealt-with", args=[report.pk]))
    report.refresh_from_db()
    assert report.status == "dealt_with" and report.dealt_with_by == coordinator
    assert AuditEntry.objects.filter(action="concern_dealt_with", actor=coordinator).exists()
    assert "Dealt with by Coordinator" in client.get(reverse("coordinator-concerns")).text


def test_a_volunteer_and_a_citizen_cannot_see_the_reports(client, volunteer, citizen, report):
    for person in (volunteer, citizen):
        sign_in(client, person)
        assert client.get(reverse("coordinator-concerns")).status_code == 404
        assert client.post(reverse("coordinator-concern-dealt-with", args=[report.pk])).status_code == 404
    report.refresh_from_db()
    assert report.status == "open"


def test_a_coordinator_of_another_community_can_neither_see_nor_handle_the_report(
    client, outsider_coordinator, report
):
    sign_in(client, outsider_coordinator)
    assert CONCERN not in client.get(reverse("coordinator-concerns")).text
    assert client.post(reverse("coordinator-concern-dealt-with", args=[report.pk])).status_code == 404
    with pytest.raises(PermissionDenied):
        services.concern_report_mark_dealt_with(report=report, coordinator=outsider_coordinator)


def test_the_reported_person_never_sees_the_report_nor_who_wrote_it(client, volunteer, accepted, report):
    sign_in(client, volunteer)
    pages = [
        client.get(reverse("inbox")).text,
        client.get(reverse("task-detail", args=[accepted.pk])).text,
        client.get(reverse("account-data")).text,
    ]
    for page in pages:
        assert CONCERN not in page and "concern_reported" not in page


# Suspending


def test_a_suspended_volunteer_loses_their_tasks_gets_no_proposals_and_sees_why_not_who(
    client, coordinator, volunteer, citizen, community, shopping, accepted, report
):
    sign_in(client, coordinator)
    suspend = reverse("coordinator-volunteer-suspend", args=[volunteer.pk])
    assert client.get(suspend).status_code == 200
    client.post(suspend, {"reason": "Concern about money, being looked into."})
    offer = offer_of(volunteer)
    assert offer.is_suspended and offer.suspended_by == coordinator
    # The accepted task went back to matching; the citizen's record says nothing of why.
    accepted.refresh_from_db()
    assert accepted.status == "cancelled"
    assert accepted.help_request.status_changes.filter(subject="request").last().reason == ""
    entry = AuditEntry.objects.get(action="volunteer_suspended")
    assert entry.actor == coordinator and entry.after["tasks_released"] == [accepted.help_request_id]
    # Matching skips them, as it skips a paused volunteer.
    post_request(citizen, community, shopping)
    propose_assignments(community=community)
    assert not Assignment.objects.filter(volunteer=volunteer, status="proposed").exists()
    # They see a clear message, never the reason nor the reporter.
    sign_in(client, volunteer)
    inbox = client.get(reverse("inbox")).text
    assert "suspended your volunteering" in inbox
    assert "Concern about money" not in inbox and "Peeters" not in inbox and CONCERN not in inbox
    task = client.get(reverse("task-detail", args=[accepted.pk]))
    assert task.status_code == 403 and "suspended your volunteering" in task.text
    assert accepted.help_request.address not in task.text


def test_a_suspended_volunteer_cannot_accept_decline_or_complete(
    volunteer, coordinator, community, shopping, citizen
):
    help_requests = [post_request(citizen, community, shopping) for _ in range(2)]
    offer = offer_of(volunteer)
    offer.capacity = 3
    offer.save()
    proposals = [
        services.assignment_propose(help_request=r, volunteer=volunteer, km=1) for r in help_requests
    ]
    services.assignment_accept(assignment=proposals[1], volunteer=volunteer)
    # Written past the service, as a proposal slipping in beside the suspension would be.
    offer_of(volunteer).__class__.objects.filter(pk=offer.pk).update(
        suspension_reason="x", suspended_by=coordinator
    )
    offer_of(volunteer).__class__.objects.filter(pk=offer.pk).update(suspended_at=proposals[0].proposed_at)
    for act in (
        lambda: services.assignment_accept(assignment=proposals[0], volunteer=volunteer),
        lambda: services.assignment_decline(assignment=proposals[0], volunteer=volunteer),
        lambda: services.assignment_complete(assignment=proposals[1], volunteer=volunteer),
    ):
        with pytest.raises(services.TaskActionError, match=str(SUSPENDED_MESSAGE)[:40]):
            act()
    assert [a.status for a in Assignment.objects.filter(pk__in=[p.pk for p in proposals]).order_by("pk")] == [
        "proposed",
        "accepted",
    ]
    # Giving a task back stays possible: it only helps the citizen find someone else.
    services.assignment_give_back(assignment=proposals[1], volunteer=volunteer)
    proposals[1].refresh_from_db()
    assert proposals[1].status == "cancelled"


def test_the_accept_button_of_a_suspended_volunteer_says_so(client, volunteer, coordinator, proposal):
    offer = offer_of(volunteer)
    offer.__class__.objects.filter(pk=offer.pk).update(suspended_at=proposal.proposed_at)
    sign_in(client, volunteer)
    response = client.post(reverse("task-accept", args=[proposal.pk]), follow=True)
    assert "suspended your volunteering" in response.text
    proposal.refresh_from_db()
    assert proposal.status == "proposed"


def test_a_coordinator_cannot_give_a_task_to_a_suspended_volunteer(coordinator, volunteer, help_request):
    services.volunteer_suspend(offer=offer_of(volunteer), coordinator=coordinator, reason="Checking")
    with pytest.raises(ValidationError, match="suspended"):
        services.assignment_assign_by_coordinator(
            help_request=help_request, volunteer=volunteer, coordinator=coordinator, reason="I know him"
        )


def test_lifting_the_suspension_lets_matching_propose_again(
    coordinator, volunteer, citizen, community, shopping
):
    services.volunteer_suspend(offer=offer_of(volunteer), coordinator=coordinator, reason="Checking")
    post_request(citizen, community, shopping)
    propose_assignments(community=community)
    assert not Assignment.objects.filter(volunteer=volunteer).exists()
    services.volunteer_suspension_lift(offer=offer_of(volunteer), coordinator=coordinator)
    assert not offer_of(volunteer).is_suspended
    propose_assignments(community=community)
    assert Assignment.objects.filter(volunteer=volunteer, status="proposed").exists()
    actions = list(AuditEntry.objects.filter(actor=coordinator).values_list("action", flat=True))
    assert {"volunteer_suspended", "volunteer_suspension_lifted"} <= set(actions)


def test_a_suspension_needs_a_reason_said_at_the_field(client, coordinator, volunteer):
    sign_in(client, coordinator)
    response = client.post(reverse("coordinator-volunteer-suspend", args=[volunteer.pk]), {"reason": ""})
    assert response.status_code == 200 and "This field is required." in response.text
    assert not offer_of(volunteer).is_suspended


def test_a_coordinator_of_another_community_cannot_suspend_or_lift(
    client, outsider_coordinator, coordinator, volunteer
):
    sign_in(client, outsider_coordinator)
    assert client.get(reverse("coordinator-volunteer-suspend", args=[volunteer.pk])).status_code == 404
    assert (
        client.post(
            reverse("coordinator-volunteer-suspend", args=[volunteer.pk]), {"reason": "x"}
        ).status_code
        == 404
    )
    assert not offer_of(volunteer).is_suspended
    with pytest.raises(PermissionDenied):
        services.volunteer_suspend(offer=offer_of(volunteer), coordinator=outsider_coordinator, reason="x")
    services.volunteer_suspend(offer=offer_of(volunteer), coordinator=coordinator, reason="Checking")
    assert (
        client.post(reverse("coordinator-volunteer-lift-suspension", args=[volunteer.pk])).status_code == 404
    )
    assert offer_of(volunteer).is_suspended


def test_volunteers_and_citizens_cannot_suspend(client, citizen, second_volunteer, volunteer):
    for person in (citizen, second_volunteer):
        sign_in(client, person)
        assert (
            client.post(
                reverse("coordinator-volunteer-suspend", args=[volunteer.pk]), {"reason": "x"}
            ).status_code
            == 404
        )
    assert not offer_of(volunteer).is_suspended


def test_the_concerns_page_lists_suspended_volunteers_and_lifts_a_suspension(client, coordinator, volunteer):
    services.volunteer_suspend(
        offer=offer_of(volunteer), coordinator=coordinator, reason="Checking references"
    )
    sign_in(client, coordinator)
    page = client.get(reverse("coordinator-concerns")).text
    assert "Checking references" in page and "Lift the suspension of Volunteer Volunteer" in page
    client.post(reverse("coordinator-volunteer-lift-suspension", args=[volunteer.pk]))
    assert not offer_of(volunteer).is_suspended


def test_the_suspended_volunteers_released_task_record_names_the_coordinator(
    coordinator, volunteer, accepted
):
    services.volunteer_suspend(offer=offer_of(volunteer), coordinator=coordinator, reason="Checking")
    change = StatusChange.objects.filter(assignment=accepted, to_status="cancelled").get()
    assert change.actor == coordinator and change.reason_label == "coordinator: volunteer suspended"


def test_retention_forgets_concerns_dealt_with_long_ago_and_team_notes_of_old_requests(
    coordinator, citizen, community, shopping, report
):
    import datetime as dt

    from django.utils import timezone

    from mutualaid.aid.models import HelpRequest, TeamNote
    from mutualaid.aid.personal_data import FORGOTTEN, personal_data_purge

    open_report = services.concern_report_file(
        reporter=citizen, help_request=report.help_request, about="volunteer", text="Still open."
    )
    services.concern_report_mark_dealt_with(report=report, coordinator=coordinator)
    ConcernReport.objects.filter(pk=report.pk).update(dealt_with_at=timezone.now() - dt.timedelta(days=400))
    old = post_request(citizen, community, shopping)
    services.team_note_add(help_request=old, coordinator=coordinator, text="Old note about her.")
    services.help_request_cancel(help_request=old, actor=citizen)
    HelpRequest.objects.filter(pk=old.pk).update(updated_at=timezone.now() - dt.timedelta(days=400))
    recent_note = services.team_note_add(
        help_request=report.help_request, coordinator=coordinator, text="Recent."
    )

    personal_data_purge(older_than_days=180)

    report.refresh_from_db()
    open_report.refresh_from_db()
    assert report.text == FORGOTTEN and open_report.text == "Still open."
    assert TeamNote.objects.get(help_request=old).text == FORGOTTEN
    recent_note.refresh_from_db()
    assert recent_note.text == "Recent."


def test_deleting_an_account_forgets_the_team_notes_about_their_requests(coordinator, citizen, help_request):
    from mutualaid.aid.models import TeamNote
    from mutualaid.aid.personal_data import FORGOTTEN, account_delete

    services.team_note_add(help_request=help_request, coordinator=coordinator, text="Lives alone.")
    account_delete(person=citizen)
    assert TeamNote.objects.get().text == FORGOTTEN
