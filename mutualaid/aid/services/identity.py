"""A community's identity, changed by its coordinators and audited."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from mutualaid.accounts.models import User
from mutualaid.aid.models import Community
from mutualaid.aid.services.audit import audit

IDENTITY_FIELDS = (
    "service_name",
    "accent_colour",
    "contact_phone",
    "help_line_days",
    "help_line_opens",
    "help_line_closes",
    "expense_cap",
)
KEEP_LOGO = object()


def _as_json(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value) if isinstance(value, Decimal) else value


def _recorded(community: Community) -> dict:
    values = {field: getattr(community, field) for field in IDENTITY_FIELDS}
    values = {field: _as_json(value) for field, value in values.items()}
    values["logo"] = f"{community.logo_content_type}, {len(community.logo)} bytes" if community.logo else ""
    return values


def community_identity_update(
    *,
    coordinator: User,
    community: Community,
    changes: dict,
    logo: bytes | object | None = KEEP_LOGO,
    logo_content_type: str = "",
) -> Community:
    """Set what the community shows of itself; `logo` None removes it, KEEP_LOGO keeps it.

    The caller has validated the values (CommunityIdentityForm); the audit log keeps what was
    there before, so a change can be undone by hand.
    """
    with transaction.atomic():
        community = Community.objects.select_for_update().get(pk=community.pk)
        before = _recorded(community)
        for field in IDENTITY_FIELDS:
            if field in changes:
                setattr(community, field, changes[field])
        if logo is not KEEP_LOGO:
            community.logo = logo
            community.logo_content_type = logo_content_type if logo else ""
        community.save()
        after = _recorded(community)
        changed = {field for field in after if after[field] != before[field]}
        if changed:
            audit(
                actor=coordinator,
                action="community.identity_changed",
                subject=community,
                community_id=community.pk,
                before={field: before[field] for field in changed},
                after={field: after[field] for field in changed},
            )
    return community
