"""Migration 0027 gives coordinators who already had the admin the view permission of
recurring help (HelpSeries), and nobody else."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from mutualaid.accounts.models import User
from mutualaid.aid.demo import grant_coordinator_admin
from tests.aid.migrating import migrate

BEFORE = [("aid", "0026_help_series_people_needed")]
AFTER = [("aid", "0027_grant_coordinators_view_helpseries")]


def can_view_series(user: User) -> bool:
    return User.objects.get(pk=user.pk).has_perm("aid.view_helpseries")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_coordinators_given_the_admin_earlier_can_view_recurring_help_after_migrating(
    coordinator, outsider_coordinator, citizen
):
    grant_coordinator_admin(coordinator)
    coordinator.user_permissions.remove(Permission.objects.get(codename="view_helpseries"))
    assert not can_view_series(coordinator)
    try:
        migrate(BEFORE)
    finally:
        migrate(AFTER)
    assert can_view_series(coordinator)
    # A coordinator never given the admin, and a citizen, get nothing from it.
    assert not can_view_series(outsider_coordinator)
    assert not can_view_series(citizen)
