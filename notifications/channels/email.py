"""E-mail, through Django's configured backend (EMAIL_BACKEND: console by default, SMTP in
production)."""

from __future__ import annotations

from django.core.mail import send_mail

from notifications.models import OutgoingMessage


def send(message: OutgoingMessage) -> None:
    send_mail(message.subject, message.body, None, [message.to_address], fail_silently=False)
