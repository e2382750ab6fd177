"""The one dispatcher: a service says what happened to a task (a `ChangeKind`); this module
decides who hears of it and how.

Everyone concerned hears of every change on their open pages (a live event, after the
commit). Some kinds also reach people who are not on the site: a proposal its volunteer,
"someone is coming" and "done" the requester (or the caller a coordinator filed it for)
and the referrer who filed it for a neighbour (by e-mail, without the volunteer's name).
Once a task is done, a thanks reaches its volunteer (the kind of help and the words,
never who wrote them nor where they live), and "the help did not come" or a disputed
expense reaches the community's coordinators. Each such notice is offered to every channel
in `notifications.channels`; a channel writes
a message to the outbox when the person chose it (e-mail, text message, ...), inside the
service's transaction, and the worker sends it after the commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import prefetch_related_objects
from django.utils import translation

from mutualaid.aid.identity import email_signature
from mutualaid.aid.models import Community
from notifications.channels import CHANNELS
from notifications.events import publish_task_changes, task_change
from notifications.kinds import ChangeKind
from notifications.models import OutgoingMessage
from notifications.notice import Notice
from notifications.outbox import queue_messages

# The kinds that reach people off the site; the others are only live events.
NOTIFIED_KINDS = (ChangeKind.PROPOSED, ChangeKind.ACCEPTED, ChangeKind.DONE, ChangeKind.THANKED)
# The kinds the community's coordinators hear of off the site: something to follow up.
COORDINATOR_KINDS = (ChangeKind.NOT_HELPED, ChangeKind.EXPENSE_DISPUTED)
# Told off the site too, to the requester and the community's coordinators (no volunteer).
TEAM_KINDS = (ChangeKind.SHORT_STAFFED,)


@dataclass
class TaskChange:
    help_request: Any
    kind: ChangeKind
    volunteer_ids: list[int] = field(default_factory=list)
    assignment: Any = None


def task_changed(
    help_request, kind: ChangeKind, volunteer_ids: Iterable[int] = (), *, assignment=None
) -> None:
    """Tell everyone concerned that a task changed: live pages, and by their channels."""
    tasks_changed([TaskChange(help_request, ChangeKind(kind), sorted(set(volunteer_ids)), assignment)])


def tasks_changed(changes: list[TaskChange]) -> None:
    """Several changes at once (a matching run's proposals): one query for the volunteers,
    one insert for the messages, one live send after the commit."""
    from mutualaid.accounts.models import User

    wanted = {pk for change in changes if change.kind in NOTIFIED_KINDS for pk in change.volunteer_ids}
    volunteers = User.objects.in_bulk(wanted) if wanted else {}
    notices_to_send, live_events = [], []
    for change in changes:
        help_request = change.help_request
        live_events.append(
            task_change(
                request_id=help_request.pk,
                community_id=help_request.community_id,
                requester_id=help_request.requester_id,
                volunteer_ids=change.volunteer_ids,
                request_status=help_request.status,
                change=str(change.kind),
            )
        )
        notices_to_send += notices(
            change, [volunteers[pk] for pk in change.volunteer_ids if pk in volunteers]
        )
    queue_messages(compose(notices_to_send))
    publish_task_changes(live_events)


def notices(change: TaskChange, volunteers: list) -> list[Notice]:
    """Who is told of a change off the site."""
    help_request, kind = change.help_request, change.kind
    if kind == ChangeKind.PROPOSED:
        return [Notice(kind, help_request, person, assignment=change.assignment) for person in volunteers]
    if kind == ChangeKind.THANKED:
        return [Notice(kind, help_request, person) for person in volunteers]
    if kind in COORDINATOR_KINDS:
        return coordinator_notices(kind, help_request)
    if kind in (ChangeKind.ACCEPTED, ChangeKind.DONE):
        volunteer = volunteers[0] if volunteers else None
        # requester None: a caller, whom only a channel that needs no account can reach.
        told = [Notice(kind, help_request, help_request.requester, volunteer=volunteer)]
        # A referrer hears "help is arranged" once the whole team is (one place of several
        # arranges nothing yet).
        arranged = kind == ChangeKind.DONE or help_request.status == ChangeKind.ACCEPTED.value
        referrer = referrer_of(help_request) if arranged else None
        if referrer is not None:
            told.append(Notice(kind, help_request, referrer, to_referrer=True))
        return told
    if kind in TEAM_KINDS:
        return [Notice(kind, help_request, help_request.requester), *coordinator_notices(kind, help_request)]
    return []


def coordinator_notices(kind: ChangeKind, help_request) -> list[Notice]:
    """A change's notices to the community's coordinators, each marked `to_coordinator`: every
    channel can tell a coordinator's notice from the requester's of the same kind."""
    return [
        Notice(kind, help_request, coordinator, to_coordinator=True)
        for coordinator in coordinators_of(help_request.community_id)
    ]


def coordinators_of(community_id: int) -> list:
    """The community's active coordinators (who hear what the whole team must know)."""
    from mutualaid.accounts.models import User

    return list(User.objects.filter(community_id=community_id, is_coordinator=True, is_active=True))


def referrer_of(help_request):
    """The account that referred the request for a neighbour (partners.Referral), if any."""
    if help_request.partner_id is None:  # only a partner's requests can be referrals
        return None
    from mutualaid.partners.models import Referral

    referral = (
        Referral.objects.select_related("referrer__user").filter(help_request_id=help_request.pk).first()
    )
    return referral.referrer.user if referral is not None else None


def compose(notices: list[Notice]) -> list[OutgoingMessage]:
    """The messages of every channel each person chose, for a batch of notices."""
    # Every message is signed with its request's community: one query for the whole batch.
    prefetch_related_objects([notice.help_request for notice in notices], "community")
    messages = []
    for channel in CHANNELS.values():
        if hasattr(channel, "compose_all"):
            messages += channel.compose_all(notices)
            continue
        for notice in notices:
            message = channel.compose(notice)
            if message is not None:
                messages.append(notice.attach(message))
    return messages


def remind(assignment, window) -> None:
    """The day before an accepted task: its volunteer hears of it on their channels, with
    the way to give it back. A reminder still waiting is dropped if the task changes."""
    notice = Notice(
        ChangeKind.REMINDER,
        assignment.help_request,
        assignment.volunteer,
        assignment=assignment,
        window=window,
    )
    messages = compose([notice])
    for message in messages:
        message.reminder_of = assignment
    queue_messages(messages)


def email_people(people: list, *, subject: str, body: str, community_id: int) -> None:
    """A coordinator's own e-mail to volunteers, through the outbox, signed in each one's language."""
    community = Community.objects.get(pk=community_id)
    messages = []
    for person in people:
        with translation.override(person.preferred_language):
            signature = email_signature(community)
        messages.append(
            OutgoingMessage(
                channel=OutgoingMessage.Channel.EMAIL,
                recipient=person,
                to_address=person.email,
                subject=subject,
                body=f"{body}\n\n{signature}\n",
                community_id=community_id,
            )
        )
    queue_messages(messages)


def text_reply(person, body: str, *, community_id: int | None) -> None:
    """Answer a text a person sent (through the outbox, at any hour)."""
    from notifications.channels.sms import reply

    queue_messages([reply(person, body, community_id=community_id)])
