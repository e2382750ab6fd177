"""The worker's loop: matching, the outbox and the periodic jobs side by side.

Production runs it as its own process (`manage.py worker`, any number of them, sharing
Redis and PostgreSQL). The embedded default has a single daphne process and an in-memory
channel layer, so `mutualaid.asgi` starts the same loop inside daphne's event loop: the
events its runs publish then reach the sockets that process holds.

Three tasks never wait for each other: matching (woken at once by a trigger, the leading
edge, see `matching.scheduling`), the outbox (a slow mail server never delays matching),
and the periodic jobs (proposal expiry, the daily purge, the heartbeat). Each job runs in a
thread of its own. The channel layer only carries wake-ups: when Redis is away the loop
keeps going on its ticks and listens again once Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from matching.scheduling import MATCHING_CHANNEL, register_worker_here
from worker.jobs import Job, beat, make_jobs

logger = logging.getLogger(__name__)

OUTBOX_BATCH = 50
HEARTBEAT_SECONDS = 10
PURGE_CHECK_SECONDS = 600
REMINDERS_CHECK_SECONDS = 60
SHUTDOWN_SECONDS = 10
LISTEN_RETRY_SECONDS = 1.0


async def _run(job: Job):
    return await database_sync_to_async(job, thread_sensitive=False)()


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=seconds)


async def _listen(wakes: list[asyncio.Event]) -> None:
    """Turn wake-ups on the channel layer into events; survive the layer going away.

    While Redis is away the worker goes on with its ticks and tries to listen again every
    LISTEN_RETRY_SECONDS, so wake-ups are heard again within that of Redis coming back.
    """
    channel_layer = get_channel_layer()
    failing_since = None
    while True:
        try:
            await channel_layer.receive(MATCHING_CHANNEL)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if failing_since is None:
                failing_since = time.monotonic()
                logger.warning(
                    "Worker cannot hear wake-ups (%s); working on its ticks, listening again every %.0f s",
                    error,
                    LISTEN_RETRY_SECONDS,
                )
            await asyncio.sleep(LISTEN_RETRY_SECONDS)
            continue
        if failing_since is not None:
            logger.info("Worker hears wake-ups again after %.0f s", time.monotonic() - failing_since)
            failing_since = None
        for wake in wakes:
            wake.set()


async def _matching(job: Job, wake: asyncio.Event) -> None:
    tick = settings.MATCHING_TICK_SECONDS
    while True:
        wake.clear()  # a trigger during the run sets it again: one more run right after
        next_due = await _run(job)
        wait = tick if next_due is None else max(0.05, min(next_due, tick))
        await _wait(wake, wait)


async def _outbox(job: Job, wake: asyncio.Event) -> None:
    # Retries come due on their own: look at least this often.
    tick = min(settings.MATCHING_TICK_SECONDS, 10.0)
    while True:
        wake.clear()
        sent = await _run(job)
        if sent != OUTBOX_BATCH:  # a full batch: more is waiting, go on at once
            await _wait(wake, tick)


async def _periodic(jobs: dict[str, Job], name: str, started_at) -> None:
    every = {
        "expiry": settings.MATCHING_TICK_SECONDS,
        "ask_beside": settings.MATCHING_TICK_SECONDS,  # one query; schedules matching if needed
        "purge": PURGE_CHECK_SECONDS,  # the job itself runs once a day across all workers
        "reminders": REMINDERS_CHECK_SECONDS,  # and this once per 10 minutes across all workers
        "time_passed": REMINDERS_CHECK_SECONDS,  # the same: claimed once per 10 minutes
        "recurring": REMINDERS_CHECK_SECONDS,  # the same: recurring help's occurrences
        "short_staffed": REMINDERS_CHECK_SECONDS,  # the same
    }
    last = dict.fromkeys(every, 0.0)
    last_beat = 0.0
    while True:
        now = time.monotonic()
        for job_name, seconds in every.items():
            if now - last[job_name] >= seconds:
                last[job_name] = now
                await _run(jobs[job_name])
        if now - last_beat >= HEARTBEAT_SECONDS:
            last_beat = now
            try:
                await database_sync_to_async(beat, thread_sensitive=False)(
                    name, started_at, list(jobs.values())
                )
            except Exception:
                logger.exception("The worker's heartbeat could not be written; trying again")
        await asyncio.sleep(1.0)


async def run_worker(stop: asyncio.Event | None = None) -> None:
    """Run every job until `stop` is set (forever when None)."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    started_at = timezone.now()
    jobs = make_jobs()
    matching_wake, outbox_wake = asyncio.Event(), asyncio.Event()

    def wake() -> None:
        matching_wake.set()
        outbox_wake.set()

    forget = register_worker_here(asyncio.get_running_loop(), wake)
    tasks = [
        asyncio.create_task(_listen([matching_wake, outbox_wake]), name="worker-listen"),
        asyncio.create_task(_matching(jobs["matching"], matching_wake), name="worker-matching"),
        asyncio.create_task(_outbox(jobs["outbox"], outbox_wake), name="worker-outbox"),
        asyncio.create_task(_periodic(jobs, name, started_at), name="worker-periodic"),
    ]
    logger.info("Worker %s started: %s", name, ", ".join(jobs))
    try:
        if stop is None:
            await asyncio.gather(*tasks)
        else:
            await stop.wait()
    finally:
        forget()
        for task in tasks:
            task.cancel()
        # A job's thread cannot be interrupted: give running jobs a while to end, never forever.
        _done, still_running = await asyncio.wait(tasks, timeout=SHUTDOWN_SECONDS)
        if still_running:
            logger.warning(
                "Worker stopped with %s still running", ", ".join(task.get_name() for task in still_running)
            )
