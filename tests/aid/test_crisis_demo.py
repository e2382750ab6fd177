"""`manage.py load_crisis_demo`: a crisis-size set, loaded fast, once."""

from __future__ import annotations

import phonenumbers
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from mutualaid.accounts.models import User
from mutualaid.aid.models import Community, HelpRequest, StatusChange, TimeWindow, VolunteerOffer


@pytest.fixture(autouse=True)
def developing(settings):
    settings.DEBUG = True  # a tool for a developer's machine; the test runner turns DEBUG off


def test_the_crisis_set_loads_open_requests_and_volunteers_with_progress(db, capsys):
    call_command("load_crisis_demo", community="crisis-town", requests=120, volunteers=40)
    output = capsys.readouterr().out
    community = Community.objects.get(slug="crisis-town")
    requests = HelpRequest.objects.filter(community=community)
    assert requests.filter(status="open").count() == 120
    assert VolunteerOffer.objects.filter(community=community).count() == 40
    assert User.objects.get(username="coordinator-crisis-town").is_coordinator
    assert "Open requests: 120/120 (100 %)" in output and "Volunteers: 40/40 (100 %)" in output
    # Phones in E.164, every caller reachable: an account's phone or the caller's own.
    phones = [
        str(p) for p in User.objects.filter(username__startswith="crisis-").values_list("phone", flat=True)
    ]
    phones += list(requests.filter(requester=None).values_list("contact_phone", flat=True))
    assert phones and all(phonenumbers.is_valid_number(phonenumbers.parse(phone)) for phone in phones)
    assert requests.filter(requester=None).exists() and requests.exclude(requester=None).exists()
    assert all(request.neighbourhood for request in requests)
    # Waiting for a while, and wanted at times still ahead.
    assert requests.filter(created_at__lt=timezone.now() - timezone.timedelta(hours=1)).exists()
    assert not TimeWindow.objects.filter(
        help_request__community=community, date__lte=timezone.localdate()
    ).exists()
    assert StatusChange.objects.filter(help_request__community=community).count() == 120


def test_loading_the_crisis_set_twice_refuses_and_changes_nothing(db):
    call_command("load_crisis_demo", community="crisis-town", requests=10, volunteers=5)
    counts = (User.objects.count(), HelpRequest.objects.count())
    with pytest.raises(CommandError, match=r"already loaded.*Nothing was changed"):
        call_command("load_crisis_demo", community="crisis-town", requests=10, volunteers=5)
    assert (User.objects.count(), HelpRequest.objects.count()) == counts


def test_the_crisis_set_refuses_production(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="production"):
        call_command("load_crisis_demo", requests=10, volunteers=5)
    assert not HelpRequest.objects.exists()
