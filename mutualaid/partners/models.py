"""Partner organisations (a city's 311 desk, a social service...) and their API keys.

A key is shown once, when it is made; only its prefix and a SHA-256 hash of the whole
token are stored (the token is 32 random bytes, so a fast hash is enough: there is
nothing to guess). Requests a partner files are phoned-in style requests (no account)
marked with the organisation; see `docs/api.md`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mutualaid.aid.models import Community


class PartnerOrganisation(models.Model):
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="partners")
    name = models.CharField(_("name"), max_length=120)
    # The account partner requests are filed by (created_by, the history's actor): inactive,
    # without a password and not a coordinator, so nobody can sign in as it.
    system_user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("partner organisation")
        verbose_name_plural = _("partner organisations")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["community", "name"], name="unique_partner_name")]

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    organisation = models.ForeignKey(PartnerOrganisation, on_delete=models.PROTECT, related_name="api_keys")
    prefix = models.CharField(_("key starts with"), max_length=16)
    secret_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.organisation})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
