"""The Leuven demo a newcomer gets from the first README command."""

from __future__ import annotations

import re

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from mutualaid.accounts.models import User
from mutualaid.aid import demo
from mutualaid.aid.demo import DEMO_PASSWORD
from mutualaid.aid.models import Assignment, Community, HelpRequest, VolunteerOffer
from notifications.models import OutgoingMessage


@pytest.fixture(autouse=True)
def developing(settings):
    """The demo is for a developer's machine (DEBUG=1); the test runner turns DEBUG off."""
    settings.DEBUG = True


@pytest.mark.slow  # over 2 s: left out of the edit-test loop
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
    # Today's proposals only (each proposal told on the volunteer's channels), not months-old news.
    told = set(OutgoingMessage.objects.values_list("proposal__status", flat=True))
    assert told == {"proposed"}
    assert OutgoingMessage.objects.count() <= 3 * Assignment.objects.filter(status="proposed").count()


@pytest.mark.slow
def test_loading_the_demo_twice_changes_nothing(db, capsys):
    call_command("load_leuven_demo")
    counts = (User.objects.count(), HelpRequest.objects.count())
    call_command("load_leuven_demo")
    assert (User.objects.count(), HelpRequest.objects.count()) == counts
    assert "already loaded" in capsys.readouterr().out


def test_the_demo_refuses_to_load_in_production_unless_told(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--allow-production"):
        call_command("load_leuven_demo")
    assert not Community.objects.exists()


def test_a_demo_in_production_gets_random_passwords_not_the_published_one(db, settings, capsys, monkeypatch):
    settings.DEBUG = False
    # A small demo: the point is the passwords.
    monkeypatch.setattr(demo, "REQUESTS", 2)
    monkeypatch.setattr(demo, "VOLUNTEERS", 2)
    monkeypatch.setattr(demo, "HISTORY_MONTHS", 0)
    call_command("load_leuven_demo", "--allow-production")
    output = capsys.readouterr().out
    assert DEMO_PASSWORD not in output
    coordinator_password = re.search(r"coordinator's password: (\S+)", output).group(1)
    others_password = re.search(r"everyone else's password: +(\S+)", output).group(1)
    assert coordinator_password != others_password
    assert User.objects.get(username="coordinator").check_password(coordinator_password)
    for user in User.objects.exclude(username="coordinator"):
        assert user.check_password(others_password) and not user.check_password(DEMO_PASSWORD)
