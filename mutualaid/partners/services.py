"""API keys: making, revoking and checking them; the organisations they belong to."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from mutualaid.accounts.models import User
from mutualaid.aid import services
from mutualaid.aid.models import Community, HelpRequest, HelpSeries
from mutualaid.aid.services import audit
from mutualaid.aid.services._records import require_coordinator
from mutualaid.aid.services.series import help_series_create
from mutualaid.partners.models import ApiKey, PartnerOrganisation

TOKEN_MARK = "mak_"  # "mutual aid key": recognisable in logs and by secret scanners
PREFIX_LENGTH = len(TOKEN_MARK) + 8


def secret_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def organisation_get_or_create(*, community: Community, name: str) -> PartnerOrganisation:
    """The community's organisation of that name, with its system user (made if missing)."""
    organisation, _created = PartnerOrganisation.objects.get_or_create(community=community, name=name.strip())
    if organisation.system_user_id is None:
        organisation.system_user = User.objects.create(
            username=f"partner-{organisation.pk}",
            first_name=organisation.name[:150],
            community=community,
            is_active=False,
            password=make_password(None),  # unusable: nobody signs in as a partner
            email_notifications=False,
        )
        organisation.save(update_fields=["system_user"])
    return organisation


@transaction.atomic
def api_key_create(*, organisation: PartnerOrganisation, created_by: User | None) -> tuple[ApiKey, str]:
    """A new key; the token is returned this once and never stored."""
    if created_by is not None:
        require_coordinator(created_by, organisation.community_id)
    if PartnerOrganisation.objects.filter(pk=organisation.pk, deactivated_at__isnull=False).exists():
        raise PermissionDenied  # deactivated by a coordinator: no new keys
    token = TOKEN_MARK + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        organisation=organisation,
        prefix=token[:PREFIX_LENGTH],
        secret_hash=secret_hash(token),
        created_by=created_by,
    )
    audit(
        actor=created_by,
        action="api_key_create",
        subject=key,
        community_id=organisation.community_id,
        after={"organisation": organisation.name, "prefix": key.prefix},
    )
    return key, token


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: User | None) -> ApiKey:
    if actor is not None:
        require_coordinator(actor, key.organisation.community_id)
    key = ApiKey.objects.select_for_update().select_related("organisation").get(pk=key.pk)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit(
            actor=actor,
            action="api_key_revoke",
            subject=key,
            community_id=key.organisation.community_id,
            after={"organisation": key.organisation.name, "prefix": key.prefix},
        )
    return key


def api_key_find(token: str) -> ApiKey | None:
    """The active key of this token (any key, revoked too, for `api_key revoke`)."""
    if not token or not token.startswith(TOKEN_MARK) or len(token) > 200:
        return None
    return (
        ApiKey.objects.select_related("organisation__community", "organisation__system_user")
        .filter(secret_hash=secret_hash(token))
        .first()
    )


def api_key_authenticate(token: str) -> ApiKey | None:
    """The active key of this token, its use noted (`last_used_at`, at most once a minute)."""
    key = api_key_find(token)
    # Deactivating an organisation revokes its keys; its state is checked too, so no key of
    # a deactivated organisation works, whatever happened to the key.
    if key is None or key.revoked_at is not None or not key.organisation.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def partner_request_create(*, key: ApiKey, **details) -> HelpRequest:
    """File a request for the key's organisation: a phoned-in style request (no account),
    the caller's name and phone as contact, created by the organisation's system user."""
    organisation = key.organisation
    return services.help_request_create(
        community=organisation.community,
        requester=None,
        created_by=organisation.system_user,
        partner=organisation,
        **details,
    )


def first_occurrence(series: HelpSeries) -> HelpRequest:
    """The series' first occurrence, filed at once (its id is what partners follow)."""
    first = series.occurrences.order_by("series_date").first()
    if first is None:  # the first day is within the days filed ahead, checked before
        raise ValidationError("the first occurrence could not be filed; pick a nearer first day")
    return first


def organisation_series_create(
    *, organisation, created_by: User, idempotency_key: str = "", **series_details
) -> tuple[HelpRequest, bool]:
    """Recurring help filed for a partner organisation by `created_by` (its system user, or
    one of its referrers): every occurrence is the organisation's request. Returns the first
    occurrence and whether this call filed it (False: a retry with the same
    `idempotency_key`, answered with what the first call filed)."""
    if idempotency_key:
        already_filed = HelpRequest.objects.filter(
            created_by=created_by, idempotency_key=idempotency_key
        ).first()
        if already_filed is not None:
            return already_filed, False
    series = help_series_create(
        community=organisation.community,
        requester=None,
        created_by=created_by,
        partner=organisation,
        **series_details,
    )
    first = first_occurrence(series)
    if idempotency_key:
        first.idempotency_key = idempotency_key
        first.save(update_fields=["idempotency_key"])
    return first, True


@transaction.atomic
def partner_series_create(*, key: ApiKey, idempotency_key: str = "", **series_details) -> HelpRequest:
    """Recurring help for the key's organisation, filed as its system user; returns the first
    occurrence (a retried call with the same `idempotency_key` gets the one first filed)."""
    organisation = key.organisation
    first, _filed = organisation_series_create(
        organisation=organisation,
        created_by=organisation.system_user,
        idempotency_key=idempotency_key,
        **series_details,
    )
    return first


def partner_request_cancel(*, key: ApiKey, help_request: HelpRequest, reason: str = "") -> HelpRequest:
    organisation = key.organisation
    return services.help_request_cancel(
        help_request=help_request, actor=organisation.system_user, reason=reason, partner=organisation
    )


def partner_requests(key: ApiKey) -> QuerySet[HelpRequest]:
    """The requests the key's organisation filed (any of its keys), newest first."""
    return organisation_requests(key.organisation)


def organisation_requests(organisation: PartnerOrganisation) -> QuerySet[HelpRequest]:
    """The requests an organisation filed (by its keys or its referrers), newest first."""
    return (
        HelpRequest.objects.filter(partner=organisation)
        .select_related("category")
        .prefetch_related("time_windows")
        .order_by("-created_at", "-pk")
    )
