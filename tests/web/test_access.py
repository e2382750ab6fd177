"""Who may see and do what: citizens, volunteers, coordinators and strangers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from matching.models import MatchingQueue
from mutualaid.aid import services
from mutualaid.aid.models import Assignment, Category, HelpRequest, StatusChange
from mutualaid.aid.places import Location
from mutualaid.aid.states import AssignmentStatus, RequestStatus
from tests.conftest import NAAMSESTRAAT, PASSWORD, make_user, post_request, sign_in

HERENT = Location(50.9070, 4.6720, "Kerkstraat 1, 3020 Herent", "Herent")
# What only an accepted volunteer may learn about the citizen (see tests/conftest.py).
REQUESTER_NAME = "Citizen Peeters"
REQUESTER_PHONE = "+32 470 11 22 33"
STREET = "Naamsestraat"
EXACT_COORDINATES = ("50.8735", "4.7003")


@pytest.fixture
def herent_request(other_community) -> HelpRequest:
    gardening = Category.objects.create(community=other_community, slug="gardening", name="Gardening")
    herent_citizen = make_user("herent-citizen", other_community, last_name="Janssens")
    return post_request(herent_citizen, other_community, gardening, location=HERENT)


def page(client, user, name, *args):
    sign_in(client, user)
    return client.get(reverse(name, args=args))


def text_of(response) -> str:
    return response.content.decode()


def history(help_request: HelpRequest) -> list[int]:
    return list(StatusChange.objects.filter(help_request=help_request).values_list("pk", flat=True))


def assert_no_exact_place_or_contact(content: str) -> None:
    for secret in (
        REQUESTER_NAME,
        "Peeters",
        REQUESTER_PHONE,
        STREET,
        NAAMSESTRAAT.address,
        *EXACT_COORDINATES,
    ):
        assert secret not in content, f"{secret!r} leaked"


def accept(proposal, volunteer) -> None:
    services.assignment_accept(assignment=proposal, volunteer=volunteer)


# Anonymous visitors


@pytest.mark.parametrize(
    ("name", "needs"),
    [
        ("my-requests", None),
        ("request-create", None),
        ("request-detail", "request"),
        ("offer-edit", None),
        ("inbox", None),
        ("task-detail", "assignment"),
        ("dashboard", None),
    ],
)
def test_anonymous_visitors_are_sent_to_log_in_from_every_page(client, proposal, name, needs):
    args = {"request": [proposal.help_request_id], "assignment": [proposal.pk], None: []}[needs]
    url = reverse(name, args=args)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize(
    ("name", "needs"),
    [
        ("request-cancel", "request"),
        ("task-accept", "assignment"),
        ("task-decline", "assignment"),
        ("task-done", "assignment"),
        ("offer-pause", None),
        ("offer-available-now", None),
        ("dashboard-match", None),
    ],
)
def test_anonymous_visitors_cannot_act(client, proposal, name, needs):
    args = {"request": [proposal.help_request_id], "assignment": [proposal.pk], None: []}[needs]

    response = client.post(reverse(name, args=args))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert Assignment.objects.get(pk=proposal.pk).status == AssignmentStatus.PROPOSED
    assert HelpRequest.objects.get(pk=proposal.help_request_id).status == RequestStatus.PROPOSED


def test_logging_in_with_the_password_opens_my_requests(client, citizen, help_request):
    response = client.post(
        reverse("login"), {"username": "citizen", "password": PASSWORD, "next": reverse("my-requests")}
    )

    assert response.status_code == 302
    assert client.get(response.url).status_code == 200


# Citizens


def test_a_citizen_sees_their_own_requests_and_not_anyone_elses(
    client, citizen, other_citizen, community, pharmacy
):
    mine = post_request(citizen, community, pharmacy)
    theirs = post_request(other_citizen, community, pharmacy)

    content = text_of(page(client, citizen, "my-requests"))

    assert reverse("request-detail", args=[mine.pk]) in content
    assert reverse("request-detail", args=[theirs.pk]) not in content


def test_a_citizen_sees_the_detail_of_their_own_request(client, citizen, help_request):
    response = page(client, citizen, "request-detail", help_request.pk)

    assert response.status_code == 200
    assert NAAMSESTRAAT.address in text_of(response)


def test_another_citizens_request_is_as_missing_as_a_request_that_does_not_exist(
    client, other_citizen, help_request
):
    sign_in(client, other_citizen)

    someone_elses = client.get(reverse("request-detail", args=[help_request.pk]))
    missing = client.get(reverse("request-detail", args=[help_request.pk + 1000]))

    assert someone_elses.status_code == missing.status_code == 404
    assert "Groceries" not in text_of(someone_elses)


def test_a_citizen_cannot_cancel_another_citizens_request(client, other_citizen, proposal):
    before = history(proposal.help_request)
    sign_in(client, other_citizen)

    response = client.post(reverse("request-cancel", args=[proposal.help_request_id]), {"reason": "prank"})

    assert response.status_code == 404
    assert HelpRequest.objects.get(pk=proposal.help_request_id).status == RequestStatus.PROPOSED
    assert Assignment.objects.get(pk=proposal.pk).status == AssignmentStatus.PROPOSED
    assert history(proposal.help_request) == before


def test_a_citizen_can_cancel_their_own_request(client, citizen, proposal):
    sign_in(client, citizen)

    response = client.post(
        reverse("request-cancel", args=[proposal.help_request_id]), {"reason": "sorted out"}
    )

    assert response.status_code == 302
    assert HelpRequest.objects.get(pk=proposal.help_request_id).status == RequestStatus.CANCELLED
    assert StatusChange.objects.filter(help_request_id=proposal.help_request_id).last().reason == "sorted out"


def expire_after_its_time(help_request: HelpRequest) -> None:
    # post_request asks for tomorrow morning: at noon tomorrow every chosen time has passed.
    noon_tomorrow = timezone.make_aware(
        dt.datetime.combine(timezone.localdate() + dt.timedelta(days=1), dt.time(12))
    )
    assert services.help_request_expire_if_time_passed(help_request=help_request, now=noon_tomorrow)


def test_cancelling_an_expired_request_shows_a_message_instead_of_failing(client, citizen, help_request):
    expire_after_its_time(help_request)
    sign_in(client, citizen)

    asked = client.get(reverse("request-cancel", args=[help_request.pk]))
    response = client.post(reverse("request-cancel", args=[help_request.pk]), follow=True)

    assert asked.status_code == 302
    assert response.status_code == 200
    assert "already The time passed: no one was found" in text_of(response)
    assert HelpRequest.objects.get(pk=help_request.pk).status == RequestStatus.EXPIRED


def test_only_its_citizen_or_a_coordinator_can_open_an_expired_request_again(
    client, citizen, other_citizen, coordinator, help_request
):
    expire_after_its_time(help_request)
    new_times = {
        "category": help_request.category_id,
        "description": "Still groceries.",
        "urgency": help_request.urgency,
        "address": "Naamsestraat 12, 3000 Leuven",
        "window_1_date": (timezone.localdate() + dt.timedelta(days=3)).isoformat(),
        "window_1_part": "1",
    }

    assert page(client, other_citizen, "request-edit", help_request.pk).status_code == 404
    assert client.post(reverse("request-edit", args=[help_request.pk]), new_times).status_code == 404
    assert HelpRequest.objects.get(pk=help_request.pk).status == RequestStatus.EXPIRED

    sign_in(client, citizen)
    response = client.post(reverse("request-edit", args=[help_request.pk]), new_times)
    assert response.status_code == 302
    assert HelpRequest.objects.get(pk=help_request.pk).status == RequestStatus.OPEN


def test_cancelling_twice_shows_a_message_instead_of_failing(client, citizen, help_request):
    sign_in(client, citizen)
    client.post(reverse("request-cancel", args=[help_request.pk]))

    response = client.post(reverse("request-cancel", args=[help_request.pk]), follow=True)

    assert response.status_code == 200
    assert "already Cancelled" in text_of(response)


def test_the_request_history_speaks_the_citizens_language_not_status_codes(client, citizen, proposal):
    sign_in(client, citizen)
    response = client.get(
        reverse("request-detail", args=[proposal.help_request_id]), headers={"accept-language": "nl"}
    )
    content = text_of(response)

    assert "Vrijwilliger gezocht (hulpvraag geplaatst)" in content
    assert "Voorgesteld aan een vrijwilliger" in content
    assert "(created)" not in content and ": proposed" not in content


def test_the_citizen_does_not_learn_who_was_asked_before_they_accept(client, citizen, proposal):
    content = text_of(page(client, citizen, "request-detail", proposal.help_request_id))

    assert "Volunteer Volunteer" not in content
    assert "+32 470 99 88 77" not in content


def test_the_citizen_does_not_see_the_volunteers_reason_for_declining(client, citizen, proposal, volunteer):
    services.assignment_decline(assignment=proposal, volunteer=volunteer, reason="I do not like that street")

    content = text_of(page(client, citizen, "request-detail", proposal.help_request_id))

    assert "I do not like that street" not in content
    assert "Volunteer Volunteer" not in content


def test_the_citizen_does_not_read_a_coordinators_reasons_about_the_volunteer(
    client, citizen, coordinator, help_request, volunteer
):
    # "Why this volunteer" can name who was asked (before they accept) and "why take the
    # task back" the volunteer's health: both stay on the assignment's record, which only
    # coordinators read. The citizen's history shows the steps without them.
    services.assignment_assign_by_coordinator(
        help_request=help_request, volunteer=volunteer, coordinator=coordinator, reason="Jan from next door"
    )
    content = text_of(page(client, citizen, "request-detail", help_request.pk))
    assert "Jan from next door" not in content and "Proposed to a volunteer" in content

    live = Assignment.objects.get(help_request=help_request, status="proposed")
    services.assignment_unassign(assignment=live, coordinator=coordinator, reason="in hospital since Monday")
    content = text_of(page(client, citizen, "request-detail", help_request.pk))
    assert "in hospital" not in content and "Jan from next door" not in content

    # The coordinators' page keeps both reasons, with who gave them.
    overview = text_of(page(client, coordinator, "coordinator-request", help_request.pk))
    assert "Jan from next door" in overview and "in hospital since Monday" in overview


# Volunteers: coarse place until they accept, exact only while accepted


def test_volunteer_sees_only_coarse_location_before_accepting(client, volunteer, proposal):
    response = page(client, volunteer, "task-detail", proposal.pk)

    assert response.status_code == 200
    content = text_of(response)
    assert "Leuven centrum" in content
    assert "Groceries for the week" in content
    assert_no_exact_place_or_contact(content)


def test_volunteer_inbox_shows_proposals_without_exact_place_or_contact(client, volunteer, proposal):
    response = page(client, volunteer, "inbox")

    content = text_of(response)
    assert reverse("task-detail", args=[proposal.pk]) in content
    assert "Leuven centrum" in content
    assert_no_exact_place_or_contact(content)


def test_volunteer_sees_name_phone_and_address_once_accepted(client, volunteer, proposal):
    accept(proposal, volunteer)

    content = text_of(page(client, volunteer, "task-detail", proposal.pk))

    assert REQUESTER_NAME in content
    assert REQUESTER_PHONE in content
    assert NAAMSESTRAAT.address in content


def test_volunteer_no_longer_sees_the_exact_place_once_done(client, volunteer, proposal):
    accept(proposal, volunteer)
    services.assignment_complete(assignment=proposal, volunteer=volunteer)

    response = page(client, volunteer, "task-detail", proposal.pk)

    assert response.status_code == 200
    assert_no_exact_place_or_contact(text_of(response))


def test_volunteer_no_longer_sees_the_exact_place_once_cancelled(client, volunteer, citizen, proposal):
    accept(proposal, volunteer)
    services.help_request_cancel(help_request=proposal.help_request, actor=citizen)

    assert_no_exact_place_or_contact(text_of(page(client, volunteer, "task-detail", proposal.pk)))


def test_volunteer_who_declined_never_sees_the_exact_place(client, volunteer, proposal):
    services.assignment_decline(assignment=proposal, volunteer=volunteer)

    assert_no_exact_place_or_contact(text_of(page(client, volunteer, "task-detail", proposal.pk)))


def test_volunteer_whose_proposal_expired_never_sees_the_exact_place(client, volunteer, proposal):
    Assignment.objects.filter(pk=proposal.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    services.expire_overdue_proposals()

    assert_no_exact_place_or_contact(text_of(page(client, volunteer, "task-detail", proposal.pk)))


@pytest.mark.parametrize("ending", ["done", "cancelled", "unassigned", "withdrawn", "given-to-another"])
def test_once_a_task_ends_no_channel_shows_its_volunteer_the_exact_place(
    client,
    volunteer,
    second_volunteer,
    citizen,
    coordinator,
    proposal,
    ending,
    django_capture_on_commit_callbacks,
):
    # Pages, the data download, e-mails to them and socket events: the same rule everywhere.
    volunteer.email = "volunteer@example.org"
    volunteer.save()
    accept(proposal, volunteer)
    with django_capture_on_commit_callbacks() as callbacks:
        if ending == "done":
            services.assignment_complete(assignment=proposal, volunteer=volunteer)
        elif ending == "cancelled":
            services.help_request_cancel(help_request=proposal.help_request, actor=citizen)
        elif ending == "withdrawn":
            services.assignment_withdraw(assignment=proposal, volunteer=volunteer, reason="moving away")
        else:
            services.assignment_unassign(assignment=proposal, coordinator=coordinator, reason="ill")
            if ending == "given-to-another":
                second = services.assignment_assign_by_coordinator(
                    help_request=proposal.help_request,
                    volunteer=second_volunteer,
                    coordinator=coordinator,
                    reason="phoned",
                    agreed_by_phone=True,
                )
                assert second.status == "accepted"
    sign_in(client, volunteer)
    for name, args in (("task-detail", [proposal.pk]), ("inbox", []), ("account-data", [])):
        response = client.get(reverse(name, args=args))
        assert response.status_code == 200
        assert_no_exact_place_or_contact(text_of(response))
    from notifications.models import OutgoingMessage

    for email in OutgoingMessage.objects.filter(recipient=volunteer):
        assert_no_exact_place_or_contact(email.subject + email.body)
    sent = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("notifications.events.send_all", lambda changes: sent.extend(changes))
        for callback in callbacks:
            callback()
    for _groups, event in sent:
        assert set(event) <= {"type", "request", "status", "change", "text"}
        assert_no_exact_place_or_contact(str(event))


def test_the_proposed_volunteer_cannot_open_the_citizens_request_page(client, volunteer, proposal):
    assert page(client, volunteer, "request-detail", proposal.help_request_id).status_code == 404


def test_a_volunteer_cannot_open_another_volunteers_task(client, second_volunteer, proposal):
    response = page(client, second_volunteer, "task-detail", proposal.pk)

    assert response.status_code == 404
    assert_no_exact_place_or_contact(text_of(response))


@pytest.mark.parametrize("action", ["task-accept", "task-decline", "task-done"])
@pytest.mark.parametrize("accepted", [False, True], ids=["proposed", "accepted"])
def test_a_volunteer_cannot_act_on_another_volunteers_task(
    client, volunteer, second_volunteer, proposal, action, accepted
):
    if accepted:
        accept(proposal, volunteer)
    status = Assignment.objects.get(pk=proposal.pk).status
    before = history(proposal.help_request)
    sign_in(client, second_volunteer)

    response = client.post(reverse(action, args=[proposal.pk]), {"reason": "not mine"})

    assert response.status_code == 404
    assert Assignment.objects.get(pk=proposal.pk).status == status
    assert history(proposal.help_request) == before


def test_a_citizen_cannot_accept_a_task_proposed_to_a_volunteer(client, citizen, proposal):
    sign_in(client, citizen)

    assert client.post(reverse("task-accept", args=[proposal.pk])).status_code == 404
    assert Assignment.objects.get(pk=proposal.pk).status == AssignmentStatus.PROPOSED


def test_accepting_an_expired_proposal_says_so_and_shows_no_address(client, volunteer, proposal):
    Assignment.objects.filter(pk=proposal.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    sign_in(client, volunteer)

    response = client.post(reverse("task-accept", args=[proposal.pk]), follow=True)

    assert response.status_code == 200
    content = text_of(response)
    assert "This proposal expired" in content
    assert_no_exact_place_or_contact(content)
    assert HelpRequest.objects.get(pk=proposal.help_request_id).status == RequestStatus.OPEN


def test_someone_without_an_offer_is_sent_from_the_inbox_to_the_offer_form(client, citizen):
    response = page(client, citizen, "inbox")

    assert response.status_code == 302
    assert response.url == reverse("offer-edit")


# Coordinators: their own community only


def test_the_coordinator_dashboard_lists_their_communitys_requests(client, coordinator, help_request):
    response = page(client, coordinator, "dashboard")

    assert response.status_code == 200
    content = text_of(response)
    assert reverse("request-detail", args=[help_request.pk]) in content
    assert REQUESTER_NAME in content


def test_another_communitys_coordinator_does_not_see_the_request(
    client, outsider_coordinator, help_request, herent_request
):
    response = page(client, outsider_coordinator, "dashboard")

    assert response.status_code == 200
    content = text_of(response)
    assert reverse("request-detail", args=[herent_request.pk]) in content
    assert reverse("request-detail", args=[help_request.pk]) not in content
    assert REQUESTER_NAME not in content


def test_a_coordinator_cannot_pick_another_community_on_the_dashboard(
    client, outsider_coordinator, help_request
):
    sign_in(client, outsider_coordinator)

    response = client.get(reverse("dashboard"), {"community": "leuven"})

    assert response.context["community"].slug == "herent"
    assert reverse("request-detail", args=[help_request.pk]) not in text_of(response)


def test_another_communitys_coordinator_gets_404_for_the_request_detail(
    client, outsider_coordinator, help_request
):
    assert page(client, outsider_coordinator, "request-detail", help_request.pk).status_code == 404


def test_another_communitys_coordinator_cannot_cancel_the_request(client, outsider_coordinator, help_request):
    sign_in(client, outsider_coordinator)

    response = client.post(reverse("request-cancel", args=[help_request.pk]))

    assert response.status_code == 404
    assert HelpRequest.objects.get(pk=help_request.pk).status == RequestStatus.OPEN


def test_a_coordinator_cannot_run_matching_for_another_community(
    client, outsider_coordinator, community, help_request
):
    MatchingQueue.objects.filter(community=community).update(due_at=None)
    sign_in(client, outsider_coordinator)

    client.post(reverse("dashboard-match"), {"community": "leuven"})

    assert MatchingQueue.objects.get(community=community).due_at is None
    assert MatchingQueue.objects.get(community=outsider_coordinator.community).due_at is not None


def test_a_plain_citizen_gets_404_on_the_dashboard(client, citizen):
    assert page(client, citizen, "dashboard").status_code == 404


def test_a_volunteer_gets_404_on_the_dashboard(client, volunteer):
    assert page(client, volunteer, "dashboard").status_code == 404


def test_a_superuser_sees_any_community_by_its_slug(client, other_community, help_request, herent_request):
    root = make_user("root", None, is_superuser=True, is_staff=True)
    sign_in(client, root)

    leuven = text_of(client.get(reverse("dashboard"), {"community": "leuven"}))
    herent = text_of(client.get(reverse("dashboard"), {"community": "herent"}))

    assert reverse("request-detail", args=[help_request.pk]) in leuven
    assert reverse("request-detail", args=[herent_request.pk]) not in leuven
    assert reverse("request-detail", args=[herent_request.pk]) in herent
    assert reverse("request-detail", args=[help_request.pk]) not in herent


def test_the_coordinator_may_open_request_details_of_their_community(client, coordinator, help_request):
    response = page(client, coordinator, "request-detail", help_request.pk)

    assert response.status_code == 200
    assert NAAMSESTRAAT.address in text_of(response)


def test_the_coordinator_may_cancel_a_request_of_their_community(client, coordinator, proposal):
    sign_in(client, coordinator)

    client.post(reverse("request-cancel", args=[proposal.help_request_id]), {"reason": "duplicate"})

    assert HelpRequest.objects.get(pk=proposal.help_request_id).status == RequestStatus.CANCELLED
    assert Assignment.objects.get(pk=proposal.pk).status == AssignmentStatus.CANCELLED


# The whole flow through the pages


def post_via_the_form(client, citizen, shopping) -> HelpRequest:
    sign_in(client, citizen)
    response = client.post(
        reverse("request-create"),
        {
            "category": shopping.pk,
            "description": "Bread and milk, please.",
            "urgency": 2,
            "address": "Naamsestraat 12, 3000 Leuven",
            "window_1_date": (timezone.localdate() + dt.timedelta(days=1)).isoformat(),
            "window_1_part": "0",
        },
    )
    help_request = HelpRequest.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("request-detail", args=[help_request.pk])
    return help_request


def test_the_whole_flow_from_posting_to_done(client, citizen, volunteer, shopping):
    help_request = post_via_the_form(client, citizen, shopping)
    assert (help_request.status, help_request.requester, help_request.neighbourhood) == (
        RequestStatus.OPEN,
        citizen,
        "Leuven centrum",
    )
    assert [window.part_of_day for window in help_request.time_windows.all()] == [0]

    assignment = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    sign_in(client, volunteer)
    accepted = client.post(reverse("task-accept", args=[assignment.pk]))
    assert accepted.status_code == 302

    sign_in(client, citizen)
    detail = text_of(client.get(reverse("request-detail", args=[help_request.pk])))
    assert "Volunteer Volunteer is coming to help you" in detail
    assert "+32 470 99 88 77" in detail
    assert "Volunteer Volunteer is coming" in text_of(client.get(reverse("my-requests")))

    sign_in(client, volunteer)
    assert "Citizen Peeters" in text_of(client.get(reverse("task-detail", args=[assignment.pk])))
    client.post(reverse("task-done", args=[assignment.pk]))

    sign_in(client, citizen)
    detail = client.get(reverse("request-detail", args=[help_request.pk]))
    assert detail.context["help_request"].status == RequestStatus.DONE
    assert "data-request-status>Done</span>" in text_of(detail)


def test_the_whole_flow_when_the_volunteer_declines(client, citizen, volunteer, shopping):
    help_request = post_via_the_form(client, citizen, shopping)
    assignment = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    sign_in(client, volunteer)

    response = client.post(reverse("task-decline", args=[assignment.pk]), {"reason": "Away this week"})

    assert response.status_code == 302
    assert response.url == reverse("inbox")
    assignment.refresh_from_db()
    assert (assignment.status, assignment.decline_reason) == (AssignmentStatus.DECLINED, "Away this week")
    sign_in(client, citizen)
    detail = client.get(reverse("request-detail", args=[help_request.pk]))
    assert detail.context["help_request"].status == RequestStatus.OPEN
    assert "We are looking for a volunteer." in text_of(detail)
