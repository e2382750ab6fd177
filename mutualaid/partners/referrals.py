"""Referrers: organisations registered by coordinators, invitations, filing for a neighbour,
following one's organisation's referrals, and deactivating people or organisations."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from mutualaid.accounts.models import User
from mutualaid.aid import services
from mutualaid.aid.identity import email_signature
from mutualaid.aid.models import Community, HelpRequest
from mutualaid.aid.services import audit
from mutualaid.aid.services._records import require_coordinator
from mutualaid.partners.models import PartnerOrganisation, Referral, Referrer, ReferrerInvitation
from mutualaid.partners.services import (
    api_key_revoke,
    organisation_get_or_create,
    organisation_series_create,
)
from notifications.models import OutgoingMessage
from notifications.outbox import queue_messages

INVITATION_DAYS = 14


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def organisation_register(*, community: Community, name: str, coordinator: User) -> PartnerOrganisation:
    """A partner organisation of the community (the existing one of that name, if any)."""
    require_coordinator(coordinator, community.pk)
    organisation = organisation_get_or_create(community=community, name=name)
    audit(
        actor=coordinator,
        action="partner_register",
        subject=organisation,
        community_id=community.pk,
        after={"organisation": organisation.name},
    )
    return organisation


def _email_taken(email: str) -> bool:
    return (
        User.objects.filter(email__iexact=email).exists()
        or User.objects.filter(username__iexact=email).exists()
    )


@transaction.atomic
def referrer_invite(
    *, organisation: PartnerOrganisation, email: str, invited_by: User, language: str
) -> ReferrerInvitation:
    """E-mail a link to join the organisation as a referrer (through the outbox)."""
    require_coordinator(invited_by, organisation.community_id)
    if not organisation.is_active:
        raise PermissionDenied
    email = email.strip()
    if _email_taken(email):
        raise ValidationError(
            {
                "email": _(
                    "This address already has an account here: a referrer needs an address of their own."
                )
            }
        )
    token = secrets.token_urlsafe(32)
    invitation = ReferrerInvitation.objects.create(
        organisation=organisation,
        email=email,
        token_hash=token_hash(token),
        invited_by=invited_by,
        expires_at=timezone.now() + dt.timedelta(days=INVITATION_DAYS),
    )
    with translation.override(language):
        subject = _("Join %(organisation)s as a referrer") % {"organisation": organisation.name}
        body = render_to_string(
            "partners/email_invitation.txt",
            {
                "organisation": organisation,
                "community": organisation.community,
                "invited_by": invited_by,
                "link": settings.SITE_URL + reverse("referrer-invitation", args=[token]),
                "days": INVITATION_DAYS,
                "signature": email_signature(organisation.community),
            },
        )
    queue_messages(
        [
            OutgoingMessage(
                channel=OutgoingMessage.Channel.EMAIL,
                recipient=None,
                to_address=email,
                subject=str(subject),
                body=body,
                community_id=organisation.community_id,
            )
        ]
    )
    audit(
        actor=invited_by,
        action="referrer_invite",
        subject=invitation,
        community_id=organisation.community_id,
        after={"organisation": organisation.name, "email": email},
    )
    return invitation


def invitation_find(token: str) -> ReferrerInvitation | None:
    """The invitation of this token while it can still be accepted."""
    if not token or len(token) > 100:
        return None
    invitation = (
        ReferrerInvitation.objects.select_related("organisation__community")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.withdrawn_at is not None
        or invitation.expires_at <= timezone.now()
        or not invitation.organisation.is_active
    ):
        return None
    return invitation


@transaction.atomic
def invitation_accept(
    *, invitation: ReferrerInvitation, first_name: str, last_name: str, password: str, language: str
) -> User:
    """Make the referrer's account (once: a second use of the link finds it accepted)."""
    invitation = ReferrerInvitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None or invitation.withdrawn_at is not None:
        raise PermissionDenied
    if _email_taken(invitation.email):
        raise ValidationError(_("This address already has an account here."))
    user = User(
        username=invitation.email[:150],
        email=invitation.email,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        community=None,  # no citizen or volunteer of the community: a referrer only
        preferred_language=language,
        email_notifications=True,
    )
    user.set_password(password)
    user.save()
    referrer = Referrer.objects.create(
        user=user, organisation=invitation.organisation, invited_by=invitation.invited_by
    )
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    audit(
        actor=user,
        action="referrer_join",
        subject=referrer,
        community_id=invitation.organisation.community_id,
        after={"organisation": invitation.organisation.name, "email": invitation.email},
    )
    return user


def active_referrer(user: User) -> Referrer | None:
    """The user's referrer role while it and their organisation are active."""
    if not user.is_authenticated:
        return None
    referrer = (
        Referrer.objects.select_related("organisation__community", "user").filter(user_id=user.pk).first()
    )
    return referrer if referrer is not None and referrer.is_active else None


@transaction.atomic
def referrer_deactivate(*, referrer: Referrer, actor: User) -> Referrer:
    """The referrer signs in no more (their account is closed); their referrals stay."""
    require_coordinator(actor, referrer.organisation.community_id)
    referrer = Referrer.objects.select_for_update().select_related("organisation", "user").get(pk=referrer.pk)
    if referrer.deactivated_at is None:
        referrer.deactivated_at = timezone.now()
        referrer.save(update_fields=["deactivated_at"])
        User.objects.filter(pk=referrer.user_id).update(is_active=False)
        audit(
            actor=actor,
            action="referrer_deactivate",
            subject=referrer,
            community_id=referrer.organisation.community_id,
            after={"organisation": referrer.organisation.name, "email": referrer.user.email},
        )
    return referrer


@transaction.atomic
def referrer_reactivate(*, referrer: Referrer, actor: User) -> Referrer:
    """The referrer may sign in again (only while their organisation is active, and not once
    they deleted their account)."""
    require_coordinator(actor, referrer.organisation.community_id)
    referrer = Referrer.objects.select_for_update().select_related("organisation", "user").get(pk=referrer.pk)
    if not referrer.organisation.is_active:
        raise ValidationError(_("Reactivate the organisation first."))
    if not referrer.user.has_usable_password():
        raise ValidationError(
            _("%(name)s deleted their account: invite them again.") % {"name": referrer.user.display_name}
        )
    if referrer.deactivated_at is not None:
        referrer.deactivated_at = None
        referrer.save(update_fields=["deactivated_at"])
        User.objects.filter(pk=referrer.user_id).update(is_active=True)
        audit(
            actor=actor,
            action="referrer_reactivate",
            subject=referrer,
            community_id=referrer.organisation.community_id,
            after={"organisation": referrer.organisation.name, "email": referrer.user.email},
        )
    return referrer


@transaction.atomic
def organisation_deactivate(*, organisation: PartnerOrganisation, actor: User) -> PartnerOrganisation:
    """Every referrer of it deactivated, every key revoked, every open invitation withdrawn."""
    require_coordinator(actor, organisation.community_id)
    organisation = PartnerOrganisation.objects.select_for_update().get(pk=organisation.pk)
    if organisation.deactivated_at is not None:
        return organisation
    now = timezone.now()
    organisation.deactivated_at = now
    organisation.save(update_fields=["deactivated_at"])
    for referrer in organisation.referrers.filter(deactivated_at__isnull=True):
        referrer_deactivate(referrer=referrer, actor=actor)
    for key in organisation.api_keys.filter(revoked_at__isnull=True):
        api_key_revoke(key=key, actor=actor)
    organisation.invitations.filter(accepted_at__isnull=True, withdrawn_at__isnull=True).update(
        withdrawn_at=now
    )
    audit(
        actor=actor,
        action="partner_deactivate",
        subject=organisation,
        community_id=organisation.community_id,
        after={"organisation": organisation.name},
    )
    return organisation


@transaction.atomic
def organisation_reactivate(*, organisation: PartnerOrganisation, actor: User) -> PartnerOrganisation:
    """The organisation works again, and so do the referrers deactivated with it (not those
    deactivated before it). Revoked keys stay revoked and withdrawn invitations withdrawn:
    a coordinator makes new ones."""
    require_coordinator(actor, organisation.community_id)
    organisation = PartnerOrganisation.objects.select_for_update().get(pk=organisation.pk)
    if organisation.deactivated_at is None:
        return organisation
    # Deactivating the organisation deactivated its active referrers just after it.
    deactivated_with_it = organisation.referrers.select_related("user").filter(
        deactivated_at__gte=organisation.deactivated_at
    )
    organisation.deactivated_at = None
    organisation.save(update_fields=["deactivated_at"])
    reactivated = []
    for referrer in deactivated_with_it:
        if referrer.user.has_usable_password():  # a deleted account stays deleted
            referrer_reactivate(referrer=referrer, actor=actor)
            reactivated.append(referrer.user.email)
    audit(
        actor=actor,
        action="partner_reactivate",
        subject=organisation,
        community_id=organisation.community_id,
        after={"organisation": organisation.name, "referrers": reactivated},
    )
    return organisation


@transaction.atomic
def referral_create(
    *,
    referrer: Referrer,
    consent: bool,
    contact_name: str,
    contact_phone: str,
    text_caller: bool = False,
    **details,
) -> HelpRequest:
    """File a request for a neighbour: like a phone intake, the neighbour's name and phone
    as the contact, marked with the organisation and the referrer, their consent recorded."""
    referrer = Referrer.objects.select_related("organisation__community", "user").get(pk=referrer.pk)
    if not referrer.is_active:
        raise PermissionDenied
    if not consent:
        raise ValidationError({"consent": _("Only with the neighbour's consent.")})
    organisation = referrer.organisation
    help_request = services.help_request_create(
        community=organisation.community,
        requester=None,
        created_by=referrer.user,
        partner=organisation,
        contact_name=contact_name,
        contact_phone=contact_phone,
        text_caller=text_caller,
        **details,
    )
    Referral.objects.get_or_create(  # a retried post returns the request the first one filed
        help_request=help_request,
        defaults={
            "organisation": organisation,
            "referrer": referrer,
            "consent_recorded_by": referrer.user,
            "consent_recorded_at": timezone.now(),
        },
    )
    return help_request


@transaction.atomic
def referral_series_create(
    *, referrer: Referrer, consent: bool, idempotency_key: str = "", **series_details
) -> HelpRequest:
    """Recurring help for a neighbour: a series filed by the referrer for their organisation
    (every occurrence is the organisation's request); its first occurrence is the referral,
    with the neighbour's consent recorded, and is returned."""
    referrer = Referrer.objects.select_related("organisation__community", "user").get(pk=referrer.pk)
    if not referrer.is_active:
        raise PermissionDenied
    if not consent:
        raise ValidationError({"consent": _("Only with the neighbour's consent.")})
    organisation = referrer.organisation
    first, filed = organisation_series_create(
        organisation=organisation,
        created_by=referrer.user,
        idempotency_key=idempotency_key,
        **series_details,
    )
    if filed:
        Referral.objects.create(
            help_request=first,
            organisation=organisation,
            referrer=referrer,
            consent_recorded_by=referrer.user,
            consent_recorded_at=timezone.now(),
        )
    return first


def refers_for(user: User, organisation: PartnerOrganisation) -> bool:
    """Whether the user is an active referrer of this organisation."""
    return Referrer.objects.filter(
        user_id=user.pk,
        organisation_id=organisation.pk,
        deactivated_at__isnull=True,
        organisation__deactivated_at__isnull=True,
        user__is_active=True,
    ).exists()


def referred_by(user: User, help_request: HelpRequest) -> bool:
    """Whether the user referred this request and is still an active referrer of its
    organisation (a referrer cancels only what they filed themselves)."""
    return Referral.objects.filter(
        help_request_id=help_request.pk,
        organisation_id=help_request.partner_id,
        referrer__user_id=user.pk,
        referrer__deactivated_at__isnull=True,
        organisation__deactivated_at__isnull=True,
        referrer__user__is_active=True,
    ).exists()


def referral_cancel(*, referrer: Referrer, help_request: HelpRequest, reason: str = "") -> HelpRequest:
    """The referrer cancels a request they referred, while it is not finished; a volunteer on
    it is told as when a citizen cancels (recorded, audited as `referral_cancel`)."""
    return services.help_request_cancel(help_request=help_request, actor=referrer.user, reason=reason)


def referral_for_referrer(referrer: Referrer, request_id: int) -> Referral | None:
    """One of the referrer's organisation's referrals (None for any other request)."""
    return (
        referrals_of_organisation(referrer.organisation)
        .select_related("help_request__community")
        .filter(help_request_id=request_id)
        .first()
    )


def referrals_of_organisation(organisation: PartnerOrganisation) -> QuerySet[Referral]:
    """What a referrer follows: their organisation's referrals, newest first."""
    return Referral.objects.filter(organisation=organisation).select_related(
        "help_request__category", "referrer__user"
    )


def referrals_of_community(community: Community) -> QuerySet[Referral]:
    return Referral.objects.filter(organisation__community=community).select_related(
        "help_request__category", "referrer__user", "organisation"
    )
