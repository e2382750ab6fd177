"""The channels the outbox sends on, one module each. A channel module has:

- `NAME`: its `OutgoingMessage.Channel` value;
- `compose(notice) -> OutgoingMessage | None`: the message it sends for a notice
  (`notifications.notice.Notice`), in the person's language, or None when the person did
  not choose this channel or the channel does not carry this kind of change;
- `send(message)`: deliver one message, raising when it could not (the outbox retries;
  `notifications.delivery.NotNow` and `Undeliverable` say "later" and "never");
- optionally `obsolete(message) -> str`: why a waiting message is no longer to be sent;
- optionally `wait(message, now) -> NotNow | None`: why and until when it must wait;
- optionally `compose_all(notices) -> list[OutgoingMessage]` instead of `compose`, when a
  channel has one message per device and looks them up once for a batch (push).

Adding a channel is its module and its name below (and its `OutgoingMessage.Channel` choice).
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

CHANNEL_MODULES = ("email", "sms", "push")

CHANNELS: dict[str, ModuleType] = {}
for _module_name in CHANNEL_MODULES:
    _module = import_module(f"notifications.channels.{_module_name}")
    CHANNELS[_module.NAME] = _module
