"""The one place that knows the live-update groups and the shape of their events.

Services call `publish_task_changes` (or `publish_community_change`) inside their
transaction; the event leaves only after the commit, so nobody is told about a change that
was rolled back. Events carry ids and statuses, never names or addresses: a page that
receives one asks the server for what its user may see (the database is the truth).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

TASK_CHANGED = "task.changed"
# Something on a community's dashboard that is no task's status: volunteers available
# (an offer saved, paused or resumed), why requests wait, who is still to be called back.
COMMUNITY_CHANGED = "community.changed"
EVENT_TYPES = (TASK_CHANGED, COMMUNITY_CHANGED)
# Not forwarded: it tells a person's sockets to close, because what they may hear changed
# (logged out, a role or the community taken away, the account deleted). A page still
# signed in reconnects and joins the groups its rights give it now.
SOCKETS_CLOSE = "sockets.close"
SEND_CONCURRENCY = 16
PUBLIC_FIELDS = {
    TASK_CHANGED: ("type", "request", "status", "change"),
    COMMUNITY_CHANGED: ("type", "change"),
    SOCKETS_CLOSE: ("type",),
}


def person_group(user_id: int) -> str:
    """One person's pages: their own requests and, as a volunteer, their inbox."""
    return f"person-{user_id}"


def community_group(community_id: int) -> str:
    """The dashboards of a community's coordinators."""
    return f"community-{community_id}"


def task_change(
    *,
    request_id: int,
    community_id: int,
    requester_id: int | None,
    volunteer_ids: list[int],
    request_status: str,
    change: str,
) -> tuple[list[str], dict[str, Any]]:
    """The groups to tell and the event to send them about one change."""
    event = {"type": TASK_CHANGED, "request": request_id, "status": request_status, "change": change}
    people = set(volunteer_ids)
    if requester_id is not None:
        people.add(requester_id)
    groups = [community_group(community_id)] + [person_group(user_id) for user_id in sorted(people)]
    return groups, event


def community_change(*, community_id: int, change: str) -> tuple[list[str], dict[str, Any]]:
    """The groups to tell and the event to send them about a change of a community's
    dashboard that is no task's status: its coordinators only."""
    return [community_group(community_id)], {"type": COMMUNITY_CHANGED, "change": change}


def event_text(event: dict[str, Any]) -> str:
    """What a socket is sent for an event: its public fields as JSON."""
    return event.get("text") or json.dumps({field: event[field] for field in PUBLIC_FIELDS[event["type"]]})


def publish_community_change(*, community_id: int, change: str) -> None:
    """Tell a community's coordinators, after commit, that their dashboard changed."""
    publish_task_changes([community_change(community_id=community_id, change=change)])


def close_live_sockets(*, user_id: int) -> None:
    """Close every open socket of this person, after commit."""
    publish_task_changes([([person_group(user_id)], {"type": SOCKETS_CLOSE})])


def publish_task_changes(changes: list[tuple[list[str], dict[str, Any]]]) -> None:
    """Publish several changes after commit, all at once (a matching run's proposals)."""
    if changes:
        transaction.on_commit(lambda: send_all(changes))


def send_all(changes: list[tuple[list[str], dict[str, Any]]]) -> None:
    """Send now, concurrently; a channel layer fault is logged, never raised into a commit."""
    channel_layer = get_channel_layer()
    if channel_layer is None:
        return
    # The socket's text is encoded once here, not by every consumer that forwards the event
    # (a community's dashboards all get the same one).
    changes = [(groups, {**event, "text": event_text(event)}) for groups, event in changes]
    try:
        async_to_sync(_send_concurrently)(channel_layer, changes)
    except Exception:
        logger.exception("Could not publish %d live events", len(changes))


def _deliveries(changes: list[tuple[list[str], dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """One delivery per person's change; a community's dashboards need only the last one,
    since a dashboard refetches everything on any event."""
    deliveries, last_for_community = [], {}
    for groups, event in changes:
        for group in groups:
            if group.startswith("community-"):
                last_for_community[group] = event
            else:
                deliveries.append((group, event))
    return deliveries + list(last_for_community.items())


async def _send_concurrently(channel_layer, changes: list[tuple[list[str], dict[str, Any]]]) -> None:
    deliveries = _deliveries(changes)
    if hasattr(channel_layer, "group_send_many"):
        # Redis (notifications/layers.py): the whole burst in two pipelined round trips.
        await channel_layer.group_send_many(deliveries)
        return
    # A few at a time: concurrency cuts the latency of a burst, and a bound keeps a large
    # matching run within a Redis layer's connection pool.
    limit = asyncio.Semaphore(SEND_CONCURRENCY)

    async def send(group: str, event: dict[str, Any]) -> None:
        async with limit:
            await channel_layer.group_send(group, event)

    sends = [send(group, event) for group, event in deliveries]
    for outcome in await asyncio.gather(*sends, return_exceptions=True):
        if isinstance(outcome, Exception):
            logger.error("A live event was not delivered: %r", outcome)
