"""Migration 0026 carries a series' one standing volunteer over to the set of them, and
back (to the first who committed)."""

from __future__ import annotations

import pytest

from mutualaid.aid.models import HelpSeries
from tests.aid.migrating import migrate
from tests.aid.test_recurring_teams import weekly_for

BEFORE = [("aid", "0025_urgent_asked_at_once")]
AFTER = [("aid", "0026_help_series_people_needed")]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_standing_volunteer_is_carried_over_and_back(
    citizen, community, shopping, volunteer, second_volunteer
):
    series = weekly_for(citizen, community, shopping, 2)
    series.standing_volunteers.add(volunteer)
    series.standing_volunteers.add(second_volunteer)
    try:
        executor = migrate(BEFORE)
        old_series = executor.loader.project_state(BEFORE).apps.get_model("aid", "HelpSeries")
        assert old_series.objects.get(pk=series.pk).standing_volunteer_id == volunteer.pk
    finally:
        migrate(AFTER)
    assert list(HelpSeries.objects.get(pk=series.pk).standing_volunteers.all()) == [volunteer]
