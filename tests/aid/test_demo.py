"""The Leuven demo a newcomer gets from the first README command."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

from mutualaid.accounts.models import User
from mutualaid.aid.demo import DEMO_PASSWORD
from mutualaid.aid.models import Community, HelpRequest, VolunteerOffer
from notifications.models import OutgoingMessage


def test_the_demo_loads_a_community_its_people_and_prints_the_logins(db, capsys):
    call_command("load_leuven_demo")
    output = capsys.readouterr().out
    community = Community.objects.get(slug="leuven")
    assert User.objects.get(username="coordinator").is_coordinator
    assert VolunteerOffer.objects.filter(community=community).count() == 60
    assert HelpRequest.objects.filter(status__in=["open", "proposed"]).count() == 30
    assert "coordinator" in output and DEMO_PASSWORD in output and "First matching:" in output
    assert User.objects.get(username="citizen1").check_password(DEMO_PASSWORD)
    assert HelpRequest.objects.filter(status="proposed").exists()  # matched at once


@pytest.mark.slow
def test_the_demo_has_three_months_of_history_without_flooding_the_outbox(db):
    call_command("load_leuven_demo")
    history = HelpRequest.objects.filter(status__in=["done", "cancelled"])
    assert history.count() == 120
    oldest = history.order_by("created_at").first().created_at
    assert (timezone.now() - oldest).days >= 60
    assert OutgoingMessage.objects.count() <= 30  # today's proposals only, not months-old news


@pytest.mark.slow
def test_loading_the_demo_twice_changes_nothing(db, capsys):
    call_command("load_leuven_demo")
    counts = (User.objects.count(), HelpRequest.objects.count())
    call_command("load_leuven_demo")
    assert (User.objects.count(), HelpRequest.objects.count()) == counts
    assert "already loaded" in capsys.readouterr().out
