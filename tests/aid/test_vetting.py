"""Vetting: categories that need a vetted volunteer, checks recorded by coordinators,
expiry compared at query time, and every check audited."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from matching.reasons import NOT_VETTED
from matching.services import propose_assignments
from mutualaid.aid import services
from mutualaid.aid.models import Assignment, AuditEntry, Category, VolunteerCheck, vetted_volunteer_ids
from mutualaid.aid.personal_data import account_delete, personal_data_export
from tests.conftest import KESSEL_LO, LADEUZEPLEIN, make_volunteer, post_request


@pytest.fixture
def home_visit(community) -> Category:
    return Category.objects.create(
        community=community, slug="home-visit", name="Home visit", requires_vetting=True
    )


def vet(volunteer, coordinator, *, expires_on: dt.date | None = None) -> None:
    today = timezone.localdate()
    services.volunteer_check_record(
        volunteer=volunteer, coordinator=coordinator, kind=VolunteerCheck.Kind.ID_SEEN, checked_on=today
    )
    services.volunteer_check_record(
        volunteer=volunteer,
        coordinator=coordinator,
        kind=VolunteerCheck.Kind.CRIMINAL_RECORD,
        checked_on=today,
        expires_on=expires_on or today + dt.timedelta(days=365),
    )


def test_an_unvetted_volunteer_is_never_proposed_for_a_category_that_requires_vetting(
    citizen, community, home_visit
):
    make_volunteer("unvetted", community, [home_visit], LADEUZEPLEIN)
    help_request = post_request(citizen, community, home_visit)
    outcome = propose_assignments(community=community)
    assert outcome.proposed == 0
    help_request.refresh_from_db()
    assert help_request.unassigned_reason == NOT_VETTED


def test_a_vetted_volunteer_is_proposed_even_when_an_unvetted_one_is_nearer(
    citizen, community, home_visit, coordinator
):
    make_volunteer("unvetted", community, [home_visit], LADEUZEPLEIN)
    vetted = make_volunteer("vetted", community, [home_visit], KESSEL_LO)
    vet(vetted, coordinator)
    help_request = post_request(citizen, community, home_visit)
    propose_assignments(community=community)
    assert Assignment.objects.get(help_request=help_request).volunteer == vetted


def test_an_id_seen_alone_does_not_make_a_volunteer_vetted(community, home_visit, coordinator):
    volunteer = make_volunteer("half", community, [home_visit], LADEUZEPLEIN)
    services.volunteer_check_record(
        volunteer=volunteer,
        coordinator=coordinator,
        kind=VolunteerCheck.Kind.ID_SEEN,
        checked_on=timezone.localdate(),
    )
    assert vetted_volunteer_ids([volunteer.pk], timezone.localdate()) == set()


def test_at_its_expiry_date_the_extract_no_longer_counts(citizen, community, home_visit, coordinator):
    volunteer = make_volunteer("vetted", community, [home_visit], LADEUZEPLEIN)
    today = timezone.localdate()
    vet(volunteer, coordinator, expires_on=today + dt.timedelta(days=1))
    assert vetted_volunteer_ids([volunteer.pk], today) == {volunteer.pk}
    assert vetted_volunteer_ids([volunteer.pk], today + dt.timedelta(days=1)) == set()


def test_an_expired_extract_keeps_matching_from_proposing_the_volunteer(
    citizen, community, home_visit, coordinator
):
    volunteer = make_volunteer("expired", community, [home_visit], LADEUZEPLEIN)
    vet(volunteer, coordinator)
    VolunteerCheck.objects.filter(volunteer=volunteer, kind=VolunteerCheck.Kind.CRIMINAL_RECORD).update(
        checked_on=timezone.localdate() - dt.timedelta(days=400),
        expires_on=timezone.localdate(),
    )
    post_request(citizen, community, home_visit)
    assert propose_assignments(community=community).proposed == 0


def test_a_coordinator_cannot_assign_an_unvetted_volunteer_by_hand(
    citizen, community, home_visit, coordinator
):
    volunteer = make_volunteer("unvetted", community, [home_visit], LADEUZEPLEIN)
    help_request = post_request(citizen, community, home_visit)
    with pytest.raises(ValidationError) as refused:
        services.assignment_assign_by_coordinator(
            help_request=help_request, volunteer=volunteer, coordinator=coordinator, reason="knows her"
        )
    assert "not vetted" in str(refused.value.message_dict["volunteer"])
    assert not Assignment.objects.filter(help_request=help_request).exists()
    vet(volunteer, coordinator)
    services.assignment_assign_by_coordinator(
        help_request=help_request, volunteer=volunteer, coordinator=coordinator, reason="knows her"
    )
    assert Assignment.objects.get(help_request=help_request).volunteer == volunteer


def test_recording_a_check_is_audited_with_who_what_and_when(community, home_visit, coordinator):
    volunteer = make_volunteer("vetted", community, [home_visit], LADEUZEPLEIN)
    vet(volunteer, coordinator)
    entries = AuditEntry.objects.filter(action="record_check").order_by("pk")
    assert [entry.after["kind"] for entry in entries] == ["id_seen", "criminal_record_2"]
    assert all(entry.actor == coordinator and entry.community == community for entry in entries)
    assert entries[1].after["expires_on"] is not None


def test_an_extract_needs_an_expiry_date_and_no_check_is_dated_in_the_future(
    community, home_visit, coordinator
):
    volunteer = make_volunteer("vetted", community, [home_visit], LADEUZEPLEIN)
    today = timezone.localdate()
    with pytest.raises(ValidationError) as no_expiry:
        services.volunteer_check_record(
            volunteer=volunteer, coordinator=coordinator, kind="criminal_record_2", checked_on=today
        )
    assert "expires_on" in no_expiry.value.message_dict
    with pytest.raises(ValidationError) as future:
        services.volunteer_check_record(
            volunteer=volunteer,
            coordinator=coordinator,
            kind="id_seen",
            checked_on=today + dt.timedelta(days=1),
        )
    assert "checked_on" in future.value.message_dict
    assert not VolunteerCheck.objects.exists()


def test_a_coordinator_of_another_community_cannot_record_a_check(
    community, home_visit, outsider_coordinator
):
    volunteer = make_volunteer("vetted", community, [home_visit], LADEUZEPLEIN)
    with pytest.raises(PermissionDenied):
        services.volunteer_check_record(
            volunteer=volunteer,
            coordinator=outsider_coordinator,
            kind="id_seen",
            checked_on=timezone.localdate(),
        )


def test_a_volunteers_checks_are_in_their_export_and_forgotten_with_their_account(
    community, home_visit, coordinator
):
    volunteer = make_volunteer("vetted", community, [home_visit], LADEUZEPLEIN)
    vet(volunteer, coordinator)
    assert [check["kind"] for check in personal_data_export(volunteer)["checks"]] == [
        "id_seen",
        "criminal_record_2",
    ]
    account_delete(person=volunteer)
    assert not VolunteerCheck.objects.filter(volunteer=volunteer).exists()
    assert AuditEntry.objects.filter(action="record_check").count() == 2


def test_a_volunteer_whose_checks_ran_out_since_the_proposal_cannot_accept_and_the_task_goes_on(
    citizen, community, home_visit, coordinator
):
    volunteer = make_volunteer("vetted", community, [home_visit], LADEUZEPLEIN)
    vet(volunteer, coordinator)
    help_request = post_request(citizen, community, home_visit)
    proposal = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.5)
    # The extract's validity ends today (as if the proposal had waited over its expiry).
    VolunteerCheck.objects.filter(volunteer=volunteer, kind=VolunteerCheck.Kind.CRIMINAL_RECORD).update(
        expires_on=timezone.localdate()
    )

    with pytest.raises(services.TaskActionError, match="checks are no longer valid"):
        services.assignment_accept(assignment=proposal, volunteer=volunteer)

    proposal.refresh_from_db()
    help_request.refresh_from_db()
    assert proposal.status == "cancelled"
    assert help_request.status == "open"
    assert proposal.status_changes.filter(subject="assignment").latest("pk").reason == "vetting lapsed"


def test_a_volunteer_still_vetted_accepts_a_task_that_needs_vetting(
    citizen, community, home_visit, coordinator
):
    volunteer = make_volunteer("vetted", community, [home_visit], LADEUZEPLEIN)
    vet(volunteer, coordinator)
    help_request = post_request(citizen, community, home_visit)
    proposal = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.5)
    services.assignment_accept(assignment=proposal, volunteer=volunteer)
    help_request.refresh_from_db()
    assert help_request.status == "accepted"
