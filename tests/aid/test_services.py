"""The services: each state change, its StatusChange records and the events it publishes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from matching.models import MatchingQueue
from matching.services import propose_assignments, run_due_matching
from mutualaid.aid import services
from mutualaid.aid.models import (
    Assignment,
    AuditEntry,
    Category,
    HelpRequest,
    StatusChange,
    Urgency,
    VolunteerOffer,
)
from mutualaid.aid.places import Location
from mutualaid.aid.services import TaskActionError
from mutualaid.aid.states import AssignmentStatus, InvalidTransition, RequestStatus
from notifications import events
from tests.conftest import (
    KESSEL_LO,
    LADEUZEPLEIN,
    NAAMSESTRAAT,
    make_user,
    make_volunteer,
    offer_of,
    post_request,
)

TOMORROW = timezone.localdate() + dt.timedelta(days=1)
HERENT = Location(50.9070, 4.6720, "Kerkstraat 1, 3020 Herent", "Herent")


@pytest.fixture
def sent(monkeypatch):
    """What reaches the channel layer: (groups, event) per published change."""
    published: list[tuple[list[str], dict]] = []
    monkeypatch.setattr(events, "send_all", published.extend)
    return published


def records(help_request: HelpRequest, **filters) -> list[tuple]:
    """The recorded history of a request: (subject, actor, from, to, reason) in order."""
    return [
        (change.subject, change.actor, change.from_status, change.to_status, change.reason)
        for change in StatusChange.objects.filter(help_request=help_request, **filters)
    ]


def groups_of(community, *people) -> list[str]:
    return [events.community_group(community.pk)] + [
        events.person_group(user_id) for user_id in sorted(person.pk for person in people)
    ]


def task_event(help_request: HelpRequest, status: str, change: str) -> dict:
    return {"type": events.TASK_CHANGED, "request": help_request.pk, "status": status, "change": change}


def make_overdue(assignment: Assignment) -> None:
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    assignment.refresh_from_db()


def create_request(community, requester, category, **overrides) -> HelpRequest:
    arguments = {
        "community": community,
        "requester": requester,
        "created_by": requester,
        "category": category,
        "description": "Pick up my prescription.",
        "urgency": Urgency.SOON,
        "location": NAAMSESTRAAT,
        "time_windows": [(TOMORROW, 1)],
    }
    arguments.update(overrides)
    return services.help_request_create(**arguments)


# help_request_create


def test_posting_a_request_opens_it_and_records_who_created_it(citizen, community, pharmacy):
    help_request = create_request(community, citizen, pharmacy)

    help_request.refresh_from_db()
    assert help_request.status == RequestStatus.OPEN
    assert (help_request.requester, help_request.created_by, help_request.category) == (
        citizen,
        citizen,
        pharmacy,
    )
    assert (help_request.address, help_request.latitude, help_request.longitude) == (
        NAAMSESTRAAT.address,
        NAAMSESTRAAT.latitude,
        NAAMSESTRAAT.longitude,
    )
    assert help_request.neighbourhood == "Leuven centrum"
    assert records(help_request) == [("request", citizen, "", RequestStatus.OPEN, "created")]


def test_posting_a_request_saves_its_time_windows_once_each_in_order(citizen, community, pharmacy):
    later = TOMORROW + dt.timedelta(days=2)
    help_request = create_request(
        community, citizen, pharmacy, time_windows=[(later, 2), (TOMORROW, 0), (later, 2), (TOMORROW, 1)]
    )

    saved = [(window.date, window.part_of_day) for window in help_request.time_windows.all()]
    assert saved == [(TOMORROW, 0), (TOMORROW, 1), (later, 2)]
    assert not help_request.any_time


def test_an_any_time_request_needs_no_time_window(citizen, community, pharmacy):
    help_request = create_request(community, citizen, pharmacy, time_windows=[], any_time=True)

    assert help_request.any_time
    assert not help_request.time_windows.exists()


def test_a_coordinator_can_file_a_request_for_someone_without_an_account(coordinator, community, shopping):
    help_request = create_request(
        community,
        None,
        shopping,
        created_by=coordinator,
        contact_name="Mrs Maes",
        contact_phone="016 112233",
    )

    assert help_request.requester is None
    assert help_request.created_by == coordinator
    # The number is kept in E.164 (read as Belgian: typed without a country code).
    assert (help_request.contact_name, help_request.contact_phone) == ("Mrs Maes", "+3216112233")
    assert records(help_request) == [("request", coordinator, "", RequestStatus.OPEN, "created")]


def test_a_phoned_in_request_needs_the_callers_name_and_phone(coordinator, community, shopping):
    with pytest.raises(ValidationError) as raised:
        create_request(community, None, shopping, created_by=coordinator, contact_name="Mrs Maes")

    assert "contact_name" in raised.value.message_dict
    assert not HelpRequest.objects.exists()


def test_only_a_coordinator_files_requests_for_someone_without_an_account(citizen, community, shopping):
    with pytest.raises(PermissionDenied):
        create_request(
            community, None, shopping, created_by=citizen, contact_name="X", contact_phone="016 11 22 33"
        )


def test_posting_with_a_category_of_another_community_is_refused(citizen, community, other_community):
    gardening = Category.objects.create(community=other_community, slug="gardening", name="Gardening")

    with pytest.raises(ValidationError) as raised:
        create_request(community, citizen, gardening)

    assert "category" in raised.value.message_dict
    assert not HelpRequest.objects.exists()


def test_posting_with_an_inactive_category_is_refused(citizen, community, shopping):
    shopping.is_active = False
    shopping.save()

    with pytest.raises(ValidationError) as raised:
        create_request(community, citizen, shopping)

    assert "category" in raised.value.message_dict
    assert not HelpRequest.objects.exists()


def test_posting_without_time_windows_or_any_time_is_refused(citizen, community, shopping):
    with pytest.raises(ValidationError) as raised:
        create_request(community, citizen, shopping, time_windows=[], any_time=False)

    assert "time_windows" in raised.value.message_dict
    assert not HelpRequest.objects.exists()
    assert not StatusChange.objects.exists()


def test_posting_a_request_makes_matching_due_for_its_community(
    citizen, community, other_community, shopping
):
    before = timezone.now()
    create_request(community, citizen, shopping)

    queue = MatchingQueue.objects.get(community=community)
    assert queue.due_at is not None
    assert before <= queue.due_at <= timezone.now()  # the tests' debounce is 0 seconds
    assert not MatchingQueue.objects.filter(community=other_community).exists()


def test_a_second_trigger_keeps_the_earlier_due_time(citizen, community, shopping):
    create_request(community, citizen, shopping)
    first_due = MatchingQueue.objects.get(community=community).due_at

    create_request(community, citizen, shopping)

    assert MatchingQueue.objects.get(community=community).due_at == first_due


# assignment_propose


def test_proposing_moves_the_request_to_proposed_and_records_both_changes(help_request, volunteer):
    assignment = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)

    help_request.refresh_from_db()
    assert help_request.status == RequestStatus.PROPOSED
    assert (assignment.status, assignment.volunteer, assignment.km) == (
        AssignmentStatus.PROPOSED,
        volunteer,
        0.7,
    )
    assert assignment.expires_at > timezone.now()
    assert records(help_request, assignment=assignment) == [
        ("assignment", None, "", AssignmentStatus.PROPOSED, "matching"),
        ("request", None, RequestStatus.OPEN, RequestStatus.PROPOSED, ""),
    ]


def test_proposal_deadline_follows_the_setting(settings, help_request, volunteer):
    settings.PROPOSAL_EXPIRY_HOURS = 2
    before = timezone.now()

    assignment = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)

    assert before + dt.timedelta(hours=2) <= assignment.expires_at <= timezone.now() + dt.timedelta(hours=2)


def test_a_request_already_proposed_cannot_be_proposed_again(proposal, second_volunteer):
    with pytest.raises(InvalidTransition):
        services.assignment_propose(help_request=proposal.help_request, volunteer=second_volunteer, km=2.0)

    assert Assignment.objects.filter(help_request=proposal.help_request).count() == 1


# assignment_accept


def test_accepting_a_proposal_tells_the_request_a_volunteer_is_coming(proposal, volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)

    proposal.refresh_from_db()
    help_request = proposal.help_request
    help_request.refresh_from_db()
    assert proposal.status == AssignmentStatus.ACCEPTED
    assert proposal.responded_at is not None
    assert help_request.status == RequestStatus.ACCEPTED
    assert records(help_request, assignment=proposal)[-2:] == [
        ("assignment", volunteer, AssignmentStatus.PROPOSED, AssignmentStatus.ACCEPTED, ""),
        ("request", volunteer, RequestStatus.PROPOSED, RequestStatus.ACCEPTED, ""),
    ]


def test_another_volunteer_cannot_accept_someone_elses_proposal(proposal, second_volunteer):
    history = records(proposal.help_request)

    with pytest.raises(PermissionDenied):
        services.assignment_accept(assignment=proposal, volunteer=second_volunteer)

    proposal.refresh_from_db()
    assert proposal.status == AssignmentStatus.PROPOSED
    assert records(proposal.help_request) == history


def test_accepting_twice_is_refused_with_a_message(proposal, volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    history = records(proposal.help_request)

    with pytest.raises(TaskActionError, match="already answered"):
        services.assignment_accept(assignment=proposal, volunteer=volunteer)

    assert records(proposal.help_request) == history


def test_accepting_after_the_deadline_expires_the_proposal_and_keeps_the_expiry(
    proposal, volunteer, sent, django_capture_on_commit_callbacks
):
    make_overdue(proposal)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(TaskActionError, match="expired"):
        services.assignment_accept(assignment=proposal, volunteer=volunteer)

    # Had the expiry been rolled back with the error, the request would still be proposed
    # and its on-commit event would have been dropped.
    proposal.refresh_from_db()
    help_request = HelpRequest.objects.get(pk=proposal.help_request_id)
    assert proposal.status == AssignmentStatus.EXPIRED
    assert help_request.status == RequestStatus.OPEN
    assert records(help_request, assignment=proposal)[-2:] == [
        ("assignment", None, AssignmentStatus.PROPOSED, AssignmentStatus.EXPIRED, "no answer in time"),
        ("request", None, RequestStatus.PROPOSED, RequestStatus.OPEN, "expired"),
    ]
    assert [event["change"] for _groups, event in sent] == ["expired"]
    assert MatchingQueue.objects.get(community=help_request.community).due_at is not None


@pytest.mark.django_db(transaction=True)
def test_expiry_found_while_accepting_is_committed_although_the_accept_fails(
    citizen, community, shopping, volunteer, sent
):
    help_request = post_request(citizen, community, shopping)
    with transaction.atomic():
        proposal = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    make_overdue(proposal)
    sent.clear()

    with pytest.raises(TaskActionError):
        services.assignment_accept(assignment=proposal, volunteer=volunteer)

    assert Assignment.objects.get(pk=proposal.pk).status == AssignmentStatus.EXPIRED
    assert HelpRequest.objects.get(pk=help_request.pk).status == RequestStatus.OPEN
    assert [event["change"] for _groups, event in sent] == ["expired"]


# assignment_decline


def test_declining_opens_the_request_again_and_keeps_the_reason(proposal, volunteer, community):
    MatchingQueue.objects.filter(community=community).update(due_at=None)  # as after a run

    services.assignment_decline(assignment=proposal, volunteer=volunteer, reason="I am ill this week")

    proposal.refresh_from_db()
    help_request = HelpRequest.objects.get(pk=proposal.help_request_id)
    assert proposal.status == AssignmentStatus.DECLINED
    assert proposal.decline_reason == "I am ill this week"
    assert proposal.responded_at is not None
    assert help_request.status == RequestStatus.OPEN
    assert records(help_request, assignment=proposal)[-2:] == [
        ("assignment", volunteer, AssignmentStatus.PROPOSED, AssignmentStatus.DECLINED, "I am ill this week"),
        ("request", volunteer, RequestStatus.PROPOSED, RequestStatus.OPEN, "declined"),
    ]
    assert MatchingQueue.objects.get(community=community).due_at is not None


def test_declining_a_proposal_already_accepted_is_refused(proposal, volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)

    with pytest.raises(TaskActionError):
        services.assignment_decline(assignment=proposal, volunteer=volunteer, reason="changed my mind")

    proposal.refresh_from_db()
    assert proposal.status == AssignmentStatus.ACCEPTED
    assert proposal.decline_reason == ""


def test_another_volunteer_cannot_decline_someone_elses_proposal(proposal, second_volunteer):
    with pytest.raises(PermissionDenied):
        services.assignment_decline(assignment=proposal, volunteer=second_volunteer)

    proposal.refresh_from_db()
    assert proposal.status == AssignmentStatus.PROPOSED


# assignment_complete


def test_completing_an_accepted_task_marks_it_done(proposal, volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)

    services.assignment_complete(assignment=proposal, volunteer=volunteer)

    proposal.refresh_from_db()
    help_request = HelpRequest.objects.get(pk=proposal.help_request_id)
    assert (proposal.status, help_request.status) == (AssignmentStatus.DONE, RequestStatus.DONE)
    assert records(help_request, assignment=proposal)[-2:] == [
        ("assignment", volunteer, AssignmentStatus.ACCEPTED, AssignmentStatus.DONE, ""),
        ("request", volunteer, RequestStatus.ACCEPTED, RequestStatus.DONE, ""),
    ]


def test_completing_before_accepting_is_refused(proposal, volunteer):
    with pytest.raises(TaskActionError, match="accepted"):
        services.assignment_complete(assignment=proposal, volunteer=volunteer)

    proposal.refresh_from_db()
    assert proposal.status == AssignmentStatus.PROPOSED
    assert HelpRequest.objects.get(pk=proposal.help_request_id).status == RequestStatus.PROPOSED


def test_completing_twice_is_refused_with_a_thank_you(proposal, volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    services.assignment_complete(assignment=proposal, volunteer=volunteer)

    with pytest.raises(TaskActionError, match="already marked as done"):
        services.assignment_complete(assignment=proposal, volunteer=volunteer)


def test_another_volunteer_cannot_complete_someone_elses_task(proposal, volunteer, second_volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)

    with pytest.raises(PermissionDenied):
        services.assignment_complete(assignment=proposal, volunteer=second_volunteer)

    proposal.refresh_from_db()
    assert proposal.status == AssignmentStatus.ACCEPTED


# help_request_cancel


def test_cancelling_an_open_request(help_request, citizen):
    services.help_request_cancel(help_request=help_request, actor=citizen, reason="my son came")

    help_request.refresh_from_db()
    assert help_request.status == RequestStatus.CANCELLED
    assert records(help_request)[-1] == (
        "request",
        citizen,
        RequestStatus.OPEN,
        RequestStatus.CANCELLED,
        "my son came",
    )


def test_cancelling_a_proposed_request_cancels_the_proposal_too(proposal, citizen):
    services.help_request_cancel(help_request=proposal.help_request, actor=citizen, reason="no longer needed")

    proposal.refresh_from_db()
    help_request = HelpRequest.objects.get(pk=proposal.help_request_id)
    assert (proposal.status, help_request.status) == (AssignmentStatus.CANCELLED, RequestStatus.CANCELLED)
    assert records(help_request)[-2:] == [
        ("assignment", citizen, AssignmentStatus.PROPOSED, AssignmentStatus.CANCELLED, "no longer needed"),
        ("request", citizen, RequestStatus.PROPOSED, RequestStatus.CANCELLED, "no longer needed"),
    ]


def test_cancelling_an_accepted_request_releases_the_volunteer(proposal, citizen, volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)

    services.help_request_cancel(help_request=proposal.help_request, actor=citizen)

    proposal.refresh_from_db()
    help_request = HelpRequest.objects.get(pk=proposal.help_request_id)
    assert (proposal.status, help_request.status) == (AssignmentStatus.CANCELLED, RequestStatus.CANCELLED)
    assert records(help_request)[-2:] == [
        ("assignment", citizen, AssignmentStatus.ACCEPTED, AssignmentStatus.CANCELLED, ""),
        ("request", citizen, RequestStatus.ACCEPTED, RequestStatus.CANCELLED, ""),
    ]


def test_cancelling_leaves_earlier_answered_proposals_alone(proposal, volunteer, second_volunteer, citizen):
    services.assignment_decline(assignment=proposal, volunteer=volunteer)
    second = services.assignment_propose(
        help_request=proposal.help_request, volunteer=second_volunteer, km=2.1
    )

    services.help_request_cancel(help_request=proposal.help_request, actor=citizen)

    assert Assignment.objects.get(pk=proposal.pk).status == AssignmentStatus.DECLINED
    assert Assignment.objects.get(pk=second.pk).status == AssignmentStatus.CANCELLED


@pytest.mark.parametrize("stranger", ["other_citizen", "outsider_coordinator", "volunteer"])
def test_a_stranger_cannot_cancel_a_request(request, proposal, stranger):
    history = records(proposal.help_request)

    with pytest.raises(PermissionDenied):
        services.help_request_cancel(
            help_request=proposal.help_request, actor=request.getfixturevalue(stranger)
        )

    assert HelpRequest.objects.get(pk=proposal.help_request_id).status == RequestStatus.PROPOSED
    assert Assignment.objects.get(pk=proposal.pk).status == AssignmentStatus.PROPOSED
    assert records(proposal.help_request) == history


def test_the_communitys_coordinator_can_cancel_a_request(proposal, coordinator):
    services.help_request_cancel(help_request=proposal.help_request, actor=coordinator, reason="duplicate")

    help_request = HelpRequest.objects.get(pk=proposal.help_request_id)
    assert help_request.status == RequestStatus.CANCELLED
    assert records(help_request)[-1] == (
        "request",
        coordinator,
        RequestStatus.PROPOSED,
        RequestStatus.CANCELLED,
        "duplicate",
    )


def test_a_superuser_can_cancel_any_request(help_request, other_community):
    admin = make_user("root", other_community, is_superuser=True, is_staff=True)

    services.help_request_cancel(help_request=help_request, actor=admin)

    assert HelpRequest.objects.get(pk=help_request.pk).status == RequestStatus.CANCELLED


def test_cancelling_twice_is_refused_with_a_message(help_request, citizen):
    services.help_request_cancel(help_request=help_request, actor=citizen)
    history = records(help_request)

    with pytest.raises(TaskActionError, match="already Cancelled"):
        services.help_request_cancel(help_request=help_request, actor=citizen)

    assert records(help_request) == history


def test_a_done_request_cannot_be_cancelled(proposal, volunteer, citizen):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    services.assignment_complete(assignment=proposal, volunteer=volunteer)

    with pytest.raises(TaskActionError, match="already Done"):
        services.help_request_cancel(help_request=proposal.help_request, actor=citizen)

    assert Assignment.objects.get(pk=proposal.pk).status == AssignmentStatus.DONE


# assignment_expire and expire_overdue_proposals


def test_a_proposal_within_its_deadline_does_not_expire(proposal):
    assert services.assignment_expire(assignment=proposal) is False

    proposal.refresh_from_db()
    assert proposal.status == AssignmentStatus.PROPOSED


def test_an_overdue_proposal_expires_and_the_request_opens_again(proposal, community):
    make_overdue(proposal)
    MatchingQueue.objects.filter(community=community).update(due_at=None)

    assert services.assignment_expire(assignment=proposal) is True

    proposal.refresh_from_db()
    help_request = HelpRequest.objects.get(pk=proposal.help_request_id)
    assert (proposal.status, help_request.status) == (AssignmentStatus.EXPIRED, RequestStatus.OPEN)
    assert proposal.responded_at is not None
    assert records(help_request, assignment=proposal)[-2:] == [
        ("assignment", None, AssignmentStatus.PROPOSED, AssignmentStatus.EXPIRED, "no answer in time"),
        ("request", None, RequestStatus.PROPOSED, RequestStatus.OPEN, "expired"),
    ]
    assert MatchingQueue.objects.get(community=community).due_at is not None


def test_an_answered_proposal_does_not_expire_even_past_its_deadline(proposal, volunteer):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    make_overdue(proposal)

    assert services.assignment_expire(assignment=proposal) is False
    assert Assignment.objects.get(pk=proposal.pk).status == AssignmentStatus.ACCEPTED


def test_expire_overdue_proposals_expires_only_overdue_unanswered_ones(
    citizen, other_citizen, community, shopping, volunteer, second_volunteer
):
    third_volunteer = make_volunteer("third-volunteer", community, [shopping], KESSEL_LO)
    overdue = services.assignment_propose(
        help_request=post_request(citizen, community, shopping), volunteer=volunteer, km=1
    )
    in_time = services.assignment_propose(
        help_request=post_request(other_citizen, community, shopping), volunteer=second_volunteer, km=1
    )
    answered = services.assignment_propose(
        help_request=post_request(citizen, community, shopping), volunteer=third_volunteer, km=1
    )
    services.assignment_accept(assignment=answered, volunteer=third_volunteer)
    make_overdue(overdue)
    make_overdue(answered)

    assert services.expire_overdue_proposals() == 1

    statuses = dict(Assignment.objects.values_list("pk", "status"))
    assert statuses == {
        overdue.pk: AssignmentStatus.EXPIRED,
        in_time.pk: AssignmentStatus.PROPOSED,
        answered.pk: AssignmentStatus.ACCEPTED,
    }
    assert services.expire_overdue_proposals() == 0


# assignments_propose_batch


def locked_open_requests(citizen, community, category, count: int) -> list[HelpRequest]:
    """Open requests locked as a matching run locks them before proposing."""
    pks = [post_request(citizen, community, category).pk for _ in range(count)]
    return list(
        HelpRequest.objects.select_for_update(of=("self",))
        .select_related("category")
        .filter(pk__in=pks)
        .order_by("pk")
    )


def test_a_batch_proposes_several_requests_at_once(citizen, community, shopping, volunteer, second_volunteer):
    first, second = locked_open_requests(citizen, community, shopping, 2)

    assignments = services.assignments_propose_batch(
        proposals=[(first, volunteer.pk, 0.7), (second, second_volunteer.pk, 2.5)]
    )

    assert [(a.help_request_id, a.volunteer_id, a.km, a.status) for a in assignments] == [
        (first.pk, volunteer.pk, 0.7, AssignmentStatus.PROPOSED),
        (second.pk, second_volunteer.pk, 2.5, AssignmentStatus.PROPOSED),
    ]
    assert all(a.expires_at > timezone.now() for a in Assignment.objects.all())
    for help_request, assignment in [(first, assignments[0]), (second, assignments[1])]:
        assert HelpRequest.objects.get(pk=help_request.pk).status == RequestStatus.PROPOSED
        assert records(help_request, assignment=assignment) == [
            ("assignment", None, "", AssignmentStatus.PROPOSED, "matching"),
            ("request", None, RequestStatus.OPEN, RequestStatus.PROPOSED, "matching"),
        ]


def test_a_batch_proposal_marks_the_request_as_updated_like_a_single_proposal(
    citizen, community, shopping, volunteer, second_volunteer
):
    single, batched = locked_open_requests(citizen, community, shopping, 2)
    long_ago = timezone.now() - dt.timedelta(days=1)
    HelpRequest.objects.filter(pk__in=[single.pk, batched.pk]).update(updated_at=long_ago)
    single.refresh_from_db()
    batched.refresh_from_db()

    services.assignment_propose(help_request=single, volunteer=volunteer, km=1.0)
    services.assignments_propose_batch(proposals=[(batched, second_volunteer.pk, 1.0)])

    # The coordinator dashboard sorts each column by this time.
    assert HelpRequest.objects.get(pk=single.pk).updated_at > long_ago
    assert HelpRequest.objects.get(pk=batched.pk).updated_at > long_ago


def test_a_batch_costs_the_same_few_queries_for_2_and_10_proposals(
    citizen, community, shopping, volunteer, second_volunteer, django_assert_max_num_queries
):
    # With e-mail addresses, so the costliest path (a proposal mail each) is counted too.
    type(volunteer).objects.filter(pk__in=[volunteer.pk, second_volunteer.pk]).update(email="v@example.org")
    helpers = [volunteer.pk, second_volunteer.pk]
    VolunteerOffer.objects.filter(volunteer_id__in=helpers).update(capacity=10)  # room for 6 tasks each

    two = locked_open_requests(citizen, community, shopping, 2)
    # Six, and one for the requests' communities (every mail is signed with its community's).
    with django_assert_max_num_queries(7) as queries_for_two:
        services.assignments_propose_batch(proposals=[(r, helpers[i % 2], 1.0) for i, r in enumerate(two)])
    ten = locked_open_requests(citizen, community, shopping, 10)
    with django_assert_max_num_queries(len(queries_for_two)) as queries_for_ten:
        services.assignments_propose_batch(proposals=[(r, helpers[i % 2], 1.0) for i, r in enumerate(ten)])

    assert len(queries_for_ten) == len(queries_for_two)
    assert Assignment.objects.count() == 12


def test_a_batch_with_a_request_no_longer_looking_for_anyone_proposes_nothing(
    proposal, citizen, community, shopping, volunteer, second_volunteer
):
    fresh = locked_open_requests(citizen, community, shopping, 1)[0]
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    services.assignment_complete(assignment=proposal, volunteer=volunteer)
    already_done = HelpRequest.objects.get(pk=proposal.help_request_id)

    with pytest.raises(InvalidTransition):
        services.assignments_propose_batch(
            proposals=[(fresh, volunteer.pk, 1.0), (already_done, second_volunteer.pk, 1.0)]
        )

    assert Assignment.objects.count() == 1
    assert HelpRequest.objects.get(pk=fresh.pk).status == RequestStatus.OPEN


# The database's own guard


def test_the_database_refuses_a_second_live_assignment_for_one_request(proposal, second_volunteer):
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(
            help_request=proposal.help_request,
            volunteer=second_volunteer,
            km=2.0,
            expires_at=timezone.now() + dt.timedelta(hours=1),
        )

    assert Assignment.objects.filter(help_request=proposal.help_request).count() == 1


def test_the_database_allows_a_new_proposal_once_the_old_one_is_answered(
    proposal, volunteer, second_volunteer
):
    services.assignment_decline(assignment=proposal, volunteer=volunteer)

    with transaction.atomic():
        Assignment.objects.create(
            help_request=proposal.help_request,
            volunteer=second_volunteer,
            km=2.0,
            expires_at=timezone.now() + dt.timedelta(hours=1),
        )

    assert Assignment.objects.filter(help_request=proposal.help_request).count() == 2


def live_task_for(volunteer, help_request, **fields) -> Assignment:
    """An assignment written straight to the database, past every check in the services."""
    return Assignment.objects.create(
        help_request=help_request,
        volunteer=volunteer,
        km=1.0,
        expires_at=timezone.now() + dt.timedelta(hours=1),
        **fields,
    )


def test_the_database_refuses_a_task_beyond_the_volunteers_capacity(
    proposal, volunteer, citizen, community, shopping
):
    another_request = post_request(citizen, community, shopping)

    with pytest.raises(IntegrityError, match="assignment_within_volunteer_capacity"), transaction.atomic():
        live_task_for(volunteer, another_request)

    assert list(Assignment.objects.filter(volunteer=volunteer)) == [proposal]


def test_the_database_refuses_reviving_an_answered_task_when_the_volunteer_is_full(
    proposal, volunteer, citizen, community, shopping
):
    declined = live_task_for(volunteer, post_request(citizen, community, shopping), status="declined")

    with pytest.raises(IntegrityError, match="assignment_within_volunteer_capacity"), transaction.atomic():
        Assignment.objects.filter(pk=declined.pk).update(status="accepted")

    assert Assignment.objects.get(pk=declined.pk).status == "declined"


def test_the_database_refuses_a_live_task_for_someone_without_an_offer(citizen, community, shopping):
    stranger = make_user("no-offer", community)

    with pytest.raises(IntegrityError, match="assignment_within_volunteer_capacity"), transaction.atomic():
        live_task_for(stranger, post_request(citizen, community, shopping))


def test_the_database_counts_capacity_per_volunteer_and_only_live_tasks(
    proposal, volunteer, second_volunteer, citizen, community, shopping
):
    live_task_for(volunteer, post_request(citizen, community, shopping), status="done")
    live_task_for(second_volunteer, post_request(citizen, community, shopping))

    assert Assignment.objects.filter(status__in=["proposed", "accepted"]).count() == 2


def test_a_volunteer_who_lowers_their_capacity_can_still_accept_what_was_proposed(
    citizen, community, shopping
):
    helper = make_volunteer("two-at-once", community, [shopping], NAAMSESTRAAT, capacity=2)
    first, _second = (
        services.assignment_propose(
            help_request=post_request(citizen, community, shopping), volunteer=helper, km=1
        )
        for _ in range(2)
    )
    VolunteerOffer.objects.filter(volunteer=helper).update(capacity=1)

    services.assignment_accept(assignment=first, volunteer=helper)

    assert Assignment.objects.get(pk=first.pk).status == "accepted"
    with pytest.raises(IntegrityError), transaction.atomic():
        live_task_for(helper, post_request(citizen, community, shopping))


# volunteer_offer_save and volunteer_offer_set_paused


def test_saving_an_offer_creates_it_then_updates_the_same_offer(community, shopping, pharmacy):
    person = make_user("newcomer", None)

    created = services.volunteer_offer_save(
        volunteer=person,
        community=community,
        skills=[shopping],
        location=NAAMSESTRAAT,
        max_km=2.0,
        availability=[5, 0, 5],
        capacity=1,
    )
    updated = services.volunteer_offer_save(
        volunteer=person,
        community=community,
        skills=[pharmacy],
        location=LADEUZEPLEIN,
        max_km=4.5,
        availability=[20, 3],
        capacity=3,
    )

    assert created.pk == updated.pk
    assert VolunteerOffer.objects.count() == 1
    offer = offer_of(person)
    assert list(offer.skills.all()) == [pharmacy]
    assert (offer.address, offer.latitude, offer.longitude) == (
        LADEUZEPLEIN.address,
        LADEUZEPLEIN.latitude,
        LADEUZEPLEIN.longitude,
    )
    assert (offer.max_km, offer.availability, offer.capacity) == (4.5, [3, 20], 3)
    person.refresh_from_db()
    assert person.community == community  # joining by volunteering


def test_saving_an_offer_makes_matching_due(community, shopping, volunteer):
    MatchingQueue.objects.filter(community=community).update(due_at=None)

    services.volunteer_offer_save(
        volunteer=volunteer,
        community=community,
        skills=[shopping],
        location=LADEUZEPLEIN,
        max_km=3,
        availability=[1],
        capacity=1,
    )

    assert MatchingQueue.objects.get(community=community).due_at is not None


def test_an_offer_with_skills_of_another_community_is_refused(community, other_community, shopping):
    gardening = Category.objects.create(community=other_community, slug="gardening", name="Gardening")
    person = make_user("newcomer", community)

    with pytest.raises(ValidationError) as raised:
        services.volunteer_offer_save(
            volunteer=person,
            community=community,
            skills=[shopping, gardening],
            location=NAAMSESTRAAT,
            max_km=2,
            availability=[0],
            capacity=1,
        )

    assert "skills" in raised.value.message_dict
    assert not VolunteerOffer.objects.exists()


@pytest.mark.parametrize("slot", [-1, 21, 99])
def test_an_offer_with_availability_outside_the_week_grid_is_refused(community, shopping, slot):
    person = make_user("newcomer", community)

    with pytest.raises(ValidationError) as raised:
        services.volunteer_offer_save(
            volunteer=person,
            community=community,
            skills=[shopping],
            location=NAAMSESTRAAT,
            max_km=2,
            availability=[0, slot],
            capacity=1,
        )

    assert "availability" in raised.value.message_dict
    assert not VolunteerOffer.objects.exists()


def test_pausing_an_offer_keeps_its_proposals_and_schedules_no_matching(proposal, volunteer, community):
    MatchingQueue.objects.filter(community=community).update(due_at=None)

    services.volunteer_offer_set_paused(offer=offer_of(volunteer), paused=True)

    assert offer_of(volunteer).is_paused
    assert Assignment.objects.get(pk=proposal.pk).status == AssignmentStatus.PROPOSED
    assert MatchingQueue.objects.get(community=community).due_at is None


def test_resuming_an_offer_makes_matching_due(volunteer, community):
    services.volunteer_offer_set_paused(offer=offer_of(volunteer), paused=True)
    MatchingQueue.objects.filter(community=community).update(due_at=None)

    services.volunteer_offer_set_paused(offer=offer_of(volunteer), paused=False)

    assert not offer_of(volunteer).is_paused
    assert MatchingQueue.objects.get(community=community).due_at is not None


# Events: after the commit, to the right groups, never for a rolled-back change


def test_posting_tells_the_requester_and_the_coordinators(
    citizen, community, shopping, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        help_request = create_request(community, citizen, shopping)

    assert sent == [(groups_of(community, citizen), task_event(help_request, RequestStatus.OPEN, "created"))]


def test_a_request_filed_for_someone_offline_tells_only_the_coordinators(
    coordinator, community, shopping, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        help_request = create_request(
            community,
            None,
            shopping,
            created_by=coordinator,
            contact_name="Mrs Maes",
            contact_phone="016 112233",
        )

    assert sent == [([events.community_group(community.pk)], task_event(help_request, "open", "created"))]


def community_event(change: str) -> dict:
    return {"type": events.COMMUNITY_CHANGED, "change": change}


def test_pausing_or_resuming_an_offer_tells_the_dashboard(
    volunteer, community, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.volunteer_offer_set_paused(offer=offer_of(volunteer), paused=True)
        services.volunteer_offer_set_paused(offer=offer_of(volunteer), paused=False)

    assert sent == [([events.community_group(community.pk)], community_event("volunteers"))] * 2


def test_moving_an_offer_to_another_community_tells_both_dashboards(
    volunteer, community, other_community, sent, django_capture_on_commit_callbacks
):
    offer = offer_of(volunteer)
    with django_capture_on_commit_callbacks(execute=True):
        services.volunteer_offer_save(
            volunteer=volunteer,
            community=other_community,
            skills=[],
            location=KESSEL_LO,
            max_km=offer.max_km,
            availability=offer.availability,
            capacity=offer.capacity,
        )

    told = sorted(groups[0] for groups, _event in sent)
    assert told == sorted(events.community_group(pk) for pk in (community.pk, other_community.pk))
    assert {event["change"] for _groups, event in sent} == {"volunteers"}


def test_calling_someone_back_tells_the_dashboard(
    coordinator, community, shopping, sent, django_capture_on_commit_callbacks
):
    help_request = create_request(
        community, None, shopping, created_by=coordinator, contact_name="Mrs Maes", contact_phone="016 112233"
    )
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.help_request_mark_called_back(help_request=help_request, coordinator=coordinator)

    assert sent == [([events.community_group(community.pk)], community_event("called_back"))]


def test_attaching_a_phoned_in_request_tells_its_new_requester_and_the_dashboard(
    coordinator, citizen, community, shopping, sent, django_capture_on_commit_callbacks
):
    help_request = create_request(
        community, None, shopping, created_by=coordinator, contact_name="Mrs Maes", contact_phone="016 112233"
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.help_request_attach_to_account(
            help_request=help_request, person=citizen, coordinator=coordinator
        )

    assert sent[-1] == (groups_of(community, citizen), task_event(help_request, "open", "attached"))


def test_a_new_waiting_reason_is_told_once_and_an_unchanged_one_not_again(
    citizen, community, shopping, sent, django_capture_on_commit_callbacks
):
    help_request = create_request(community, citizen, shopping)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.help_requests_set_waiting_reasons(reasons={help_request: "no_skill"})
    with django_capture_on_commit_callbacks(execute=True):
        services.help_requests_set_waiting_reasons(reasons={help_request: "no_skill"})

    assert HelpRequest.objects.get(pk=help_request.pk).unassigned_reason == "no_skill"
    assert sent == [(groups_of(community, citizen), task_event(help_request, "open", "waiting"))]


def test_events_wait_for_the_commit(citizen, community, shopping, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        create_request(community, citizen, shopping)
        assert sent == []  # still inside the transaction

    assert len(sent) == 1


def test_proposing_tells_requester_volunteer_and_coordinators(
    help_request, citizen, volunteer, community, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)

    assert sent == [
        (groups_of(community, citizen, volunteer), task_event(help_request, "proposed", "proposed"))
    ]


def test_a_batch_tells_each_volunteer_about_their_own_proposal(
    citizen,
    other_citizen,
    community,
    shopping,
    volunteer,
    second_volunteer,
    sent,
    django_capture_on_commit_callbacks,
):
    first = post_request(citizen, community, shopping)
    second = post_request(other_citizen, community, shopping)
    locked = list(HelpRequest.objects.select_for_update().filter(pk__in=[first.pk, second.pk]).order_by("pk"))

    with django_capture_on_commit_callbacks(execute=True):
        services.assignments_propose_batch(
            proposals=[(locked[0], volunteer.pk, 0.7), (locked[1], second_volunteer.pk, 1.5)]
        )

    assert sent == [
        (groups_of(community, citizen, volunteer), task_event(first, "proposed", "proposed")),
        (groups_of(community, other_citizen, second_volunteer), task_event(second, "proposed", "proposed")),
    ]


def test_accepting_tells_requester_volunteer_and_coordinators(
    proposal, citizen, volunteer, community, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.assignment_accept(assignment=proposal, volunteer=volunteer)

    assert sent == [
        (groups_of(community, citizen, volunteer), task_event(proposal.help_request, "accepted", "accepted"))
    ]


def test_declining_tells_requester_volunteer_and_coordinators(
    proposal, citizen, volunteer, community, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.assignment_decline(assignment=proposal, volunteer=volunteer, reason="busy")

    assert sent == [
        (groups_of(community, citizen, volunteer), task_event(proposal.help_request, "open", "declined"))
    ]


def test_completing_tells_requester_volunteer_and_coordinators(
    proposal, citizen, volunteer, community, sent, django_capture_on_commit_callbacks
):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)

    with django_capture_on_commit_callbacks(execute=True):
        services.assignment_complete(assignment=proposal, volunteer=volunteer)

    assert sent == [
        (groups_of(community, citizen, volunteer), task_event(proposal.help_request, "done", "done"))
    ]


def test_cancelling_an_accepted_task_tells_the_volunteer_too(
    proposal, citizen, volunteer, community, sent, django_capture_on_commit_callbacks
):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)

    with django_capture_on_commit_callbacks(execute=True):
        services.help_request_cancel(help_request=proposal.help_request, actor=citizen)

    assert sent == [
        (
            groups_of(community, citizen, volunteer),
            task_event(proposal.help_request, "cancelled", "cancelled"),
        )
    ]


def test_cancelling_an_open_request_tells_requester_and_coordinators(
    help_request, citizen, community, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.help_request_cancel(help_request=help_request, actor=citizen)

    assert sent == [(groups_of(community, citizen), task_event(help_request, "cancelled", "cancelled"))]


def test_expiring_tells_requester_volunteer_and_coordinators(
    proposal, citizen, volunteer, community, sent, django_capture_on_commit_callbacks
):
    make_overdue(proposal)

    with django_capture_on_commit_callbacks(execute=True):
        services.expire_overdue_proposals()

    assert sent == [
        (groups_of(community, citizen, volunteer), task_event(proposal.help_request, "open", "expired"))
    ]


def test_nothing_is_sent_when_the_callers_transaction_rolls_back(
    proposal, citizen, volunteer, sent, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.assignment_accept(assignment=proposal, volunteer=volunteer)
        raise RuntimeError("the caller fails after the service")

    assert sent == []
    assert callbacks == []
    assert Assignment.objects.get(pk=proposal.pk).status == AssignmentStatus.PROPOSED
    assert HelpRequest.objects.get(pk=proposal.help_request_id).status == RequestStatus.PROPOSED


@pytest.mark.parametrize(
    "failing_action",
    [
        pytest.param(
            lambda proposal, people: services.assignment_accept(
                assignment=proposal, volunteer=people["stranger"]
            ),
            id="accept-by-a-stranger",
        ),
        pytest.param(
            lambda proposal, people: services.assignment_complete(
                assignment=proposal, volunteer=people["volunteer"]
            ),
            id="complete-before-accept",
        ),
        pytest.param(
            lambda proposal, people: services.help_request_cancel(
                help_request=proposal.help_request, actor=people["stranger"]
            ),
            id="cancel-by-a-stranger",
        ),
        pytest.param(
            lambda proposal, people: services.help_request_create(
                community=proposal.help_request.community,
                requester=people["stranger"],
                created_by=people["stranger"],
                category=proposal.help_request.category,
                description="Anything",
                urgency=Urgency.SOON,
                location=NAAMSESTRAAT,
            ),
            id="create-without-time",
        ),
    ],
)
def test_nothing_is_sent_when_a_service_refuses(
    failing_action, proposal, volunteer, second_volunteer, sent, django_capture_on_commit_callbacks
):
    history = list(StatusChange.objects.values_list("pk", flat=True))

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises((PermissionDenied, TaskActionError, ValidationError)),
    ):
        failing_action(proposal, {"volunteer": volunteer, "stranger": second_volunteer})

    assert sent == []
    assert callbacks == []
    assert list(StatusChange.objects.values_list("pk", flat=True)) == history


def test_a_failing_channel_layer_does_not_undo_a_committed_change(
    proposal, volunteer, monkeypatch, django_capture_on_commit_callbacks
):
    class BrokenLayer:
        async def group_send(self, group, event):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(events, "get_channel_layer", BrokenLayer)

    with django_capture_on_commit_callbacks(execute=True):
        services.assignment_accept(assignment=proposal, volunteer=volunteer)

    assert Assignment.objects.get(pk=proposal.pk).status == AssignmentStatus.ACCEPTED


def test_a_herent_request_only_reaches_herent_coordinators(
    other_community, sent, django_capture_on_commit_callbacks
):
    gardening = Category.objects.create(community=other_community, slug="gardening", name="Gardening")
    herent_citizen = make_user("herent-citizen", other_community)

    with django_capture_on_commit_callbacks(execute=True):
        create_request(other_community, herent_citizen, gardening, location=HERENT)

    assert sent[0][0] == groups_of(other_community, herent_citizen)


# Holds: a coordinator keeps matching away from a request while they work on it.


def hold_audit(help_request: HelpRequest) -> list[str]:
    return list(
        AuditEntry.objects.filter(subject=f"help_request:{help_request.pk}")
        .order_by("pk")
        .values_list("action", flat=True)
    )


def test_matching_skips_a_held_request_and_takes_it_again_once_the_hold_is_released(
    help_request, volunteer, coordinator, community
):
    services.help_request_hold(help_request=help_request, coordinator=coordinator)
    assert propose_assignments(community=community).proposed == 0
    help_request.refresh_from_db()
    assert help_request.status == RequestStatus.OPEN and help_request.is_held

    MatchingQueue.objects.update(due_at=None)
    services.help_request_release_hold(help_request=help_request, coordinator=coordinator)
    assert MatchingQueue.objects.get(community=community).due_at is not None  # matching is due again
    run_due_matching()
    help_request.refresh_from_db()
    assert help_request.status == RequestStatus.PROPOSED and not help_request.is_held
    assert hold_audit(help_request) == ["hold", "release_hold"]


def test_matching_takes_a_held_request_again_once_the_hold_has_expired(
    help_request, volunteer, coordinator, community
):
    services.help_request_hold(help_request=help_request, coordinator=coordinator, minutes=1)
    assert propose_assignments(community=community).proposed == 0
    # A minute later (no job ran): the hold simply no longer counts.
    HelpRequest.objects.filter(pk=help_request.pk).update(held_until=timezone.now() - dt.timedelta(seconds=1))
    assert propose_assignments(community=community).proposed == 1
    assert Assignment.objects.get(help_request=help_request).volunteer == volunteer


def test_a_hold_lasts_the_configured_minutes_and_the_audit_says_who_and_until_when(
    settings, help_request, coordinator
):
    settings.COORDINATOR_HOLD_MINUTES = 5
    before = timezone.now()
    services.help_request_hold(help_request=help_request, coordinator=coordinator)
    help_request.refresh_from_db()
    assert help_request.held_by == coordinator
    assert (
        before + dt.timedelta(minutes=5)
        <= help_request.held_until
        <= timezone.now() + dt.timedelta(minutes=5)
    )
    entry = AuditEntry.objects.get(action="hold")
    assert entry.actor == coordinator and entry.community_id == help_request.community_id
    assert entry.after == {"held_until": help_request.held_until.isoformat(), "minutes": 5}


def test_a_hold_by_a_coordinator_of_another_community_is_refused(
    help_request, coordinator, outsider_coordinator
):
    with pytest.raises(PermissionDenied):
        services.help_request_hold(help_request=help_request, coordinator=outsider_coordinator)
    services.help_request_hold(help_request=help_request, coordinator=coordinator)
    with pytest.raises(PermissionDenied):
        services.help_request_release_hold(help_request=help_request, coordinator=outsider_coordinator)
    help_request.refresh_from_db()
    assert help_request.held_by == coordinator and help_request.is_held
    assert hold_audit(help_request) == ["hold"]


def test_a_hold_by_another_coordinator_is_theirs_until_it_lapses_but_anyone_may_release_it(
    help_request, coordinator, community
):
    colleague = make_user("colleague", community, is_coordinator=True)
    services.help_request_hold(help_request=help_request, coordinator=coordinator)
    with pytest.raises(TaskActionError, match="Coordinator holds this request until"):
        services.help_request_hold(help_request=help_request, coordinator=colleague)
    services.help_request_hold(help_request=help_request, coordinator=coordinator)  # renewing one's own
    services.help_request_release_hold(help_request=help_request, coordinator=colleague)
    services.help_request_hold(help_request=help_request, coordinator=colleague)
    help_request.refresh_from_db()
    assert help_request.held_by == colleague


def test_releasing_a_request_that_is_not_held_is_refused_and_records_nothing(help_request, coordinator):
    with pytest.raises(TaskActionError):
        services.help_request_release_hold(help_request=help_request, coordinator=coordinator)
    assert hold_audit(help_request) == []


def test_a_finished_request_cannot_be_held(help_request, citizen, coordinator):
    services.help_request_cancel(help_request=help_request, actor=citizen)
    with pytest.raises(TaskActionError):
        services.help_request_hold(help_request=help_request, coordinator=coordinator)


def test_a_hold_tells_the_coordinators_only(
    help_request, coordinator, community, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.help_request_hold(help_request=help_request, coordinator=coordinator)
    assert sent == [
        ([events.community_group(community.pk)], {"type": events.COMMUNITY_CHANGED, "change": "held"})
    ]


def test_unassigning_holds_the_request_so_matching_right_after_proposes_nothing_and_assign_then_succeeds(
    help_request, volunteer, second_volunteer, coordinator, community
):
    first = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    services.assignment_unassign(assignment=first, coordinator=coordinator, reason="she is ill")
    help_request.refresh_from_db()
    assert help_request.status == RequestStatus.OPEN
    assert help_request.is_held and help_request.held_by == coordinator
    # The run the unassignment made due comes at once (no debounce here): it must not take it.
    run_due_matching()
    assert not Assignment.objects.filter(help_request=help_request, status="proposed").exists()

    chosen = services.assignment_assign_by_coordinator(
        help_request=help_request, volunteer=second_volunteer, coordinator=coordinator, reason="lives nearby"
    )
    help_request.refresh_from_db()
    assert chosen.volunteer == second_volunteer and help_request.status == RequestStatus.PROPOSED
    assert help_request.held_until is None and help_request.held_by is None  # giving releases the hold
    assert hold_audit(help_request) == ["unassign", "hold", "assign"]


# "Give to X instead": the live task moves in one step, matching cannot slip in between.


def test_reassigning_moves_a_proposed_task_to_the_chosen_volunteer_in_one_step(
    proposal,
    volunteer,
    second_volunteer,
    coordinator,
    citizen,
    community,
    sent,
    django_capture_on_commit_callbacks,
):
    help_request = proposal.help_request
    with django_capture_on_commit_callbacks(execute=True):
        given = services.assignment_reassign_by_coordinator(
            assignment=proposal, volunteer=second_volunteer, coordinator=coordinator, reason="knows her"
        )
    proposal.refresh_from_db()
    help_request.refresh_from_db()
    assert proposal.status == AssignmentStatus.CANCELLED
    assert given.volunteer == second_volunteer and given.status == AssignmentStatus.PROPOSED
    assert help_request.status == RequestStatus.PROPOSED
    assert records(help_request)[-4:] == [
        ("assignment", coordinator, "proposed", "cancelled", "coordinator: knows her"),
        ("request", coordinator, "proposed", "open", ""),
        ("assignment", coordinator, "", "proposed", "coordinator: knows her"),
        ("request", coordinator, "open", "proposed", ""),
    ]
    entry = AuditEntry.objects.get(action="reassign")
    assert entry.actor == coordinator
    assert entry.before == {"status": "proposed", "volunteer": volunteer.pk}
    assert entry.after == {"volunteer": second_volunteer.pk, "agreed_by_phone": False, "reason": "knows her"}
    assert not AuditEntry.objects.filter(action="assign").exists()  # one entry for one action
    # The old volunteer, the new one, the citizen and the dashboard hear of it.
    assert (groups_of(community, citizen, volunteer), task_event(help_request, "open", "unassigned")) in sent
    assert (
        groups_of(community, citizen, second_volunteer),
        task_event(help_request, "proposed", "proposed"),
    ) in sent


def test_reassigning_an_accepted_task_agreed_on_the_phone_is_accepted_at_once(
    proposal, volunteer, second_volunteer, coordinator
):
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    given = services.assignment_reassign_by_coordinator(
        assignment=proposal,
        volunteer=second_volunteer,
        coordinator=coordinator,
        reason="phoned",
        agreed_by_phone=True,
    )
    proposal.refresh_from_db()
    given.refresh_from_db()
    assert proposal.status == AssignmentStatus.CANCELLED and given.status == AssignmentStatus.ACCEPTED
    assert HelpRequest.objects.get(pk=proposal.help_request_id).status == RequestStatus.ACCEPTED
    assert records(proposal.help_request, assignment=proposal, subject="assignment")[-1][2:4] == (
        "accepted",
        "cancelled",
    )


def test_a_reassignment_that_fails_leaves_the_old_volunteer_their_task(
    proposal, volunteer, second_volunteer, coordinator, citizen, community, shopping
):
    busy = services.assignment_propose(
        help_request=post_request(citizen, community, shopping), volunteer=second_volunteer, km=1.0
    )
    history = records(proposal.help_request)
    with pytest.raises(TaskActionError, match="maximum"):
        services.assignment_reassign_by_coordinator(
            assignment=proposal, volunteer=second_volunteer, coordinator=coordinator, reason="closer"
        )
    proposal.refresh_from_db()
    assert proposal.status == AssignmentStatus.PROPOSED and busy.status == AssignmentStatus.PROPOSED
    assert records(proposal.help_request) == history
    assert not AuditEntry.objects.filter(action="reassign").exists()


def test_reassigning_to_the_same_volunteer_or_by_another_communitys_coordinator_is_refused(
    proposal, volunteer, second_volunteer, coordinator, outsider_coordinator
):
    with pytest.raises(ValidationError):
        services.assignment_reassign_by_coordinator(
            assignment=proposal, volunteer=volunteer, coordinator=coordinator, reason="again"
        )
    with pytest.raises(PermissionDenied):
        services.assignment_reassign_by_coordinator(
            assignment=proposal, volunteer=second_volunteer, coordinator=outsider_coordinator, reason="x"
        )
    proposal.refresh_from_db()
    assert proposal.status == AssignmentStatus.PROPOSED


def test_a_task_no_longer_live_cannot_be_reassigned(proposal, volunteer, second_volunteer, coordinator):
    services.assignment_decline(assignment=proposal, volunteer=volunteer)
    with pytest.raises(TaskActionError):
        services.assignment_reassign_by_coordinator(
            assignment=proposal, volunteer=second_volunteer, coordinator=coordinator, reason="x"
        )
