"""The append-only audit log: who did what to which record, in which community."""

from __future__ import annotations

import re

from django.db import models

from mutualaid.accounts.models import User
from mutualaid.aid.models import AuditEntry


def subject_label(record: models.Model) -> str:
    """`help_request:12`: the record's model in snake case and its primary key."""
    model = re.sub(r"(?<!^)(?=[A-Z])", "_", record._meta.object_name).lower()
    return f"{model}:{record.pk}"


def audit(
    *,
    actor: User | None,
    action: str,
    subject: models.Model | None = None,
    community_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    """Append to the audit log (never updated or deleted: there is no service for that).

    The community is the subject's own unless given (a community's export has no subject).
    """
    if community_id is None and subject is not None:
        community_id = getattr(subject, "community_id", None)
    return AuditEntry.objects.create(
        actor=actor,
        community_id=community_id,
        action=action,
        subject=subject_label(subject) if subject is not None else "",
        before=before or {},
        after=after or {},
    )
