"""Vetting: coordinators record the checks they made on a volunteer (an ID seen, a
criminal-record extract "model 2" with its expiry), each one audited. Whether someone is
vetted is read at query time (`models.vetted_volunteer_ids`), so an expiry needs no job."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from matching.scheduling import schedule_matching
from mutualaid.accounts.models import User
from mutualaid.aid.models import VolunteerCheck, VolunteerOffer
from mutualaid.aid.services._records import require_coordinator
from mutualaid.aid.services.audit import audit


@transaction.atomic
def volunteer_check_record(
    *,
    volunteer: User,
    coordinator: User,
    kind: str,
    checked_on: dt.date,
    expires_on: dt.date | None = None,
) -> VolunteerCheck:
    """Record that `coordinator` checked `kind` about `volunteer` on `checked_on` (audited).

    A criminal-record extract must say until when it is valid; a check cannot be dated in
    the future nor expire before it was made.
    """
    offer = VolunteerOffer.objects.filter(volunteer=volunteer).first()
    if offer is None:
        raise ValidationError({"kind": _("Only a volunteer's checks are recorded here.")})
    require_coordinator(coordinator, offer.community_id)
    if kind not in VolunteerCheck.Kind.values:
        raise ValidationError({"kind": _("Choose what you checked.")})
    today = timezone.localdate()
    if checked_on > today:
        raise ValidationError({"checked_on": _("A check cannot be dated in the future.")})
    if kind == VolunteerCheck.Kind.CRIMINAL_RECORD and expires_on is None:
        raise ValidationError({"expires_on": _("Give the date until which the extract is valid.")})
    if expires_on is not None and expires_on <= checked_on:
        raise ValidationError({"expires_on": _("The check must be valid after the day it was made.")})
    check = VolunteerCheck.objects.create(
        volunteer=volunteer,
        community_id=offer.community_id,
        kind=kind,
        checked_on=checked_on,
        expires_on=expires_on,
        checked_by=coordinator,
    )
    audit(
        actor=coordinator,
        action="record_check",
        subject=check,
        after={
            "volunteer": volunteer.pk,
            "kind": kind,
            "checked_on": checked_on.isoformat(),
            "expires_on": expires_on.isoformat() if expires_on else None,
        },
    )
    # Requests that needed a vetted volunteer may now find one.
    schedule_matching(offer.community_id)
    return check
