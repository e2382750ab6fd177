"""Messages waiting to go out, on every channel: written with the change, sent by the
worker (`notifications.outbox`), retried with backoff, their delivery recorded."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class OutgoingMessage(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", _("e-mail")
        PUSH = "push", _("push notification")
        SMS = "sms", _("text message")

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting to be sent")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed: gave up after several tries")
        SKIPPED = "skipped", _("not sent: no longer needed")

    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.EMAIL)
    # Empty for a caller without an account (texted at the phone number the coordinator took).
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # An e-mail address, a phone number, a push endpoint: whatever the channel sends to.
    to_address = models.CharField(max_length=500)
    subject = models.CharField(max_length=200)
    # The text; for a push notification the JSON the service worker shows (title, body, url).
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # When the worker may try (again): now for a new message, later after each failure.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)
    # A proposal's message: not sent once the proposal is answered, expired or cancelled (or
    # was accepted at once, by phone), since it asks the volunteer to accept or decline.
    proposal = models.ForeignKey(
        "aid.Assignment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A reminder of an accepted task: not sent once the task is given back, done or cancelled.
    reminder_of = models.ForeignKey(
        "aid.Assignment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # The request it is about (coordinators see per request what was sent), and the
    # community whose daily text limit and time zone apply.
    help_request = models.ForeignKey(
        "aid.HelpRequest", null=True, blank=True, on_delete=models.CASCADE, related_name="outgoing_messages"
    )
    community = models.ForeignKey(
        "aid.Community", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Goes out in quiet hours too: an urgent request, or the answer to a text just received.
    urgent = models.BooleanField(default=False)
    # The provider's id for the message and the last delivery status it reported.
    provider_id = models.CharField(max_length=64, blank=True, db_index=True)
    delivery_status = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name = _("outgoing message")
        verbose_name_plural = _("outgoing messages")
        ordering = ["created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due")]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to_address}: {self.subject}"


class PushSubscription(models.Model):
    """One browser in which a person turned on notifications (the Push API's subscription).

    The endpoint is the push service's address for that browser; the keys encrypt what is
    sent to it (RFC 8291), so the push service cannot read it. Removed when the person turns
    notifications off, or when the push service says the endpoint is gone (404/410).
    """

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    # At most as long as an outbox message's address, which carries it.
    endpoint = models.URLField(max_length=500, unique=True)
    p256dh = models.CharField(max_length=100)  # the browser's public key, base64url
    auth = models.CharField(max_length=50)  # the shared authentication secret, base64url
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")

    def __str__(self) -> str:
        return f"{self.person} at {self.endpoint[:60]}"

    def as_subscription_info(self) -> dict:
        """The subscription as the Push API's JSON has it (what pywebpush takes)."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


class TaskReminder(models.Model):
    """That an accepted task's reminder went out: one per assignment, never two (the
    unique key holds it when several workers look at once)."""

    assignment = models.OneToOneField("aid.Assignment", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("task reminder")
        verbose_name_plural = _("task reminders")

    def __str__(self) -> str:
        return f"reminder for assignment {self.assignment_id}"
