"""The outbox: every message to a person who is not on the site, on every channel.

Services write `OutgoingMessage` rows inside their transaction (`queue_messages`); the
worker's outbox job sends them after the commit (`send_pending_messages`), each claimed
under a row lock other workers skip, so several workers never send one message twice. A
failure is retried with exponential backoff (`OUTBOX_RETRY_SECONDS` doubling up to an
hour) until `MAX_ATTEMPTS`; then the message is `failed`, logged as an error, and the
coordinators' dashboard counts it (`failed_recently`). A channel may say "not now" (quiet
hours, a daily limit: the message waits, no attempt counted) or "never" (failed at once).
An address that never will take a message (a push subscription the browser dropped) skips
it. Adding a channel is a module in `notifications/channels/` (see its `__init__`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from matching.scheduling import wake_worker
from mutualaid.aid.states import AssignmentStatus
from notifications.channels import CHANNELS
from notifications.delivery import AddressGone, NotNow, Undeliverable
from notifications.models import OutgoingMessage

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
MAX_RETRY_SECONDS = 3600


def queue_messages(messages: list[OutgoingMessage]) -> None:
    """Save to the outbox inside the caller's transaction; wake the worker after commit."""
    if messages:
        now = timezone.now()
        for message in messages:
            message.next_attempt_at = message.next_attempt_at or now
        OutgoingMessage.objects.bulk_create(messages)
        transaction.on_commit(wake_worker)


def retry_delay(attempts: int) -> dt.timedelta:
    """How long after its `attempts`-th failure a message is tried again."""
    return dt.timedelta(seconds=min(settings.OUTBOX_RETRY_SECONDS * 2 ** (attempts - 1), MAX_RETRY_SECONDS))


def _obsolete(message: OutgoingMessage) -> str:
    """Why a waiting message is no longer worth sending, or "" if it still is."""
    proposal = message.proposal
    if proposal is not None and proposal.status != AssignmentStatus.PROPOSED:
        return f"not sent: the proposal was {proposal.status} before it went out"
    task = message.reminder_of
    if task is not None and task.status != AssignmentStatus.ACCEPTED:
        return f"not sent: the task was {task.status} before its reminder went out"
    if message.recipient is not None and not message.recipient.is_active:
        return "not sent: the account was closed before it went out"
    channel_obsolete = getattr(CHANNELS[message.channel], "obsolete", None)
    return channel_obsolete(message) if channel_obsolete else ""


def due_messages(now: dt.datetime):
    return OutgoingMessage.objects.filter(status=OutgoingMessage.Status.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


# Messages leased per short transaction: one transaction per message was a fifth of the
# worker's CPU under a stream of proposals (bench/service.py); a few at a time keeps the
# lease short enough that a crashed worker's batch is soon due again elsewhere.
CLAIM_BATCH = 10


def _claim(now: dt.datetime, tried: list[int], count: int) -> list[int]:
    """Take the next due messages for this worker: a short transaction that leases them, so
    other workers leave them alone while they are being sent (the sends themselves hold no
    lock: on SQLite a transaction open during a slow send would stop every other writer)."""
    with transaction.atomic():
        claimed = list(
            due_messages(now)
            .select_for_update(skip_locked=True, of=("self",))
            .exclude(pk__in=tried)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:count]
        )
        if claimed:
            OutgoingMessage.objects.filter(pk__in=claimed).update(
                next_attempt_at=now + dt.timedelta(seconds=settings.OUTBOX_CLAIM_SECONDS)
            )
    return claimed


def send_pending_messages(*, limit: int = 50, now: dt.datetime | None = None) -> int:
    """Send what is due in the outbox; returns how many went out.

    A channel that takes every connection and never answers would hold the worker for its
    timeout per message, so once a round has spent that long the rest waits for the next
    round (the outbox runs beside matching, never in its way).
    """
    sent = 0
    tried: list[int] = []
    budget_ends = time.monotonic() + max(1, settings.EMAIL_TIMEOUT or 10)
    while len(tried) < limit:
        moment = now or timezone.now()
        claimed = _claim(moment, tried, min(CLAIM_BATCH, limit - len(tried)))
        if not claimed:
            break
        for position, message_id in enumerate(claimed):
            if tried and time.monotonic() > budget_ends:
                logger.warning("Sending is slow; the rest of the outbox waits for the next round")
                # Due again at once (for this worker's next round or another's), not after
                # the lease.
                OutgoingMessage.objects.filter(pk__in=claimed[position:]).update(next_attempt_at=moment)
                return sent
            tried.append(message_id)
            sent += _send_one(message_id, moment)
    return sent


def _send_one(message_id: int, now: dt.datetime) -> int:
    """Send one claimed message and record the outcome; 1 if it went out."""
    message = OutgoingMessage.objects.select_related("proposal", "reminder_of", "recipient", "community").get(
        pk=message_id
    )
    obsolete = _obsolete(message)
    if obsolete:
        message.status = OutgoingMessage.Status.SKIPPED
        message.last_error = obsolete[:255]
        message.save(update_fields=["status", "last_error"])
        return 0
    channel = CHANNELS[message.channel]
    message.attempts += 1
    try:
        wait = channel.wait(message, now) if hasattr(channel, "wait") else None
        if wait is not None:
            raise wait
        channel.send(message)
    except NotNow as wait:
        message.attempts -= 1
        message.next_attempt_at = wait.until
        message.last_error = wait.reason[:255]
        message.save(update_fields=["last_error", "next_attempt_at"])
        return 0
    except Undeliverable as error:
        message.status = OutgoingMessage.Status.FAILED
        message.last_error = str(error)[:255]
        logger.error("Outbox: %s message %s refused: %s", message.channel, message.pk, error)
        message.save(update_fields=["attempts", "last_error", "status"])
        return 0
    except AddressGone as gone:
        message.status = OutgoingMessage.Status.SKIPPED
        message.last_error = str(gone)[:255]
        message.save(update_fields=["attempts", "status", "last_error"])
        return 0
    except Exception as error:
        message.last_error = f"{type(error).__name__}: {error}"[:255]
        if message.attempts >= MAX_ATTEMPTS:
            message.status = OutgoingMessage.Status.FAILED
            logger.error(
                "Outbox: %s message %s failed for good after %d attempts: %s",
                message.channel,
                message.pk,
                message.attempts,
                error,
            )
        else:
            message.next_attempt_at = now + retry_delay(message.attempts)
            logger.warning(
                "Outbox: %s message %s not sent (attempt %d), next try at %s: %s",
                message.channel,
                message.pk,
                message.attempts,
                message.next_attempt_at.isoformat(timespec="seconds"),
                error,
            )
        message.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
        return 0
    message.status = OutgoingMessage.Status.SENT
    message.sent_at = now
    message.save(update_fields=["attempts", "status", "sent_at", "provider_id", "delivery_status"])
    return 1


def failed_recently(*, community_id: int, hours: int = 24) -> dict:
    """What coordinators are alerted to: messages to their community given up on lately."""
    since = timezone.now() - dt.timedelta(hours=hours)
    failed = (
        OutgoingMessage.objects.filter(status=OutgoingMessage.Status.FAILED, created_at__gte=since)
        .filter(Q(community_id=community_id) | Q(recipient__community_id=community_id))
        .order_by("-pk")
    )
    last = failed.values_list("channel", "last_error").first()
    return {
        "count": failed.count(),
        "last_channel": last[0] if last else "",
        "last_error": last[1] if last else "",
    }


def waiting_for_daily_cap(*, community_id: int) -> int:
    """Texts of a community that the daily limit holds back until tomorrow."""
    from notifications.channels.sms import CAP_REASON

    return OutgoingMessage.objects.filter(
        community_id=community_id,
        channel=OutgoingMessage.Channel.SMS,
        status=OutgoingMessage.Status.PENDING,
        last_error__startswith=CAP_REASON,
    ).count()
