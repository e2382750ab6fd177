"""Volunteers' offers: what they can do, where and when, and pausing them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from matching.scheduling import schedule_matching
from mutualaid.accounts.models import User
from mutualaid.aid.models import Category, Community, VolunteerOffer
from mutualaid.aid.places import Location
from notifications.events import publish_community_change
from notifications.kinds import ChangeKind


@transaction.atomic
def volunteer_offer_save(
    *,
    volunteer: User,
    community: Community,
    skills: Iterable[Category],
    location: Location,
    max_km: float,
    availability: Iterable[int],
    capacity: int,
    languages: Iterable[str] = (),
) -> VolunteerOffer:
    """Create or update a volunteer's offer; matching looks again for their community."""
    skills = list(skills)
    if any(skill.community_id != community.pk for skill in skills):
        raise ValidationError({"skills": _("Choose categories of your own community.")})
    slots = sorted({int(slot) for slot in availability})
    if any(slot < 0 or slot > 20 for slot in slots):
        raise ValidationError({"availability": _("Pick days and parts of the day from the grid.")})
    earlier_community_ids = set(
        VolunteerOffer.objects.filter(volunteer=volunteer).values_list("community_id", flat=True)
    )
    offer, created = VolunteerOffer.objects.update_or_create(
        volunteer=volunteer,
        defaults={
            "community": community,
            "address": location.address,
            "latitude": location.latitude,
            "longitude": location.longitude,
            "neighbourhood": location.neighbourhood,
            "max_km": max_km,
            "availability": slots,
            "capacity": capacity,
            "languages": sorted(set(languages)),
        },
    )
    # (Read afresh: a coordinator may have closed sign-ups since `community` was loaded.)
    if created and Community.objects.filter(pk=community.pk, volunteer_waiting_list=True).exists():
        # Sign-ups are closed to the waiting list: a new volunteer waits to be let in.
        offer.waiting_since = timezone.now()
        offer.save(update_fields=["waiting_since"])
    offer.skills.set(skills)
    if volunteer.community_id is None:
        volunteer.community = community
        volunteer.save(update_fields=["community"])
    schedule_matching(community.pk)
    # Dashboards count the volunteers available: the community left, if any, and this one.
    for community_id in sorted(earlier_community_ids | {community.pk}):
        publish_community_change(community_id=community_id, change=ChangeKind.VOLUNTEERS)
    return offer


@transaction.atomic
def volunteer_offer_set_paused(*, offer: VolunteerOffer, paused: bool) -> VolunteerOffer:
    """Pause (no new proposals; those already made stay) or resume an offer."""
    offer.is_paused = paused
    offer.save(update_fields=["is_paused", "updated_at"])
    if not paused:
        schedule_matching(offer.community_id)
    publish_community_change(community_id=offer.community_id, change=ChangeKind.VOLUNTEERS)
    return offer


@transaction.atomic
def volunteer_offer_set_available_now(
    *, offer: VolunteerOffer, available: bool, now: dt.datetime | None = None
) -> VolunteerOffer:
    """Switch "I can help in the next hours" on (for AVAILABLE_NOW_HOURS, urgent requests
    only) or off; it switches itself off when the time is up."""
    now = now or timezone.now()
    offer.available_now_until = now + dt.timedelta(hours=settings.AVAILABLE_NOW_HOURS) if available else None
    offer.save(update_fields=["available_now_until", "updated_at"])
    if available:
        schedule_matching(offer.community_id)
    publish_community_change(community_id=offer.community_id, change=ChangeKind.VOLUNTEERS)
    return offer
