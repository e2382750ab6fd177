"""The worker's recurring help job: each occurrence it files carries the series' number of
volunteers, and each standing volunteer holds one of its places."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from mutualaid.aid import services
from mutualaid.aid.models import AssignmentStatus
from mutualaid.aid.services.series import assignment_accept_every_week
from mutualaid.aid.states import RequestStatus
from tests.conftest import offer_of, weekly_help
from worker import jobs
from worker.models import PeriodicJob


def test_the_job_files_the_next_day_for_two_with_the_standing_volunteer_in_one_place(
    db, citizen, community, shopping, volunteer
):
    series = weekly_help(citizen, community, shopping, people_needed=2)
    offer = offer_of(volunteer)
    offer.capacity = 3
    offer.save()
    proposal = services.assignment_propose(help_request=series.occurrences.get(), volunteer=volunteer, km=1.0)
    assignment_accept_every_week(assignment=proposal, volunteer=volunteer)

    assert jobs.file_recurring_help(timezone.now() + dt.timedelta(days=7)) == 1

    following = series.occurrences.order_by("series_date").last()
    assert following.people_needed == 2
    assert following.status == RequestStatus.PROPOSED  # one place held, matching finds the other
    assert list(following.assignments.values_list("volunteer_id", "status")) == [
        (volunteer.pk, AssignmentStatus.ACCEPTED)
    ]
    assert PeriodicJob.objects.get(name="recurring_help").last_outcome == "1 occurrences filed"
