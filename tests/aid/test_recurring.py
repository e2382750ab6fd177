"""Recurring help: the rule, the occurrences the worker files ahead of time, the volunteer
who comes every week, giving back, cancelling and pausing, and who may do what."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, connections, transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone, translation

from mutualaid.aid import services
from mutualaid.aid.forms import RepeatingHelpRequestForm
from mutualaid.aid.models import (
    Assignment,
    AuditEntry,
    HelpRequest,
    HelpSeries,
    PartOfDay,
    StatusChange,
)
from mutualaid.aid.recurrence import build_rule, describe, occurrence_dates, weeks_between
from mutualaid.aid.services.series import (
    assignment_accept_every_week,
    file_due_occurrences,
    help_series_cancel,
    help_series_create,
    help_series_give_back_all,
    help_series_pause,
)
from mutualaid.aid.states import AssignmentStatus, RequestStatus
from tests.conftest import NAAMSESTRAAT, PASSWORD, sign_in

TUESDAY = dt.date(2026, 12, 8)


def today() -> dt.date:
    return timezone.localdate()


def weekly(citizen, community, category, *, starts=None, every_weeks=1, until=None, created_by=None, **extra):
    return help_series_create(
        community=community,
        requester=citizen,
        created_by=created_by or citizen,
        category=category,
        description="Weekly shopping, please.",
        location=NAAMSESTRAAT,
        every_weeks=every_weeks,
        starts=starts or today() + dt.timedelta(days=1),
        part_of_day=PartOfDay.MORNING,
        until=until,
        **extra,
    )


# The rule.


def test_a_weekly_rule_is_an_rfc_5545_weekly_rrule():
    assert build_rule(1, TUESDAY) == "FREQ=WEEKLY"
    assert occurrence_dates("FREQ=WEEKLY", TUESDAY, TUESDAY, TUESDAY + dt.timedelta(days=21)) == [
        TUESDAY + dt.timedelta(days=7 * week) for week in range(4)
    ]


def test_every_two_weeks_skips_a_week_and_the_rule_stops_at_its_last_day():
    rule = build_rule(2, TUESDAY, dt.date(2027, 1, 19))
    assert rule == "FREQ=WEEKLY;INTERVAL=2;UNTIL=20270119T000000"
    assert weeks_between(rule) == 2
    assert occurrence_dates(rule, TUESDAY, dt.date(2026, 12, 1), dt.date(2027, 3, 1)) == [
        dt.date(2026, 12, 8),
        dt.date(2026, 12, 22),
        dt.date(2027, 1, 5),
        dt.date(2027, 1, 19),
    ]


def test_a_rule_cannot_end_before_it_starts_nor_repeat_every_three_weeks():
    with pytest.raises(ValueError):
        build_rule(1, TUESDAY, TUESDAY - dt.timedelta(days=1))
    with pytest.raises(ValueError):
        build_rule(3, TUESDAY)


def test_the_rule_in_words_uses_the_languages_and_date_formats():
    assert describe(1, TUESDAY, PartOfDay.MORNING, None) == "Every Tuesday morning"
    assert describe(2, TUESDAY, PartOfDay.EVENING, dt.date(2027, 1, 31)) == (
        "Every other Tuesday evening, until 31 Jan 2027"
    )
    with translation.override("nl"):
        assert describe(1, TUESDAY, PartOfDay.MORNING, dt.date(2027, 1, 31)) == (
            "Elke dinsdagvoormiddag, tot 31 jan 2027"
        )
    with translation.override("fr"):
        assert describe(1, TUESDAY, PartOfDay.AFTERNOON, None) == "Chaque mardi après-midi"


# Filing occurrences.


@pytest.mark.django_db
def test_a_new_series_files_the_occurrence_due_this_week_at_once(citizen, community, shopping):
    series = weekly(citizen, community, shopping)
    (occurrence,) = series.occurrences.all()
    assert occurrence.series_date == today() + dt.timedelta(days=1)
    assert occurrence.status == RequestStatus.OPEN
    assert list(occurrence.time_windows.values_list("date", "part_of_day")) == [
        (occurrence.series_date, PartOfDay.MORNING)
    ]
    assert occurrence.requester == citizen and occurrence.description == "Weekly shopping, please."
    assert AuditEntry.objects.filter(action="series_create", subject=f"help_series:{series.pk}").exists()


@pytest.mark.django_db
def test_the_job_files_each_day_ahead_of_time_and_only_once(citizen, community, shopping):
    series = weekly(citizen, community, shopping)
    assert file_due_occurrences() == 0  # nothing new: run again, file nothing
    assert file_due_occurrences(today() + dt.timedelta(days=7)) == 1
    assert file_due_occurrences(today() + dt.timedelta(days=7)) == 0
    assert sorted(series.occurrences.values_list("series_date", flat=True)) == [
        today() + dt.timedelta(days=1),
        today() + dt.timedelta(days=8),
    ]


@pytest.mark.django_db
@override_settings(RECURRING_HELP_DAYS_AHEAD=21)
def test_days_ahead_is_a_setting(citizen, community, shopping):
    series = weekly(citizen, community, shopping)
    assert series.occurrences.count() == 3


@pytest.mark.django_db
def test_no_occurrence_after_the_last_day(citizen, community, shopping):
    first = today() + dt.timedelta(days=1)
    series = weekly(citizen, community, shopping, starts=first, until=first + dt.timedelta(days=6))
    assert file_due_occurrences(first + dt.timedelta(days=7)) == 0
    assert series.occurrences.count() == 1


@pytest.mark.django_db
def test_two_weekly_occurrences_share_no_day(citizen, community, shopping):
    series = weekly(citizen, community, shopping)
    occurrence = series.occurrences.get()
    second = services.help_request_create(
        community=community,
        requester=citizen,
        created_by=citizen,
        category=shopping,
        description="x",
        urgency=1,
        location=NAAMSESTRAAT,
        time_windows=[(occurrence.series_date, 0)],
    )
    second.series, second.series_date = series, occurrence.series_date
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save(update_fields=["series", "series_date"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_two_workers_at_once_file_one_occurrence_per_day(citizen, community, shopping):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks: set DATABASE_URL")
    series = weekly(citizen, community, shopping, starts=today() + dt.timedelta(days=8))
    assert not series.occurrences.exists()  # filed a week ahead: not yet
    barrier, results, errors = threading.Barrier(2), [], []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(file_due_occurrences(today() + dt.timedelta(days=7)))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(results) == [0, 1]
    assert series.occurrences.count() == 1


@pytest.mark.django_db
def test_a_pause_files_nothing_in_its_span_and_cancels_what_was_filed(citizen, community, shopping):
    series = weekly(citizen, community, shopping)
    filed = series.occurrences.get()
    help_series_pause(series=series, actor=citizen, until=today() + dt.timedelta(days=10))
    filed.refresh_from_db()
    assert filed.status == RequestStatus.CANCELLED
    assert filed.status_changes.filter(to_status=RequestStatus.CANCELLED, reason="series paused").exists()
    assert file_due_occurrences(today() + dt.timedelta(days=7)) == 0  # day 8 is in the pause
    assert file_due_occurrences(today() + dt.timedelta(days=14)) == 1  # day 15 is not
    assert AuditEntry.objects.filter(action="series_pause").exists()
    help_series_pause(series=series, actor=citizen, until=None)
    assert AuditEntry.objects.filter(action="series_resume").exists()


@pytest.mark.django_db
def test_a_pause_ending_in_the_past_is_refused_at_the_field(citizen, community, shopping):
    series = weekly(citizen, community, shopping)
    with pytest.raises(ValidationError) as raised:
        help_series_pause(series=series, actor=citizen, until=today() - dt.timedelta(days=1))
    assert "paused_until" in raised.value.message_dict


# The volunteer who comes every week.


@pytest.fixture
def series(citizen, community, shopping):
    return weekly(citizen, community, shopping)


@pytest.fixture
def first_proposal(series, volunteer):
    occurrence = series.occurrences.get()
    return services.assignment_propose(help_request=occurrence, volunteer=volunteer, km=0.7)


@pytest.mark.django_db
def test_accept_every_week_accepts_this_one_and_files_the_next_ones_already_accepted(
    series, first_proposal, volunteer
):
    offer = volunteer.volunteer_offer
    offer.capacity = 2
    offer.save()
    assignment_accept_every_week(assignment=first_proposal, volunteer=volunteer)
    first_proposal.refresh_from_db()
    series.refresh_from_db()
    assert first_proposal.status == AssignmentStatus.ACCEPTED
    assert list(series.standing_volunteers.all()) == [volunteer]
    assert file_due_occurrences(today() + dt.timedelta(days=7)) == 1
    following = series.occurrences.get(series_date=today() + dt.timedelta(days=8))
    assert following.status == RequestStatus.ACCEPTED
    assignment = following.assignments.get()
    assert (assignment.volunteer, assignment.status) == (volunteer, AssignmentStatus.ACCEPTED)
    # The history says it came from the weekly commitment, not from matching.
    assert list(following.status_changes.values_list("subject", "to_status", "reason")) == [
        ("request", "open", "created"),
        ("assignment", "proposed", "standing"),
        ("request", "proposed", ""),
        ("assignment", "accepted", "standing"),
        ("request", "accepted", "standing"),
    ]
    assert AuditEntry.objects.filter(action="series_standing_commit").exists()


@pytest.mark.django_db
def test_a_standing_volunteer_at_their_capacity_leaves_the_day_to_matching(series, first_proposal, volunteer):
    assignment_accept_every_week(assignment=first_proposal, volunteer=volunteer)  # capacity 1, carried
    assert file_due_occurrences(today() + dt.timedelta(days=7)) == 1
    following = series.occurrences.get(series_date=today() + dt.timedelta(days=8))
    assert following.status == RequestStatus.OPEN
    assert AuditEntry.objects.filter(action="series_standing_skipped", after__why="at capacity").exists()


@pytest.fixture
def standing(series, first_proposal, volunteer):
    offer = volunteer.volunteer_offer
    offer.capacity = 3
    offer.save()
    assignment_accept_every_week(assignment=first_proposal, volunteer=volunteer)
    file_due_occurrences(today() + dt.timedelta(days=7))
    return series.occurrences.get(series_date=today() + dt.timedelta(days=8)).assignments.get()


@pytest.mark.django_db
def test_giving_back_one_day_sends_it_to_matching_and_keeps_the_commitment(series, standing, volunteer):
    services.assignment_give_back(assignment=standing, volunteer=volunteer)
    standing.refresh_from_db()
    series.refresh_from_db()
    assert standing.status == AssignmentStatus.CANCELLED
    assert standing.help_request.status == RequestStatus.OPEN
    assert list(series.standing_volunteers.all()) == [volunteer]


@pytest.mark.django_db
def test_giving_back_all_sends_every_coming_day_to_matching(series, standing, first_proposal, volunteer):
    help_series_give_back_all(series=series, volunteer=volunteer)
    series.refresh_from_db()
    assert not series.standing_volunteers.exists()
    for occurrence in series.occurrences.all():
        assert occurrence.status == RequestStatus.OPEN
    assert AuditEntry.objects.filter(action="series_standing_give_back").exists()
    # The next day filed is matched as usual.
    assert file_due_occurrences(today() + dt.timedelta(days=14)) == 1
    assert series.occurrences.get(series_date=today() + dt.timedelta(days=15)).status == RequestStatus.OPEN


@pytest.mark.django_db
def test_only_the_standing_volunteer_gives_the_commitment_back(series, standing, second_volunteer):
    with pytest.raises(services.TaskActionError):
        help_series_give_back_all(series=series, volunteer=second_volunteer)


@pytest.mark.django_db
def test_a_second_volunteer_cannot_take_a_series_someone_comes_to_every_week(
    series, standing, second_volunteer, volunteer
):
    services.assignment_give_back(assignment=standing, volunteer=volunteer)
    proposal = services.assignment_propose(
        help_request=standing.help_request, volunteer=second_volunteer, km=1.0
    )
    with pytest.raises(services.TaskActionError):
        assignment_accept_every_week(assignment=proposal, volunteer=second_volunteer)
    proposal.refresh_from_db()
    assert proposal.status == AssignmentStatus.PROPOSED  # nothing accepted on the way


# Cancelling.


@pytest.mark.django_db
def test_cancelling_one_day_leaves_the_series_going(series, citizen):
    occurrence = series.occurrences.get()
    services.help_request_cancel(help_request=occurrence, actor=citizen)
    series.refresh_from_db()
    assert series.active
    assert file_due_occurrences(today() + dt.timedelta(days=7)) == 1


@pytest.mark.django_db
def test_cancelling_the_series_cancels_its_coming_days_recorded(series, standing, citizen, volunteer):
    help_series_cancel(series=series, actor=citizen, reason="moving away")
    series.refresh_from_db()
    assert not series.active
    for occurrence in series.occurrences.all():
        assert occurrence.status == RequestStatus.CANCELLED
        assert occurrence.status_changes.filter(reason="series cancelled").exists()
    standing.refresh_from_db()
    assert standing.status == AssignmentStatus.CANCELLED
    assert file_due_occurrences(today() + dt.timedelta(days=14)) == 0
    assert AuditEntry.objects.filter(action="series_cancel", after__reason="moving away").exists()
    with pytest.raises(services.TaskActionError):
        help_series_cancel(series=series, actor=citizen)


@pytest.mark.django_db
def test_a_coordinator_of_the_community_cancels_a_series(series, coordinator):
    help_series_cancel(series=series, actor=coordinator)
    assert not HelpSeries.objects.get(pk=series.pk).active


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["other_citizen", "volunteer", "outsider_coordinator"])
def test_only_the_citizen_and_their_coordinators_manage_a_series(series, who, request):
    person = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        help_series_cancel(series=series, actor=person)
    with pytest.raises(PermissionDenied):
        help_series_pause(series=series, actor=person, until=None)
    assert HelpSeries.objects.get(pk=series.pk).active


@pytest.mark.django_db
def test_a_coordinator_files_weekly_help_for_a_caller(community, shopping, coordinator):
    series = help_series_create(
        community=community,
        requester=None,
        created_by=coordinator,
        category=shopping,
        description="Weekly shopping.",
        location=NAAMSESTRAAT,
        every_weeks=2,
        starts=today() + dt.timedelta(days=2),
        part_of_day=PartOfDay.AFTERNOON,
        contact_name="Mrs Callsen",
        contact_phone="0470 12 34 56",
    )
    occurrence = series.occurrences.get()
    assert (occurrence.requester, occurrence.contact_name, occurrence.contact_phone) == (
        None,
        "Mrs Callsen",
        "+32470123456",
    )


@pytest.mark.django_db
def test_a_citizen_cannot_file_weekly_help_for_someone_else(community, shopping, citizen):
    with pytest.raises(PermissionDenied):
        help_series_create(
            community=community,
            requester=None,
            created_by=citizen,
            category=shopping,
            description="x",
            location=NAAMSESTRAAT,
            every_weeks=1,
            starts=today() + dt.timedelta(days=2),
            part_of_day=PartOfDay.MORNING,
            contact_name="A",
            contact_phone="0470 12 34 56",
        )


# The form.


def form_data(shopping, **repeat) -> dict:
    return {
        "category": shopping.pk,
        "description": "Weekly shopping",
        "urgency": 1,
        "address": "Naamsestraat 12, 3000 Leuven",
        **repeat,
    }


@pytest.mark.django_db
def test_the_form_needs_no_day_rows_when_the_help_repeats(community, shopping):
    form = RepeatingHelpRequestForm(
        form_data(shopping, repeat="1", repeat_starts=today() + dt.timedelta(days=3), repeat_part="0"),
        community=community,
    )
    assert form.is_valid(), form.errors


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("repeat", "field"),
    [
        ({"repeat_starts": "-1", "repeat_part": "0"}, "repeat_starts"),
        ({"repeat_starts": "3", "repeat_part": "0", "repeat_until": "2"}, "repeat_until"),
        ({"repeat_starts": "3"}, "repeat_part"),
        ({"repeat_part": "0"}, "repeat_starts"),
    ],
    ids=["first-day-passed", "last-before-first", "no-part-of-day", "no-first-day"],
)
def test_the_form_refuses_bad_repeats_at_the_field(community, shopping, repeat, field):
    days = {
        key: today() + dt.timedelta(days=int(value)) for key, value in repeat.items() if "part" not in key
    }
    form = RepeatingHelpRequestForm(
        form_data(shopping, repeat="1", **{**repeat, **days}), community=community
    )
    assert not form.is_valid()
    assert list(form.errors) == [field]


@pytest.mark.django_db
def test_the_service_refuses_a_last_day_before_the_first_at_the_field(citizen, community, shopping):
    with pytest.raises(ValidationError) as raised:
        weekly(citizen, community, shopping, until=today())
    assert "repeat_until" in raised.value.message_dict
    assert not HelpSeries.objects.exists()


# Pages (without JavaScript: plain forms, POST-redirect-GET).


@pytest.mark.django_db
def test_a_citizen_posts_weekly_help_and_sees_it_with_its_next_days(client, citizen, community, shopping):
    client.login(username=citizen.username, password=PASSWORD)
    starts = today() + dt.timedelta(days=1)
    response = client.post(
        reverse("request-create"),
        form_data(shopping, repeat="1", repeat_starts=starts, repeat_part="0"),
        follow=True,
    )
    occurrence = HelpRequest.objects.get()
    assert response.redirect_chain[-1][0] == reverse("request-detail", args=[occurrence.pk])
    page = response.content.decode()
    assert "Every " in page and "Repeated help" in page
    assert "Cancel every coming day" in page
    listing = client.get(reverse("my-requests")).content.decode()
    assert str(occurrence.series.label) in listing


@pytest.mark.django_db
def test_the_volunteer_accepts_every_week_from_the_task_page(client, series, first_proposal, volunteer):
    client.login(username=volunteer.username, password=PASSWORD)
    page = client.get(reverse("task-detail", args=[first_proposal.pk])).content.decode()
    assert "Accept every week" in page
    client.post(reverse("task-accept-every-week", args=[first_proposal.pk]))
    page = client.get(reverse("task-detail", args=[first_proposal.pk])).content.decode()
    assert "Give back this one" in page and "Give back all" in page
    response = client.post(reverse("task-give-back-all", args=[first_proposal.pk]))
    assert response.status_code == 302
    assert not HelpSeries.objects.get(pk=series.pk).standing_volunteers.exists()


@pytest.mark.django_db
def test_the_citizen_pauses_and_cancels_from_the_request_page(client, series, citizen):
    occurrence = series.occurrences.get()
    client.login(username=citizen.username, password=PASSWORD)
    client.post(
        reverse("series-pause", args=[occurrence.pk]), {"paused_until": today() + dt.timedelta(days=3)}
    )
    assert HelpSeries.objects.get(pk=series.pk).paused_until == today() + dt.timedelta(days=3)
    confirm = client.get(reverse("series-cancel", args=[occurrence.pk]))
    assert "Yes, cancel every coming day" in confirm.content.decode()
    client.post(reverse("series-cancel", args=[occurrence.pk]), {"reason": ""})
    assert not HelpSeries.objects.get(pk=series.pk).active


@pytest.mark.django_db
def test_series_pages_of_a_one_off_request_are_not_found(client, help_request, citizen):
    client.login(username=citizen.username, password=PASSWORD)
    assert client.get(reverse("series-cancel", args=[help_request.pk])).status_code == 404
    assert client.post(reverse("series-pause", args=[help_request.pk])).status_code == 404


@pytest.mark.django_db
def test_a_phone_intake_files_weekly_help(client, coordinator, community, shopping):
    sign_in(client, coordinator)
    response = client.post(
        reverse("coordinator-intake"),
        {
            **form_data(shopping, repeat="2", repeat_starts=today() + dt.timedelta(days=2), repeat_part="1"),
            "contact_name": "Mrs Callsen",
            "contact_phone": "0470 12 34 56",
        },
    )
    assert response.status_code == 302
    series = HelpSeries.objects.get()
    assert (series.requester, series.every_weeks, series.created_by) == (None, 2, coordinator)
    assert Assignment.objects.count() == 0 and StatusChange.objects.filter(reason="created").count() == 1


@pytest.mark.django_db
def test_a_referral_form_offers_no_repeat(community):
    from mutualaid.partners.forms import ReferralForm

    assert "repeat" not in ReferralForm.base_fields


@pytest.mark.django_db
def test_deleting_an_account_stops_their_series_and_ends_their_weekly_commitment(
    series, standing, citizen, volunteer
):
    from mutualaid.aid.personal_data import account_delete

    account_delete(person=volunteer)
    series.refresh_from_db()
    assert not series.standing_volunteers.exists() and series.active
    account_delete(person=citizen)
    series.refresh_from_db()
    assert not series.active and series.address == "" and series.description == "(removed)"
    assert file_due_occurrences(today() + dt.timedelta(days=14)) == 0
