"""The channels the outbox sends on: one module each, with `send(message)` that raises when
the message could not be delivered. Adding a channel is a module and an entry here (and a
choice in `OutgoingMessage.Channel`)."""

from __future__ import annotations

from collections.abc import Callable

from notifications.channels import email, push
from notifications.models import OutgoingMessage

CHANNELS: dict[str, Callable[[OutgoingMessage], None]] = {
    OutgoingMessage.Channel.EMAIL: email.send,
    OutgoingMessage.Channel.PUSH: push.send,
}
