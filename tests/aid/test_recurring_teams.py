"""Recurring help for several volunteers: each occurrence asks as many, each volunteer who
accepts every week holds one place of the coming days (never more of them than places),
and giving back frees that volunteer's place only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from mutualaid.aid import services
from mutualaid.aid.forms import RepeatingHelpRequestForm, RepeatingPhoneIntakeForm
from mutualaid.aid.models import AssignmentStatus, AuditEntry, HelpRequest, HelpSeries, PartOfDay
from mutualaid.aid.services.series import (
    assignment_accept_every_week,
    file_due_occurrences,
    help_series_create,
    help_series_give_back_all,
)
from mutualaid.aid.states import RequestStatus
from tests.conftest import (
    LADEUZEPLEIN,
    NAAMSESTRAAT,
    PASSWORD,
    make_volunteer,
    offer_of,
    sign_in,
    weekly_help,
)

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    return timezone.localdate()


NEXT_WEEK = dt.timedelta(days=7)


def weekly_for(citizen, community, category, people_needed: int, **extra) -> HelpSeries:
    return weekly_help(citizen, community, category, people_needed=people_needed, **extra)


def with_capacity(volunteer, capacity: int = 4):
    offer = offer_of(volunteer)
    offer.capacity = capacity
    offer.save()
    return volunteer


def standing_ids(series: HelpSeries) -> set[int]:
    return set(HelpSeries.objects.get(pk=series.pk).standing_volunteers.values_list("pk", flat=True))


def holders(occurrence: HelpRequest, status=AssignmentStatus.ACCEPTED) -> set[int]:
    return set(occurrence.assignments.filter(status=status).values_list("volunteer_id", flat=True))


@pytest.fixture
def team_series(citizen, community, shopping) -> HelpSeries:
    return weekly_for(citizen, community, shopping, 2)


@pytest.fixture
def first_day(team_series) -> HelpRequest:
    return team_series.occurrences.get()


@pytest.fixture
def both_standing(team_series, first_day, volunteer, second_volunteer):
    """Both volunteers accepted every week from the first day; the next day is filed."""
    for person in (volunteer, second_volunteer):
        with_capacity(person)
        proposal = services.assignment_propose(help_request=first_day, volunteer=person, km=1.0)
        assignment_accept_every_week(assignment=proposal, volunteer=person)
    file_due_occurrences(today() + NEXT_WEEK)
    return team_series.occurrences.get(series_date=first_day.series_date + NEXT_WEEK)


@pytest.fixture
def third_volunteer(community, shopping):
    return with_capacity(make_volunteer("third", community, [shopping], LADEUZEPLEIN))


# Filing.


def test_each_occurrence_asks_the_series_number_of_volunteers(team_series, first_day):
    assert (team_series.people_needed, first_day.people_needed) == (2, 2)
    assert file_due_occurrences(today() + NEXT_WEEK) == 1
    assert set(team_series.occurrences.values_list("people_needed", flat=True)) == {2}
    assert AuditEntry.objects.filter(action="series_create", after__people_needed=2).exists()


def test_a_series_is_for_one_volunteer_unless_said(citizen, community, shopping):
    series = help_series_create(
        community=community,
        requester=citizen,
        created_by=citizen,
        category=shopping,
        description="x",
        location=NAAMSESTRAAT,
        every_weeks=1,
        starts=today() + dt.timedelta(days=1),
        part_of_day=PartOfDay.MORNING,
    )
    assert series.people_needed == 1 and series.occurrences.get().people_needed == 1


@pytest.mark.parametrize("people_needed", [0, 7])
def test_the_service_refuses_a_number_of_volunteers_out_of_bounds_at_the_field(
    citizen, community, shopping, people_needed
):
    with pytest.raises(ValidationError) as raised:
        weekly_for(citizen, community, shopping, people_needed)
    assert "people_needed" in raised.value.message_dict
    assert not HelpSeries.objects.exists()


# Accept every week, place by place.


def test_each_volunteer_who_accepts_every_week_holds_one_place_of_the_coming_days(
    team_series, first_day, both_standing, volunteer, second_volunteer
):
    assert standing_ids(team_series) == {volunteer.pk, second_volunteer.pk}
    first_day.refresh_from_db()
    assert first_day.status == RequestStatus.ACCEPTED
    assert both_standing.status == RequestStatus.ACCEPTED
    assert holders(both_standing) == {volunteer.pk, second_volunteer.pk}
    reasons = set(both_standing.status_changes.filter(subject="assignment").values_list("reason", flat=True))
    assert reasons == {"standing"}


def test_one_standing_volunteer_holds_one_place_and_matching_looks_for_the_other(
    team_series, first_day, volunteer
):
    with_capacity(volunteer)
    proposal = services.assignment_propose(help_request=first_day, volunteer=volunteer, km=1.0)
    assignment_accept_every_week(assignment=proposal, volunteer=volunteer)
    file_due_occurrences(today() + NEXT_WEEK)
    following = team_series.occurrences.get(series_date=first_day.series_date + NEXT_WEEK)
    assert following.status == RequestStatus.PROPOSED  # partly staffed: one place left
    assert holders(following) == {volunteer.pk}


def test_a_volunteer_committing_later_takes_a_place_of_the_days_already_filed(
    team_series, first_day, volunteer, second_volunteer
):
    with_capacity(volunteer)
    with_capacity(second_volunteer)
    proposal = services.assignment_propose(help_request=first_day, volunteer=volunteer, km=1.0)
    assignment_accept_every_week(assignment=proposal, volunteer=volunteer)
    file_due_occurrences(today() + NEXT_WEEK)
    following = team_series.occurrences.get(series_date=first_day.series_date + NEXT_WEEK)
    # Matching proposes the second day's place left; they accept it every week.
    later = services.assignment_propose(help_request=following, volunteer=second_volunteer, km=2.0)
    assignment_accept_every_week(assignment=later, volunteer=second_volunteer)
    first_day.refresh_from_db()
    following.refresh_from_db()
    assert holders(first_day) == holders(following) == {volunteer.pk, second_volunteer.pk}
    assert first_day.status == following.status == RequestStatus.ACCEPTED


def test_a_standing_volunteer_proposed_a_coming_day_has_that_proposal_accepted(
    team_series, first_day, volunteer, second_volunteer
):
    with_capacity(volunteer)
    file_due_occurrences(today() + NEXT_WEEK)
    following = team_series.occurrences.get(series_date=first_day.series_date + NEXT_WEEK)
    pending = services.assignment_propose(help_request=following, volunteer=volunteer, km=1.0)
    proposal = services.assignment_propose(help_request=first_day, volunteer=volunteer, km=1.0)
    assignment_accept_every_week(assignment=proposal, volunteer=volunteer)
    pending.refresh_from_db()
    assert pending.status == AssignmentStatus.ACCEPTED
    assert following.assignments.filter(volunteer=volunteer).count() == 1


def test_no_more_standing_volunteers_than_places_a_further_one_is_told_why(
    team_series, first_day, both_standing, volunteer, third_volunteer
):
    services.assignment_give_back(
        assignment=first_day.assignments.get(volunteer=volunteer), volunteer=volunteer
    )
    proposal = services.assignment_propose(help_request=first_day, volunteer=third_volunteer, km=1.0)
    with pytest.raises(services.TaskActionError) as raised:
        assignment_accept_every_week(assignment=proposal, volunteer=third_volunteer)
    assert str(raised.value) == (
        "Each of the 2 places already has a volunteer who comes every time: "
        "you can still accept this day once."
    )
    proposal.refresh_from_db()
    assert proposal.status == AssignmentStatus.PROPOSED  # nothing accepted on the way
    assert third_volunteer.pk not in standing_ids(team_series)
    with translation.override("nl"):
        with pytest.raises(services.TaskActionError) as raised:
            assignment_accept_every_week(assignment=proposal, volunteer=third_volunteer)
        assert "2 plaatsen" in str(raised.value)


# Giving back.


def test_giving_back_one_day_frees_that_volunteers_place_only(
    team_series, both_standing, volunteer, second_volunteer
):
    services.assignment_give_back(
        assignment=both_standing.assignments.get(volunteer=volunteer), volunteer=volunteer
    )
    both_standing.refresh_from_db()
    assert both_standing.status == RequestStatus.PROPOSED  # partly staffed, matched again
    assert holders(both_standing) == {second_volunteer.pk}
    assert standing_ids(team_series) == {volunteer.pk, second_volunteer.pk}


def test_giving_back_all_frees_that_volunteers_places_only_and_opens_their_place(
    team_series, first_day, both_standing, volunteer, second_volunteer, third_volunteer
):
    help_series_give_back_all(series=team_series, volunteer=volunteer)
    assert standing_ids(team_series) == {second_volunteer.pk}
    for occurrence in (first_day, both_standing):
        occurrence.refresh_from_db()
        assert occurrence.status == RequestStatus.PROPOSED
        assert holders(occurrence) == {second_volunteer.pk}
    # The next day filed: the one who still comes holds a place, matching the other.
    file_due_occurrences(today() + 2 * NEXT_WEEK)
    third_day = team_series.occurrences.get(series_date=first_day.series_date + 2 * NEXT_WEEK)
    assert holders(third_day) == {second_volunteer.pk}
    # Their place is free for another volunteer who comes every week.
    proposal = services.assignment_propose(help_request=third_day, volunteer=third_volunteer, km=1.0)
    assignment_accept_every_week(assignment=proposal, volunteer=third_volunteer)
    assert standing_ids(team_series) == {second_volunteer.pk, third_volunteer.pk}


def test_deleting_one_standing_volunteers_account_leaves_the_other(
    team_series, both_standing, volunteer, second_volunteer
):
    from mutualaid.aid.personal_data import account_delete

    account_delete(person=volunteer)
    assert standing_ids(team_series) == {second_volunteer.pk}
    both_standing.refresh_from_db()
    assert holders(both_standing) == {second_volunteer.pk}


# Forms and pages.


def test_the_forms_ask_how_many_volunteers_as_the_one_off_request_form():
    for form in (RepeatingHelpRequestForm, RepeatingPhoneIntakeForm):
        field = form.base_fields["people_needed"]
        assert (str(field.label), field.min_value, field.max_value) == ("How many volunteers?", 1, 6)


def test_the_rule_in_words_says_how_many_volunteers_in_each_language(team_series):
    assert team_series.label_with_people == "Every {} morning, 2 volunteers".format(
        (today() + dt.timedelta(days=1)).strftime("%A")
    )
    with translation.override("nl"):
        assert team_series.label_with_people.endswith(", 2 vrijwilligers")
    with translation.override("fr"):
        assert team_series.label_with_people.endswith(", 2 bénévoles")
    team_series.people_needed = 1
    assert team_series.label_with_people == team_series.label


def test_a_citizen_posts_weekly_help_for_two_and_sees_it_with_who_comes(
    client, citizen, community, shopping, volunteer, second_volunteer
):
    client.login(username=citizen.username, password=PASSWORD)
    response = client.post(
        reverse("request-create"),
        {
            "category": shopping.pk,
            "description": "Carry the shopping up",
            "urgency": 1,
            "address": "Naamsestraat 12, 3000 Leuven",
            "people_needed": "2",
            "repeat": "1",
            "repeat_starts": today() + dt.timedelta(days=1),
            "repeat_part": "0",
        },
        follow=True,
    )
    series = HelpSeries.objects.get()
    assert series.people_needed == 2 and series.occurrences.get().people_needed == 2
    assert ", 2 volunteers" in response.content.decode()
    for person in (volunteer, second_volunteer):
        with_capacity(person)
        proposal = services.assignment_propose(
            help_request=series.occurrences.get(), volunteer=person, km=1.0
        )
        assignment_accept_every_week(assignment=proposal, volunteer=person)
    listing = client.get(reverse("my-requests")).content.decode()
    assert series.label_with_people in listing
    names = f"{volunteer.display_name}, {second_volunteer.display_name} come every time."
    assert names in listing


def test_a_phone_intake_files_weekly_help_for_two_shown_to_the_coordinator(client, coordinator, shopping):
    sign_in(client, coordinator)
    response = client.post(
        reverse("coordinator-intake"),
        {
            "category": shopping.pk,
            "description": "Carry the shopping up",
            "urgency": 1,
            "address": "Naamsestraat 12, 3000 Leuven",
            "contact_name": "Mrs Callsen",
            "contact_phone": "0470 12 34 56",
            "people_needed": "2",
            "repeat": "1",
            "repeat_starts": today() + dt.timedelta(days=2),
            "repeat_part": "1",
        },
        follow=True,
    )
    series = HelpSeries.objects.get()
    assert series.people_needed == 2 and series.requester is None
    assert ", 2 volunteers." in response.content.decode()  # the "filed" message
    page = client.get(reverse("coordinator-request", args=[series.occurrences.get().pk])).content.decode()
    assert "data-series-rule>" + series.label_with_people in page


def test_the_task_page_offers_every_week_while_a_place_is_free(
    client, team_series, first_day, volunteer, second_volunteer, third_volunteer
):
    with_capacity(volunteer)
    mine = services.assignment_propose(help_request=first_day, volunteer=volunteer, km=1.0)
    assignment_accept_every_week(assignment=mine, volunteer=volunteer)
    theirs = services.assignment_propose(help_request=first_day, volunteer=second_volunteer, km=2.0)
    client.login(username=second_volunteer.username, password=PASSWORD)
    page = client.get(reverse("task-detail", args=[theirs.pk])).content.decode()
    assert "Accept every week" in page and "2 volunteers" in page
    response = client.post(reverse("task-accept-every-week", args=[theirs.pk]), follow=True)
    assert "You hold a place on the coming days too" in response.content.decode()
    page = client.get(reverse("task-detail", args=[theirs.pk])).content.decode()
    assert "Give back all" in page and "Accept every week" not in page
    # Both places have a standing volunteer: a third, proposed a day once, is not offered it.
    services.assignment_give_back(assignment=mine, volunteer=volunteer)
    once = services.assignment_propose(help_request=first_day, volunteer=third_volunteer, km=1.0)
    client.login(username=third_volunteer.username, password=PASSWORD)
    page = client.get(reverse("task-detail", args=[once.pk])).content.decode()
    assert "Accept this once" in page and "Accept every week" not in page
    response = client.post(reverse("task-accept-every-week", args=[once.pk]), follow=True)
    assert "Each of the 2 places already has a volunteer" in response.content.decode()
