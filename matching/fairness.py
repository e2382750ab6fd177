"""What the service adds to the engine's instance beyond distance: fair turns, and the
extra skills (a language, vetting) a request can need. Shared by matching and by the
explanations of why a volunteer got no proposal (which must weigh things the same way)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q

from mutualaid.aid.states import AssignmentStatus

# The skill a vetted volunteer has and a category that requires vetting needs (a category's
# code is a slug, so it can never be spelled like this).
VETTED_SKILL = "vetting:checked"


def fair_turn_km(recent_turns: int) -> float:
    """The `extra_km` of a volunteer with this many recent turns (tasks accepted or done in
    the last MATCHING_FAIR_TURN_DAYS days, and proposals waiting for their answer)."""
    return min(settings.MATCHING_FAIR_TURN_MAX_KM, settings.MATCHING_FAIR_TURN_KM_PER_TASK * recent_turns)


def recent_turns_filter(now: dt.datetime, prefix: str = "") -> Q:
    """The assignments that count as a volunteer's recent turns (`prefix` reaches them from
    another model, e.g. "volunteer__assignments__")."""
    since = now - dt.timedelta(days=settings.MATCHING_FAIR_TURN_DAYS)
    return Q(**{f"{prefix}status": AssignmentStatus.PROPOSED}) | Q(
        **{
            f"{prefix}status__in": [AssignmentStatus.ACCEPTED, AssignmentStatus.DONE],
            f"{prefix}responded_at__gte": since,
        }
    )


def language_skill(code: str) -> str:
    return f"language:{code}"
