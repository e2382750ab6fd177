"""People: one user model for citizens, volunteers and coordinators.

A person is a citizen when they post requests and a volunteer when they have a
VolunteerOffer; both roles can coexist. Coordinators are staff of exactly one community.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField


class User(AbstractUser):
    community = models.ForeignKey(
        "aid.Community",
        verbose_name=_("community"),
        on_delete=models.PROTECT,
        related_name="members",
        null=True,
        blank=True,
    )
    # E.164 ("+32470123456"); typed without a country code it is read as Belgian
    # (PHONENUMBER_DEFAULT_REGION).
    phone = PhoneNumberField(_("phone"), blank=True)
    # A number from before numbers were checked that could not be read: kept here, for a
    # coordinator to correct (the admin's people list filters on it), instead of lost.
    phone_to_check = models.CharField(_("phone number to check"), max_length=32, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=8, choices=settings.LANGUAGES, default="nl"
    )
    email_notifications = models.BooleanField(
        _("e-mail me about my tasks"),
        default=True,
        help_text=_("New proposals for volunteers; acceptance and completion for requesters."),
    )
    sms_notifications = models.BooleanField(
        _("text me about my tasks"),
        default=False,
        help_text=_("Proposals by text message, answered with YES or NO. Needs a mobile number."),
    )
    is_coordinator = models.BooleanField(
        _("coordinator"),
        default=False,
        help_text=_("Runs their community: sees its requests, volunteers and matching."),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_coordinator=False) | models.Q(community__isnull=False),
                name="coordinator_belongs_to_a_community",
            )
        ]

    @property
    def is_referrer(self) -> bool:
        """Files requests for an organisation's neighbours (`partners.Referrer`), active or not."""
        return hasattr(self, "referrer")

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    @property
    def name_told_apart(self) -> str:
        """The name plus what tells two "Luc Dubois" apart for a coordinator: the volunteer's
        neighbourhood and the end of their phone number (select_related the offer)."""
        parts = [self.display_name]
        offer = getattr(self, "volunteer_offer", None)
        if offer is not None and offer.neighbourhood:
            parts.append(offer.neighbourhood)
        digits = "".join(character for character in str(self.phone or "") if character.isdigit())
        if len(digits) >= 3:
            parts.append(gettext("phone …%(end)s") % {"end": digits[-3:]})
        return " · ".join(parts)
