"""The worker's jobs: what runs, how often, and the counts kept of each.

Every periodic job of the service lives here (no cron, no timers): matching when a
community is due, proposal expiry, requests whose volunteer has not answered for a while
(matching asks another beside), requests whose every time passed, the outbox, tomorrow's
tasks' reminders, recurring help's occurrences, tasks for several volunteers still short a
day before, the daily purge of personal data, and the heartbeat. Each is a plain function
run in a thread of its own, timed and counted.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from matching.services import ask_beside_silent_proposals, run_due_matching
from mutualaid.aid.personal_data import personal_data_purge
from mutualaid.aid.services import (
    expire_overdue_proposals,
    expire_requests_whose_time_passed,
    send_task_reminders,
    tell_short_staffed_requests,
)
from mutualaid.aid.services.series import file_due_occurrences
from notifications.outbox import send_pending_messages
from worker.models import PeriodicJob, WorkerHeartbeat

logger = logging.getLogger(__name__)


@dataclass
class JobStats:
    """How often a job ran, failed, and how long it took (reported in the heartbeat)."""

    runs: int = 0
    failures: int = 0
    seconds: float = 0.0
    last_seconds: float = 0.0
    last_error: str = ""
    last_finished_at: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Job:
    name: str
    run: Callable[[], object]
    stats: JobStats = field(default_factory=JobStats)

    def __call__(self) -> object:
        """Run once, timed and counted; an error is logged and counted, never raised."""
        started = time.monotonic()
        try:
            return self.run()
        except Exception as error:
            self.stats.failures += 1
            self.stats.last_error = f"{type(error).__name__}: {error}"[:255]
            logger.exception("Worker job %s failed; it runs again at its next turn", self.name)
            return None
        finally:
            self.stats.runs += 1
            self.stats.last_seconds = time.monotonic() - started
            self.stats.seconds += self.stats.last_seconds
            self.stats.last_finished_at = timezone.now().isoformat(timespec="seconds")


def claim_periodic(name: str, every: dt.timedelta, now: dt.datetime | None = None) -> bool:
    """Whether this worker runs the shared job `name` now: only one worker wins each period."""
    now = now or timezone.now()
    PeriodicJob.objects.get_or_create(name=name, defaults={"next_run_at": now})
    return bool(PeriodicJob.objects.filter(name=name, next_run_at__lte=now).update(next_run_at=now + every))


def run_periodic(
    name: str,
    every: dt.timedelta,
    now: dt.datetime | None,
    work: Callable[[], int],
    *,
    outcome: str,
    logged: str,
    log_nothing_done: bool = False,
) -> int | None:
    """The shared job `name`, once per period across all workers: when this worker claims
    the period (`claim_periodic`), run `work`, record its outcome and log it; None when not
    this one's turn. `outcome` and `logged` hold one `%d`, for the count `work` returns;
    nothing is logged when that count is 0, unless `log_nothing_done`."""
    if not claim_periodic(name, every, now):
        return None
    done = work()
    PeriodicJob.objects.filter(name=name).update(last_run_at=timezone.now(), last_outcome=outcome % done)
    if done or log_nothing_done:
        logger.info(logged, done)
    return done


def purge_personal_data_daily() -> int | None:
    """The retention purge, once a day across all workers; None when not this one's turn."""
    return run_periodic(
        "purge_personal_data",
        dt.timedelta(days=1),
        None,
        lambda: personal_data_purge(older_than_days=settings.PERSONAL_DATA_RETENTION_DAYS),
        outcome="%d requests forgotten",
        logged="Personal data purge: %d requests forgotten",
        log_nothing_done=True,
    )


REMINDERS_EVERY = dt.timedelta(minutes=10)


def send_reminders(now: dt.datetime | None = None) -> int | None:
    """Tomorrow's tasks' reminders, looked for once per period across all workers; None
    when not this one's turn. Each reminder goes once even if two workers ran at once."""
    return run_periodic(
        "task_reminders",
        REMINDERS_EVERY,
        now,
        lambda: send_task_reminders(now=now),
        outcome="%d reminders queued",
        logged="Queued reminders of %d tasks for tomorrow",
    )


TIME_PASSED_EVERY = dt.timedelta(minutes=10)


def expire_passed_requests(now: dt.datetime | None = None) -> int | None:
    """Requests whose every chosen time passed, looked for once per period across all
    workers (parts of the day end on the hour); None when not this one's turn."""
    return run_periodic(
        "expire_passed_requests",
        TIME_PASSED_EVERY,
        now,
        lambda: expire_requests_whose_time_passed(now=now),
        outcome="%d requests expired",
        logged="Expired %d requests whose every time passed",
    )


RECURRING_EVERY = dt.timedelta(minutes=10)


def file_recurring_help(now: dt.datetime | None = None) -> int | None:
    """Recurring help's occurrences due in the coming `RECURRING_HELP_DAYS_AHEAD` days, looked
    for once per period across all workers; None when not this one's turn. Two workers at
    once still file one occurrence per day (the series' lock, then a unique constraint)."""
    return run_periodic(
        "recurring_help",
        RECURRING_EVERY,
        now,
        lambda: file_due_occurrences(timezone.localdate(now)),
        outcome="%d occurrences filed",
        logged="Filed %d occurrences of recurring help",
    )


SHORT_STAFFED_EVERY = dt.timedelta(minutes=10)


def tell_short_staffed(now: dt.datetime | None = None) -> int | None:
    """Tasks for several volunteers still short of people a day before they start, looked
    for once per period across all workers; None when not this one's turn."""
    return run_periodic(
        "short_staffed",
        SHORT_STAFFED_EVERY,
        now,
        lambda: tell_short_staffed_requests(now=now),
        outcome="%d short-staffed tasks told",
        logged="Told of %d tasks still short of volunteers",
    )


def expire_proposals() -> int:
    expired = expire_overdue_proposals()
    if expired:
        logger.info("Expired %d unanswered proposals", expired)
    return expired


def beat(name: str, started_at: dt.datetime, jobs: list[Job]) -> None:
    """Say this worker is alive, with its jobs' counts (read by /readyz and the metrics)."""
    WorkerHeartbeat.objects.update_or_create(
        name=name,
        defaults={
            "started_at": started_at,
            "beat_at": timezone.now(),
            "jobs": {job.name: job.stats.as_dict() for job in jobs},
        },
    )


def latest_heartbeat_age_seconds() -> float | None:
    """Seconds since the youngest worker's heartbeat, or None when no worker ever beat."""
    latest = WorkerHeartbeat.objects.order_by("-beat_at").values_list("beat_at", flat=True).first()
    return None if latest is None else (timezone.now() - latest).total_seconds()


def make_jobs() -> dict[str, Job]:
    return {
        "matching": Job("matching", run_due_matching),
        "outbox": Job("outbox", send_pending_messages),
        "expiry": Job("expiry", expire_proposals),
        "ask_beside": Job("ask_beside", ask_beside_silent_proposals),
        "purge": Job("purge", purge_personal_data_daily),
        "reminders": Job("reminders", send_reminders),
        "time_passed": Job("time_passed", expire_passed_requests),
        "recurring": Job("recurring", file_recurring_help),
        "short_staffed": Job("short_staffed", tell_short_staffed),
    }
