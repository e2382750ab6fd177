"""The Django side of matching: what it considers, what it saves, when it runs."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

import matching.services
from matching.models import MatchingQueue, MatchingRun
from matching.reasons import TIME_PASSED, reason_label
from matching.services import propose_assignments, run_due_matching
from mutualaid.aid import services
from mutualaid.aid.models import Assignment, HelpRequest, TimeWindow, VolunteerOffer
from tests.conftest import (
    KESSEL_LO,
    LADEUZEPLEIN,
    NAAMSESTRAAT,
    make_user,
    make_volunteer,
    offer_of,
    post_request,
    sign_in,
)


def proposals_of(user) -> list[Assignment]:
    return list(Assignment.objects.filter(volunteer=user, status="proposed"))


def is_due(community) -> bool:
    return MatchingQueue.objects.filter(community=community, due_at__isnull=False).exists()


def test_open_request_is_proposed_to_the_nearest_volunteer_with_the_skill(
    help_request, volunteer, second_volunteer
):
    outcome = propose_assignments(community=help_request.community)
    assert outcome.proposed == 1
    (assignment,) = proposals_of(volunteer)  # Ladeuzeplein is closer than Kessel-Lo
    assert assignment.help_request == help_request
    assert 0.4 < assignment.km < 1.0
    help_request.refresh_from_db()
    assert help_request.status == "proposed"
    assert help_request.status_changes.filter(to_status="proposed", actor=None).exists()
    assert outcome.certificate  # how optimality was proven is kept with the run
    assert MatchingRun.objects.get().proposed == 1


def test_proposals_already_made_and_accepted_tasks_are_left_alone(
    citizen, community, shopping, volunteer, second_volunteer
):
    first = post_request(citizen, community, shopping)
    propose_assignments(community=community)
    accepted = Assignment.objects.get(help_request=first)
    services.assignment_accept(assignment=accepted, volunteer=accepted.volunteer)
    second = post_request(citizen, community, shopping)
    propose_assignments(community=community)
    propose_assignments(community=community)
    accepted.refresh_from_db()
    assert accepted.status == "accepted"
    assert Assignment.objects.filter(help_request=first).count() == 1
    assert Assignment.objects.filter(help_request=second).count() == 1


def test_volunteer_who_declined_is_not_proposed_the_same_request_again(
    help_request, volunteer, second_volunteer
):
    propose_assignments(community=help_request.community)
    (assignment,) = proposals_of(volunteer)
    services.assignment_decline(assignment=assignment, volunteer=volunteer, reason="away")
    propose_assignments(community=help_request.community)
    assert proposals_of(volunteer) == []
    assert [a.help_request for a in proposals_of(second_volunteer)] == [help_request]


def test_volunteer_whose_proposal_expired_is_not_proposed_it_again(help_request, volunteer, second_volunteer):
    propose_assignments(community=help_request.community)
    Assignment.objects.filter(volunteer=volunteer).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    services.expire_overdue_proposals()  # the worker's expiry job; it marks the community due
    run_due_matching()
    assert Assignment.objects.get(volunteer=volunteer).status == "expired"
    assert [a.help_request for a in proposals_of(second_volunteer)] == [help_request]


def test_paused_volunteer_gets_no_proposals(help_request, volunteer):
    services.volunteer_offer_set_paused(offer=offer_of(volunteer), paused=True)
    outcome = propose_assignments(community=help_request.community)
    assert outcome.proposed == 0
    assert outcome.available_volunteers == 0


def test_volunteer_capacity_counts_the_tasks_they_already_carry(citizen, community, shopping, volunteer):
    post_request(citizen, community, shopping)
    propose_assignments(community=community)
    post_request(citizen, community, shopping)
    outcome = propose_assignments(community=community)
    assert outcome.proposed == 0
    assert outcome.unassigned_by_reason == {"capacity": 1}


def test_nobody_is_proposed_their_own_request(community, shopping):
    both = make_volunteer("helper-in-need", community, [shopping], NAAMSESTRAAT)
    post_request(both, community, shopping)
    outcome = propose_assignments(community=community)
    assert outcome.proposed == 0
    assert outcome.unassigned_by_reason == {"excluded": 1}


def test_why_a_request_waits_is_stored_for_coordinators(citizen, community, shopping, pharmacy):
    make_volunteer("far-away", community, [shopping], KESSEL_LO, max_km=0.5)
    no_skill = post_request(citizen, community, pharmacy)
    out_of_range = post_request(citizen, community, shopping)
    propose_assignments(community=community)
    no_skill.refresh_from_db()
    out_of_range.refresh_from_db()
    assert no_skill.unassigned_reason == "no_skill"
    assert out_of_range.unassigned_reason == "out_of_range"


def test_request_whose_times_have_all_passed_waits_with_that_reason(help_request, volunteer):
    TimeWindow.objects.filter(help_request=help_request).update(
        date=timezone.localdate() - dt.timedelta(days=2)
    )
    outcome = propose_assignments(community=help_request.community)
    help_request.refresh_from_db()
    assert outcome.proposed == 0
    assert help_request.unassigned_reason == TIME_PASSED


def test_dry_run_changes_nothing(help_request, volunteer):
    outcome = propose_assignments(community=help_request.community, dry_run=True)
    assert outcome.proposed == 1
    help_request.refresh_from_db()
    assert help_request.status == "open"
    assert not Assignment.objects.exists()
    assert not MatchingRun.objects.exists()


def test_a_run_costs_the_same_queries_for_5_or_20_requests(
    citizen, community, shopping, django_assert_max_num_queries
):
    for index in range(25):
        make_volunteer(f"v{index}", community, [shopping], LADEUZEPLEIN, capacity=2)

    def queries_for(count: int) -> int:
        for _ in range(count):
            post_request(citizen, community, shopping)
        with django_assert_max_num_queries(10_000) as captured:
            outcome = propose_assignments(community=community)
        assert outcome.proposed == count
        return len(captured.captured_queries)

    assert queries_for(5) == queries_for(20)


@pytest.mark.parametrize(
    "trigger",
    ["new request", "new offer", "changed offer", "resumed offer", "declined proposal", "expired proposal"],
)
def test_every_trigger_makes_the_community_due_for_matching(trigger, citizen, community, shopping, volunteer):
    help_request = post_request(citizen, community, shopping)
    propose_assignments(community=community)
    MatchingQueue.objects.update(due_at=None)
    offer = offer_of(volunteer)
    if trigger == "new request":
        post_request(citizen, community, shopping)
    elif trigger == "new offer":
        make_volunteer("newcomer", community, [shopping], KESSEL_LO)
    elif trigger == "changed offer":
        services.volunteer_offer_save(
            volunteer=volunteer, community=community, skills=[shopping], location=LADEUZEPLEIN,
            max_km=9, availability=[1, 2], capacity=2,
        )  # fmt: skip
    elif trigger == "resumed offer":
        services.volunteer_offer_set_paused(offer=offer, paused=True)
        assert not is_due(community)  # pausing alone changes nothing to match
        services.volunteer_offer_set_paused(offer=offer, paused=False)
    elif trigger == "declined proposal":
        assignment = Assignment.objects.get(help_request=help_request)
        services.assignment_decline(assignment=assignment, volunteer=volunteer)
    elif trigger == "expired proposal":
        Assignment.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        services.expire_overdue_proposals()
    assert is_due(community)


def test_several_triggers_make_one_run(citizen, community, shopping, volunteer, settings):
    for _ in range(3):
        post_request(citizen, community, shopping)
    run_due_matching()
    run_due_matching()
    assert MatchingRun.objects.count() == 1


def test_a_run_not_yet_due_waits_for_its_debounce(help_request, volunteer, settings):
    MatchingQueue.objects.update(due_at=timezone.now() + dt.timedelta(seconds=30))
    seconds = run_due_matching()
    assert MatchingRun.objects.count() == 0
    assert 25 < seconds <= 30


def test_a_new_trigger_pulls_a_later_retry_forward(help_request, volunteer):
    MatchingQueue.objects.update(due_at=timezone.now() + dt.timedelta(seconds=60))
    post_request(help_request.requester, help_request.community, help_request.category)
    assert MatchingQueue.objects.get().due_at <= timezone.now()


def test_a_failed_run_is_retried_later_and_saves_nothing(help_request, volunteer, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("solver crashed")

    monkeypatch.setattr(matching.services, "solve", broken)
    run_due_matching()
    help_request.refresh_from_db()
    assert help_request.status == "open"
    assert MatchingQueue.objects.get().due_at > timezone.now() + dt.timedelta(seconds=30)


def test_a_run_meeting_the_database_capacity_guard_rolls_back_and_is_retried(
    help_request, volunteer, monkeypatch
):
    real_solve = matching.services.solve

    def volunteer_lowers_capacity_while_solving(*args, **kwargs):
        result = real_solve(*args, **kwargs)
        VolunteerOffer.objects.filter(volunteer=volunteer).update(capacity=0)
        return result

    monkeypatch.setattr(matching.services, "solve", volunteer_lowers_capacity_while_solving)
    run_due_matching()

    help_request.refresh_from_db()
    assert help_request.status == "open"
    assert not Assignment.objects.exists()
    assert not MatchingRun.objects.exists()
    assert MatchingQueue.objects.get().due_at > timezone.now() + dt.timedelta(seconds=30)


def test_match_command_shows_progress_and_a_summary(help_request, volunteer, capsys):
    call_command("match", "--community", "leuven", "--dry-run")
    output = capsys.readouterr().out
    assert "100%" in output
    assert "would propose 1" in output
    help_request.refresh_from_db()
    assert help_request.status == "open"


def test_match_command_names_the_known_communities_for_an_unknown_one(community):
    with pytest.raises(CommandError, match="Known: leuven"):
        call_command("match", "--community", "nowhere")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_for_one_community_never_overlap_across_connections(community, shopping, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL (CI runs this on PostgreSQL)")
    citizen = make_user("many-needs", community)
    for index in range(4):
        make_volunteer(f"helper{index}", community, [shopping], LADEUZEPLEIN)
        post_request(citizen, community, shopping)
    real_solve = matching.services.solve
    intervals = []

    def slow_solve(*args, **kwargs):
        started = time.monotonic()
        time.sleep(0.5)
        result = real_solve(*args, **kwargs)
        intervals.append((started, time.monotonic()))
        return result

    monkeypatch.setattr(matching.services, "solve", slow_solve)
    barrier = threading.Barrier(3)
    errors = []

    def run() -> None:
        try:
            barrier.wait()
            propose_assignments(community=community)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    intervals.sort()
    assert len(intervals) == 3
    for (_, first_end), (second_start, _) in itertools.pairwise(intervals):
        assert second_start >= first_end  # each run started after the previous one ended
    assert Assignment.objects.count() == 4  # the later runs found nothing left to propose
    with transaction.atomic():
        assert HelpRequest.objects.filter(status="proposed").count() == 4


def test_a_language_the_helper_must_speak_is_a_required_skill(citizen, community, shopping):
    from mutualaid.aid.models import HelpRequest as Request

    french_far = make_volunteer("francophone", community, [shopping], KESSEL_LO)
    offer = offer_of(french_far)
    offer.languages = ["fr", "nl"]
    offer.save()
    make_volunteer("dutch-only-near", community, [shopping], LADEUZEPLEIN)
    help_request = post_request(citizen, community, shopping)
    Request.objects.filter(pk=help_request.pk).update(language_needed="fr")
    propose_assignments(community=community)
    (assignment,) = Assignment.objects.filter(help_request=help_request)
    assert assignment.volunteer == french_far  # farther, but the only one who speaks French


def test_nobody_speaking_the_language_is_a_clear_reason(citizen, community, shopping, volunteer):
    from mutualaid.aid.models import HelpRequest as Request

    help_request = post_request(citizen, community, shopping)
    Request.objects.filter(pk=help_request.pk).update(language_needed="uk")
    outcome = propose_assignments(community=community)
    help_request.refresh_from_db()
    assert help_request.unassigned_reason == "no_language"
    assert outcome.unassigned_by_reason == {"no_language": 1}
    assert reason_label("no_language") == "No volunteer who offers this help speaks the language asked for"


def test_a_missing_kind_of_help_stays_no_skill_even_when_a_language_is_asked(citizen, community, pharmacy):
    from mutualaid.aid.models import HelpRequest as Request

    make_volunteer("shopper", community, [], LADEUZEPLEIN)
    help_request = post_request(citizen, community, pharmacy)
    Request.objects.filter(pk=help_request.pk).update(language_needed="uk")
    propose_assignments(community=community)
    help_request.refresh_from_db()
    assert help_request.unassigned_reason == "no_skill"


def test_run_matching_now_is_recorded_as_the_coordinators_run(client, coordinator, help_request, volunteer):
    run_due_matching()  # the request's own trigger: an automatic run
    services.assignment_decline(assignment=proposals_of(volunteer)[0], volunteer=volunteer)
    sign_in(client, coordinator)

    client.post(reverse("dashboard-match"), {"community": "leuven"})
    run_due_matching()

    first, second = MatchingRun.objects.order_by("started_at", "pk")
    assert (first.trigger, first.started_by) == (MatchingRun.Trigger.AUTOMATIC, None)
    assert (second.trigger, second.started_by) == (MatchingRun.Trigger.COORDINATOR, coordinator)
    assert not MatchingQueue.objects.filter(requested_by__isnull=False).exists()


def test_the_first_trigger_after_a_quiet_spell_is_due_at_once(help_request, volunteer, settings):
    settings.MATCHING_DEBOUNCE_SECONDS = 30
    MatchingQueue.objects.update(due_at=None, last_started_at=timezone.now() - dt.timedelta(minutes=5))

    post_request(help_request.requester, help_request.community, help_request.category)

    assert MatchingQueue.objects.get().due_at <= timezone.now()


def test_triggers_soon_after_a_run_started_collapse_into_one_run_a_debounce_after_its_start(
    help_request, volunteer, settings
):
    settings.MATCHING_DEBOUNCE_SECONDS = 30
    run_due_matching()  # claims the community now: the run's start is remembered
    started = MatchingQueue.objects.get().last_started_at

    for _ in range(3):
        post_request(help_request.requester, help_request.community, help_request.category)

    assert MatchingQueue.objects.get().due_at == started + dt.timedelta(seconds=30)
    seconds = run_due_matching()
    assert MatchingRun.objects.count() == 1 and 25 < seconds <= 30


def test_a_run_says_where_its_time_went(help_request, volunteer):
    outcome = propose_assignments(community=help_request.community)

    assert list(outcome.phases) == ["load", "solve", "save", "commit_and_publish"]
    assert sum(outcome.phases.values()) <= outcome.seconds + 0.01


def test_a_request_whose_only_window_has_passed_today_waits_with_that_reason(
    citizen, community, shopping, volunteer, local_time
):
    local_time(9)
    help_request = services.help_request_create(
        community=community,
        requester=citizen,
        created_by=citizen,
        category=shopping,
        description="Bread",
        urgency=1,
        location=NAAMSESTRAAT,
        time_windows=[(timezone.localdate(), 0)],
    )
    evening = local_time(20, 39)

    snapshot = matching.services.load_snapshot(community, now=evening)

    assert snapshot.time_passed == [help_request] and snapshot.instance["requests"] == []


def test_filing_a_request_for_a_part_of_today_that_has_passed_is_refused(
    citizen, community, shopping, local_time
):
    local_time(18)
    with pytest.raises(ValidationError, match="has passed"):
        services.help_request_create(
            community=community,
            requester=citizen,
            created_by=citizen,
            category=shopping,
            description="Bread",
            urgency=1,
            location=NAAMSESTRAAT,
            time_windows=[(timezone.localdate(), 1)],
        )


@pytest.mark.django_db(transaction=True)
def test_a_run_claimed_while_a_trigger_is_still_uncommitted_waits_for_it_and_sees_its_request(
    citizen, community, shopping, volunteer
):
    from django.db import connections

    run_due_matching()
    # A run is already due and not yet claimed when the trigger is written: the trigger has
    # nothing to move, and the worker's claim comes between its write and its commit.
    MatchingQueue.objects.update(due_at=timezone.now() - dt.timedelta(seconds=1))
    posted, release = threading.Event(), threading.Event()

    def post_and_hold_the_commit() -> None:
        try:
            with transaction.atomic():
                post_request(citizen, community, shopping)  # its trigger is written here
                posted.set()
                release.wait(timeout=10)
        finally:
            connections.close_all()

    def worker_round() -> None:
        try:
            run_due_matching()
        finally:
            connections.close_all()

    poster = threading.Thread(target=post_and_hold_the_commit)
    poster.start()
    assert posted.wait(timeout=10)
    worker = threading.Thread(target=worker_round)
    worker.start()
    time.sleep(0.5)  # the worker's claim is now waiting for the trigger's row (or ran before it)
    release.set()
    poster.join(timeout=20)
    worker.join(timeout=20)
    run_due_matching()  # whatever the order, a run after the commit must have been left due

    (help_request,) = HelpRequest.objects.filter(requester=citizen)
    assert help_request.status == "proposed"
