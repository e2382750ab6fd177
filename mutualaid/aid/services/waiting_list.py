"""The volunteers' waiting list: when volunteers far outnumber needs, a community's
coordinators close sign-ups to a list, and let people in from it in the order they came.

A volunteer on the list keeps their offer but gets no proposals (matching leaves them out)
and their inbox says where they stand; being let in is told by e-mail.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from matching.scheduling import schedule_matching
from mutualaid.accounts.models import User
from mutualaid.aid.identity import email_signature
from mutualaid.aid.models import Community, VolunteerOffer
from mutualaid.aid.services._records import require_coordinator
from mutualaid.aid.services.audit import audit
from notifications.events import publish_community_change
from notifications.kinds import ChangeKind
from notifications.models import OutgoingMessage
from notifications.outbox import queue_messages


def waiting_volunteers(community: Community):
    """The community's waiting list, first come first."""
    return (
        VolunteerOffer.objects.filter(community=community, waiting_since__isnull=False)
        .select_related("volunteer")
        .prefetch_related("skills")
        .order_by("waiting_since", "pk")
    )


def waiting_list_position(offer: VolunteerOffer) -> int | None:
    """Where this volunteer stands on their community's list (1 = next), or None if not on it."""
    if offer.waiting_since is None:
        return None
    ahead = VolunteerOffer.objects.filter(
        community_id=offer.community_id, waiting_since__isnull=False
    ).filter(waiting_since__lt=offer.waiting_since)
    return ahead.count() + 1


@transaction.atomic
def community_set_volunteer_waiting_list(*, community: Community, coordinator: User, on: bool) -> Community:
    """Close sign-ups to the waiting list (new volunteers wait) or open them again (new
    volunteers get proposals at once; those already waiting are let in by hand)."""
    require_coordinator(coordinator, community.pk)
    community = Community.objects.select_for_update().get(pk=community.pk)
    if community.volunteer_waiting_list == on:
        return community
    community.volunteer_waiting_list = on
    community.save(update_fields=["volunteer_waiting_list"])
    audit(
        actor=coordinator,
        action="volunteer_waiting_list_on" if on else "volunteer_waiting_list_off",
        subject=community,
        community_id=community.pk,
        before={"waiting_list": not on},
        after={"waiting_list": on},
    )
    return community


@transaction.atomic
def volunteers_let_in(*, community: Community, coordinator: User, volunteer_ids: Iterable[int]) -> list[int]:
    """Let these volunteers in from the waiting list: they get proposals from now on and are
    told by e-mail. Returns whom it let in (those no longer waiting are left alone)."""
    require_coordinator(coordinator, community.pk)
    offers = list(
        VolunteerOffer.objects.select_for_update()
        .filter(community=community, waiting_since__isnull=False, volunteer_id__in=list(volunteer_ids))
        .select_related("volunteer")
        .order_by("waiting_since", "pk")
    )
    for offer in offers:
        waited_since = offer.waiting_since
        offer.waiting_since = None
        offer.save(update_fields=["waiting_since", "updated_at"])
        audit(
            actor=coordinator,
            action="volunteer_let_in",
            subject=offer,
            before={"waiting_since": waited_since.isoformat()},
            after={"waiting_since": None},
        )
    queue_messages([_let_in_mail(offer.volunteer, community) for offer in offers if offer.volunteer.email])
    if offers:
        schedule_matching(community.pk)
        publish_community_change(community_id=community.pk, change=ChangeKind.VOLUNTEERS)
    return [offer.volunteer_id for offer in offers]


def volunteers_let_in_first(*, community: Community, coordinator: User, how_many: int) -> list[int]:
    """Let in the first `how_many` of the list, in the order they came."""
    first = waiting_volunteers(community).values_list("volunteer_id", flat=True)[: max(0, how_many)]
    return volunteers_let_in(community=community, coordinator=coordinator, volunteer_ids=list(first))


def _let_in_mail(volunteer: User, community: Community) -> OutgoingMessage:
    with translation.override(volunteer.preferred_language):
        subject = _("You can start helping in %(community)s") % {"community": community.name}
        body = render_to_string(
            "aid/email_let_in.txt",
            {
                "volunteer": volunteer,
                "community": community,
                "link": settings.SITE_URL + reverse("inbox"),
                "signature": email_signature(community),
            },
        )
    return OutgoingMessage(
        channel=OutgoingMessage.Channel.EMAIL,
        recipient=volunteer,
        to_address=volunteer.email,
        subject=str(subject),
        body=body,
        community_id=community.pk,
    )
