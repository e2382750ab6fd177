"""The background worker: matching runs, proposal expiry and the e-mail outbox.

A loop that waits for wake-ups on the channel layer, or its tick.

Production runs it as its own process (`manage.py matching_worker`, any number of them,
sharing Redis and PostgreSQL). The embedded default has a single daphne process and an
in-memory channel layer, so `mutualaid.asgi` starts the same loop inside daphne's event
loop: the events its runs publish then reach the sockets that process holds.
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from matching.scheduling import MATCHING_CHANNEL
from matching.services import run_due_matching
from notifications.emails import send_pending_emails

logger = logging.getLogger(__name__)


async def run_matching_worker(stop: asyncio.Event | None = None) -> None:
    """Run due matching and expiries until `stop` is set (forever when None)."""
    channel_layer = get_channel_layer()
    tick = settings.MATCHING_TICK_SECONDS
    wait = 0.0
    while stop is None or not stop.is_set():
        if wait > 0:
            try:
                # A wake-up lost to cancellation is harmless: the queue table is the truth.
                await asyncio.wait_for(channel_layer.receive(MATCHING_CHANNEL), timeout=wait)
                # Let a burst of triggers settle into one run.
                await asyncio.sleep(min(settings.MATCHING_DEBOUNCE_SECONDS, tick))
            except TimeoutError:
                pass
        try:
            next_due = await database_sync_to_async(run_due_matching, thread_sensitive=False)()
        except Exception:
            logger.exception("The matching worker's round failed; trying again at the next tick")
            next_due = None
        try:
            await database_sync_to_async(send_pending_emails, thread_sensitive=False)()
        except Exception:
            logger.exception("Sending e-mails failed; the outbox keeps them for the next round")
        wait = tick if next_due is None else max(0.05, min(next_due, tick))
