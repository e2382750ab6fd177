"""The one place that knows the live-update groups and the shape of their events.

Services call `publish_task_change` inside their transaction; the event leaves only after
the commit, so nobody is told about a change that was rolled back. Events carry ids and
statuses, never names or addresses: a page that receives one asks the server for what its
user may see (the database is the truth).
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

TASK_CHANGED = "task.changed"


def person_group(user_id: int) -> str:
    """One person's pages: their own requests and, as a volunteer, their inbox."""
    return f"person-{user_id}"


def community_group(community_id: int) -> str:
    """The dashboards of a community's coordinators."""
    return f"community-{community_id}"


def publish_task_change(
    *,
    request_id: int,
    community_id: int,
    requester_id: int | None,
    volunteer_ids: list[int],
    request_status: str,
    change: str,
) -> None:
    """Tell the requester, the volunteers concerned and the coordinators, after commit."""
    event = {"type": TASK_CHANGED, "request": request_id, "status": request_status, "change": change}
    people = {volunteer_id for volunteer_id in volunteer_ids}
    if requester_id is not None:
        people.add(requester_id)
    groups = [community_group(community_id)] + [person_group(user_id) for user_id in sorted(people)]
    transaction.on_commit(lambda: send_to_groups(groups, event))


def send_to_groups(groups: list[str], event: dict[str, Any]) -> None:
    """Send now; a channel layer fault is logged, never raised into a committed change."""
    channel_layer = get_channel_layer()
    if channel_layer is None:
        return
    for group in groups:
        try:
            async_to_sync(channel_layer.group_send)(group, event)
        except Exception:
            logger.exception("Could not publish %s to %s", event.get("change"), group)
