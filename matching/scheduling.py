"""When matching runs: at once after a quiet spell, off the request thread, never twice at once.

A trigger (new request, changed offer, decline, expiry) marks the community as due, in the
same transaction as the change, and wakes the worker after the commit. Due means now
(the leading edge) unless a run for the community started less than
MATCHING_DEBOUNCE_SECONDS ago: then right when that much time has passed since it started.
So the first trigger after a quiet spell runs at once, triggers during a run collapse into
one run right after it, and the debounce only bounds how often runs start under load. The
worker (`worker.loop`) claims due communities one at a time; a PostgreSQL advisory lock
keeps two runs for one community from overlapping across processes. The queue row is the
truth: a lost wake-up is caught by the worker's tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from matching.models import MatchingQueue

logger = logging.getLogger(__name__)

MATCHING_CHANNEL = "matching-runs"
WAKE = "matching.wake"
# Any constant tells our advisory locks apart from other users of the same database.
ADVISORY_LOCK_NAMESPACE = 7301


def schedule_matching(
    community_id: int, *, delay_seconds: float | None = None, requested_by_id: int | None = None
) -> None:
    """Mark the community due for a run soon; several triggers coalesce into one run.

    `requested_by_id`: the coordinator who asked for the run (recorded on it).
    """
    now = timezone.now()
    if delay_seconds is None:
        # The leading edge: now, or once the debounce since the last run's start has passed.
        debounce = dt.timedelta(seconds=settings.MATCHING_DEBOUNCE_SECONDS)
        due_at = Greatest(
            Value(now, output_field=DateTimeField()),
            Coalesce(
                ExpressionWrapper(F("last_started_at") + debounce, output_field=DateTimeField()),
                Value(now, output_field=DateTimeField()),
            ),
        )
    else:
        due_at = Value(now + dt.timedelta(seconds=delay_seconds), output_field=DateTimeField())
    queue = MatchingQueue.objects.filter(community_id=community_id)
    changes = {"requested_by_id": requested_by_id} if requested_by_id is not None else {}
    # Never postpone a run already due sooner; pull a later one (a retry) forward. Always
    # write the row, even when nothing moves: its lock, held to our commit, makes a worker's
    # claim wait for this change, so the run it starts sees it (a claim slipped in between
    # our write and our commit would otherwise run without it and clear the trigger).
    if not queue.update(due_at=Coalesce(Least(F("due_at"), due_at), due_at), **changes):
        MatchingQueue.objects.get_or_create(
            community_id=community_id,
            defaults={
                "due_at": now + dt.timedelta(seconds=delay_seconds or 0),
                "requested_by_id": requested_by_id,
            },
        )
    transaction.on_commit(wake_worker)


# Workers running in this very process (the embedded default's, inside daphne): each is an
# event loop and the callback that wakes it. The in-memory channel layer's queues belong to
# one event loop, and a send from another thread (a request's commit) may not wake a
# receiver waiting in that loop, so those workers are woken directly, thread-safely.
_workers_here: set[tuple[asyncio.AbstractEventLoop, Callable[[], None]]] = set()


def register_worker_here(loop: asyncio.AbstractEventLoop, wake: Callable[[], None]) -> Callable[[], None]:
    """Have `wake_worker` call `wake` in `loop`; returns the function that undoes it."""
    entry = (loop, wake)
    _workers_here.add(entry)
    return lambda: _workers_here.discard(entry)


def wake_worker() -> None:
    for loop, wake in list(_workers_here):
        with contextlib.suppress(RuntimeError):  # that loop has just closed
            loop.call_soon_threadsafe(wake)
    channel_layer = get_channel_layer()
    try:
        async_to_sync(channel_layer.send)(MATCHING_CHANNEL, {"type": WAKE})
    except ChannelFull:
        pass  # The worker is behind; it will find the due community on its own.
    except Exception:
        logger.exception("Could not wake the matching worker; its tick will find the work")


def claim_due_community(community_id: int, now: dt.datetime) -> dt.datetime | None:
    """Take a due community off the queue for a lease; only one process can win the claim.

    Returns the lease's end (pass it to `release_claim` once the run has committed), or None
    when another worker took it. A worker that dies mid-run never releases its claim: the
    community is due again when the lease ends, and another worker (or the restarted one)
    runs it. A trigger during the run moves `due_at` earlier, so the release leaves it due.
    """
    lease_ends = now + dt.timedelta(seconds=settings.MATCHING_CLAIM_SECONDS)
    claimed = MatchingQueue.objects.filter(community_id=community_id, due_at__lte=now).update(
        due_at=lease_ends, requested_by=None, last_started_at=now
    )
    return lease_ends if claimed else None


def release_claim(community_id: int, lease_ends: dt.datetime) -> None:
    """The run is done: the community is no longer due, unless a trigger came meanwhile."""
    MatchingQueue.objects.filter(community_id=community_id, due_at=lease_ends).update(due_at=None)


def due_communities(now: dt.datetime) -> list[tuple[int, int | None]]:
    """The communities due now, soonest first, each with the coordinator who asked, if any."""
    return list(
        MatchingQueue.objects.filter(due_at__lte=now)
        .order_by("due_at")
        .values_list("community_id", "requested_by_id")
    )


def seconds_until_next_due(now: dt.datetime) -> float | None:
    next_due = (
        MatchingQueue.objects.filter(due_at__isnull=False)
        .order_by("due_at")
        .values_list("due_at", flat=True)[:1]
    )
    if not next_due:
        return None
    return max(0.0, (next_due[0] - now).total_seconds())


def lock_community_for_matching(community_id: int) -> None:
    """Hold the community's matching lock until the transaction ends.

    PostgreSQL: an advisory transaction lock, so runs from several processes queue up.
    SQLite allows one writer at a time (transactions begin IMMEDIATE), which already
    serialises runs.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK_NAMESPACE, community_id])
