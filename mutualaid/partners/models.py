"""Partner organisations (a city's 311 desk, a social service...), their API keys and
their referrers.

A key is shown once, when it is made; only its prefix and a SHA-256 hash of the whole
token are stored (the token is 32 random bytes, so a fast hash is enough: there is
nothing to guess). Requests a partner files are phoned-in style requests (no account)
marked with the organisation; see `docs/api.md`.

A referrer (a GP, a social worker) is a person of an organisation who files requests for
neighbours on the site: a `Referrer` row next to their account, which is no citizen's or
volunteer's (it has no community of its own). Each request they file has a `Referral`:
who referred it, and who recorded the neighbour's consent when.
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
    # Deactivated by a coordinator: its referrers cannot sign in, its keys are revoked.
    deactivated_at = models.DateTimeField(_("deactivated"), null=True, blank=True)

    class Meta:
        verbose_name = _("partner organisation")
        verbose_name_plural = _("partner organisations")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["community", "name"], name="unique_partner_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.deactivated_at is None


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


class Referrer(models.Model):
    """The role of an account that files requests for an organisation's neighbours."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referrer")
    organisation = models.ForeignKey(PartnerOrganisation, on_delete=models.PROTECT, related_name="referrers")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("joined"), auto_now_add=True)
    deactivated_at = models.DateTimeField(_("deactivated"), null=True, blank=True)

    class Meta:
        verbose_name = _("referrer")
        verbose_name_plural = _("referrers")
        ordering = ["organisation", "user__first_name", "user__last_name", "pk"]

    def __str__(self) -> str:
        return f"{self.user.display_name} ({self.organisation})"

    @property
    def is_active(self) -> bool:
        return self.deactivated_at is None and self.organisation.is_active and self.user.is_active


class ReferrerInvitation(models.Model):
    """An e-mailed link to become a referrer; only a hash of its token is stored."""

    organisation = models.ForeignKey(
        PartnerOrganisation, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(_("e-mail"))
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)

    class Meta:
        verbose_name = _("referrer invitation")
        verbose_name_plural = _("referrer invitations")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.email} ({self.organisation})"


class Referral(models.Model):
    """Who referred a request, and the neighbour's consent to it."""

    help_request = models.OneToOneField("aid.HelpRequest", on_delete=models.CASCADE, related_name="referral")
    organisation = models.ForeignKey(PartnerOrganisation, on_delete=models.PROTECT, related_name="referrals")
    referrer = models.ForeignKey(Referrer, on_delete=models.PROTECT, related_name="referrals")
    # The referrer ticked "the neighbour agreed"; who and when, for the record.
    consent_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    consent_recorded_at = models.DateTimeField(_("consent recorded"))

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-help_request__created_at", "-pk"]

    def __str__(self) -> str:
        return f"#{self.help_request_id} ({self.organisation})"
