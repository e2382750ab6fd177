"""What matching remembers: when a community is due for a run, and what each run did."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class MatchingQueue(models.Model):
    """A community waiting for a matching run (debounced: several triggers, one run)."""

    community = models.OneToOneField("aid.Community", on_delete=models.CASCADE, related_name="matching_queue")
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # When the last run was claimed: the next starts no sooner than MATCHING_DEBOUNCE_SECONDS after.
    last_started_at = models.DateTimeField(null=True, blank=True)
    # A coordinator's "Run matching now" is recorded as theirs on the run it causes.
    requested_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("matching queue entry")
        verbose_name_plural = _("matching queue")

    def __str__(self) -> str:
        return f"{self.community_id} due {self.due_at}"


class MatchingRun(models.Model):
    """One run of the engine for a community: the record coordinators can read back."""

    class Trigger(models.TextChoices):
        AUTOMATIC = "automatic", _("automatic")
        COORDINATOR = "coordinator", _("by a coordinator")
        COMMAND = "command", _("from the command line")

    community = models.ForeignKey("aid.Community", on_delete=models.CASCADE, related_name="matching_runs")
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    started_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    seconds = models.FloatField(default=0)
    open_requests = models.PositiveIntegerField(default=0)
    available_volunteers = models.PositiveIntegerField(default=0)
    proposed = models.PositiveIntegerField(default=0)
    total_km = models.FloatField(default=0)
    unassigned_by_reason = models.JSONField(default=dict)
    certificate = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("matching run")
        verbose_name_plural = _("matching runs")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.community} {self.started_at:%Y-%m-%d %H:%M}: {self.proposed} proposed"
