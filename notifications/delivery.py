"""What a channel's `send` raises besides an ordinary failure (which the outbox retries)."""

from __future__ import annotations

import datetime as dt


class NotNow(Exception):
    """Not to be sent before `until` (quiet hours, a daily limit): the outbox waits without
    counting an attempt, and keeps `reason` where coordinators see it."""

    def __init__(self, until: dt.datetime, reason: str) -> None:
        super().__init__(reason)
        self.until = until
        self.reason = reason


class Undeliverable(Exception):
    """The message can never go out as it is (the provider refused it): failed at once."""


class AddressGone(Exception):
    """The address will never take the message (a push subscription the push service
    dropped): skipped, not retried, and not counted as a failure of the service."""
