"""The dispatcher: services say what happened; it decides who hears it on which channel.
The change kinds are one enumeration, given to the page script as JSON."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from mutualaid.aid import services
from notifications.channels import CHANNELS
from notifications.dispatch import TaskChange, notices
from notifications.kinds import ChangeKind
from notifications.models import OutgoingMessage
from tests.conftest import sign_in


def test_every_channel_module_has_what_the_outbox_and_the_dispatcher_call():
    assert {"email", "sms", "push"} <= set(CHANNELS)
    for name, module in CHANNELS.items():
        assert name == module.NAME and name in OutgoingMessage.Channel.values
        assert callable(getattr(module, "compose", None) or module.compose_all) and callable(module.send)


@pytest.mark.parametrize("kind", list(ChangeKind))
def test_only_proposals_acceptances_completions_thanks_follow_ups_and_short_teams_reach_people_off_the_site(
    kind, help_request, volunteer, coordinator
):
    told = notices(TaskChange(help_request, kind, [volunteer.pk]), [volunteer])
    if kind in (ChangeKind.PROPOSED, ChangeKind.THANKED):
        assert [notice.recipient for notice in told] == [volunteer]
    elif kind in (ChangeKind.ACCEPTED, ChangeKind.DONE):
        assert [(notice.recipient, notice.volunteer) for notice in told] == [
            (help_request.requester, volunteer)
        ]
    elif kind in (ChangeKind.NOT_HELPED, ChangeKind.EXPENSE_DISPUTED):
        # Something to follow up: the community's coordinators, as coordinators, never the volunteer.
        assert [(notice.recipient, notice.to_coordinator) for notice in told] == [(coordinator, True)]
    elif kind == ChangeKind.SHORT_STAFFED:
        # A task still short of volunteers: its requester and the coordinators, no volunteer.
        assert [(notice.recipient, notice.to_coordinator) for notice in told] == [
            (help_request.requester, False),
            (coordinator, True),
        ]
    else:
        assert told == []


def test_each_person_hears_on_the_channels_they_chose(help_request, volunteer):
    volunteer.email = "volunteer@example.org"
    volunteer.phone, volunteer.sms_notifications = "+32470000001", True
    volunteer.save()
    services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    channels = sorted(OutgoingMessage.objects.filter(recipient=volunteer).values_list("channel", flat=True))
    assert channels == ["email", "sms"]
    volunteer.email_notifications = False
    volunteer.save()
    services.assignment_decline(assignment=help_request.assignments.get(), volunteer=volunteer)
    # A decline tells nobody off the site: only live pages.
    assert OutgoingMessage.objects.filter(recipient=volunteer).count() == 2


def test_the_page_script_reads_the_task_kinds_and_event_types_from_the_server(client, citizen):
    sign_in(client, citizen)
    page = client.get(reverse("my-requests")).text
    data = json.loads(
        re.search(r'<script id="change-kinds" type="application/json">(.*?)</script>', page).group(1)
    )
    assert data["event_types"] == ["task.changed", "community.changed"]
    assert "proposed" in data["task_kinds"] and "held" not in data["task_kinds"]
    with open("static/js/live.js") as script:
        assert 'getElementById("change-kinds")' in script.read()
