"""Live sockets follow the person's session: logging out closes every socket they hold."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from notifications.events import close_live_sockets


@receiver(user_logged_out)
def close_sockets_on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        close_live_sockets(user_id=user.pk)
