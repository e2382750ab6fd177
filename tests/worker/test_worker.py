"""The worker: its jobs side by side, matching at the leading edge, the shared daily purge,
the heartbeat, and surviving a channel layer that goes away."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from django.core import mail
from django.utils import timezone

from matching.models import MatchingQueue
from mutualaid.aid.models import HelpRequest
from tests.conftest import post_request
from worker import jobs
from worker.jobs import Job, claim_periodic, latest_heartbeat_age_seconds
from worker.loop import run_worker
from worker.models import PeriodicJob, WorkerHeartbeat


async def status_of(help_request: HelpRequest, wanted: str, seconds: float = 5.0) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = (await HelpRequest.objects.aget(pk=help_request.pk)).status
        if status == wanted:
            return status
        await asyncio.sleep(0.02)
    return status


@pytest.mark.django_db(transaction=True)
async def test_the_worker_proposes_a_new_request_at_once_not_after_a_debounce(
    citizen, community, shopping, volunteer, settings
):
    settings.MATCHING_DEBOUNCE_SECONDS = 5  # bounds how often runs start, never delays the first
    await MatchingQueue.objects.aupdate(due_at=None, last_started_at=None)  # a quiet spell
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(stop))
    try:
        await asyncio.sleep(0.2)
        posted = time.monotonic()
        help_request = await sync_to_async(post_request)(citizen, community, shopping)
        assert await status_of(help_request, "proposed") == "proposed"
        assert time.monotonic() - posted < 2.5
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=30)  # stopping never hangs


@pytest.mark.django_db(transaction=True)
async def test_a_mail_server_that_hangs_never_delays_matching(
    citizen, community, shopping, volunteer, monkeypatch
):
    volunteer.email = "jan@example.org"
    await volunteer.asave()
    release = threading.Event()

    def hanging_mail_server(*args, **kwargs):
        release.wait(timeout=20)

    monkeypatch.setattr("notifications.channels.email.send_mail", hanging_mail_server)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(stop))
    try:
        first = await sync_to_async(post_request)(citizen, community, shopping)
        assert await status_of(first, "proposed") == "proposed"  # its proposal mail now hangs
        await asyncio.sleep(0.3)
        volunteer_offer = await sync_to_async(lambda: volunteer.volunteer_offer)()
        volunteer_offer.capacity = 2
        await volunteer_offer.asave()
        posted = time.monotonic()
        second = await sync_to_async(post_request)(citizen, community, shopping)
        assert await status_of(second, "proposed") == "proposed"
        assert time.monotonic() - posted < 5  # not held up by the hanging mail (nor its lock)
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(worker, timeout=30)  # stopping never hangs


@pytest.mark.django_db(transaction=True)
async def test_the_worker_keeps_working_while_its_channel_layer_is_down(
    citizen, community, shopping, volunteer, settings, monkeypatch
):
    settings.MATCHING_TICK_SECONDS = 0.5

    class BrokenLayer:
        async def receive(self, channel):
            raise ConnectionError("Redis is restarting")

        async def send(self, channel, message):
            raise ConnectionError("Redis is restarting")

    monkeypatch.setattr("worker.loop.get_channel_layer", BrokenLayer)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(stop))
    try:
        help_request = await sync_to_async(post_request)(citizen, community, shopping)
        assert await status_of(help_request, "proposed") == "proposed"  # found on the tick
        assert not worker.done()
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=30)  # stopping never hangs


@pytest.mark.django_db(transaction=True)
async def test_the_worker_beats_with_its_jobs_counts(community):
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(stop))
    try:
        for _ in range(100):
            if await WorkerHeartbeat.objects.aexists():
                break
            await asyncio.sleep(0.05)
        beat = await WorkerHeartbeat.objects.aget()
        assert set(beat.jobs) == {
            "matching",
            "outbox",
            "expiry",
            "ask_beside",
            "purge",
            "reminders",
            "time_passed",
            "recurring",
            "short_staffed",
        }
        assert beat.jobs["matching"]["runs"] >= 1
        assert await sync_to_async(latest_heartbeat_age_seconds)() < 5
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=30)  # stopping never hangs


def test_no_heartbeat_means_no_age(db):
    assert latest_heartbeat_age_seconds() is None


def test_a_shared_periodic_job_runs_once_per_period_whichever_worker_asks(db):
    now = timezone.now()
    day = dt.timedelta(days=1)
    assert claim_periodic("purge_personal_data", day, now)
    assert not claim_periodic("purge_personal_data", day, now)  # a second worker, same moment
    assert not claim_periodic("purge_personal_data", day, now + dt.timedelta(hours=23))
    assert claim_periodic("purge_personal_data", day, now + day)


def test_the_daily_purge_runs_from_the_worker_and_records_its_outcome(db, monkeypatch):
    forgotten = []
    monkeypatch.setattr(
        jobs, "personal_data_purge", lambda older_than_days: forgotten.append(older_than_days) or 3
    )
    assert jobs.purge_personal_data_daily() == 3
    assert jobs.purge_personal_data_daily() is None  # not again today
    assert forgotten == [180]
    assert PeriodicJob.objects.get(name="purge_personal_data").last_outcome == "3 requests forgotten"


@pytest.mark.parametrize(
    ("job", "name", "outcome"),
    [
        (jobs.send_reminders, "task_reminders", "0 reminders queued"),
        (jobs.expire_passed_requests, "expire_passed_requests", "0 requests expired"),
        (jobs.file_recurring_help, "recurring_help", "0 occurrences filed"),
        (jobs.tell_short_staffed, "short_staffed", "0 short-staffed tasks told"),
    ],
)
def test_each_ten_minute_job_runs_once_per_period_and_records_its_outcome(db, caplog, job, name, outcome):
    now = timezone.now()
    with caplog.at_level("INFO", logger="worker.jobs"):
        assert job(now=now) == 0
        assert job(now=now + dt.timedelta(minutes=9)) is None  # another worker, same period
        assert PeriodicJob.objects.get(name=name).last_outcome == outcome
        assert job(now=now + dt.timedelta(minutes=10)) == 0  # the next period
    assert not [record for record in caplog.records if record.name == "worker.jobs"]  # nothing done: no line


def test_a_failing_job_is_counted_and_never_raises(caplog):
    def broken():
        raise RuntimeError("database away")

    job = Job("matching", broken)
    assert job() is None
    assert (job.stats.runs, job.stats.failures) == (1, 1)
    assert job.stats.last_error == "RuntimeError: database away"
    assert "Worker job matching failed" in caplog.text


def test_the_old_command_name_still_runs_the_worker():
    from django.core.management import load_command_class

    alias = load_command_class("matching", "matching_worker")
    assert type(alias).__mro__[1].__module__ == "worker.management.commands.worker"
    assert mail.outbox == []
