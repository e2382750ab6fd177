"""E-mails waiting to go out: written with the change, sent by the worker, retried."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class OutgoingEmail(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    to_address = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)
    # A proposal's e-mail: not sent once the proposal is answered, expired or cancelled (or
    # was accepted at once, by phone), since it asks the volunteer to accept or decline.
    proposal = models.ForeignKey(
        "aid.Assignment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("outgoing e-mail")
        verbose_name_plural = _("outgoing e-mails")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.to_address}: {self.subject}"
