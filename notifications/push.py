"""Browser push notifications: who turned them on where, and what is pushed.

A person turns notifications on in a browser (My account); the page saves the browser's
subscription here. A proposal, or the reminder of an accepted task, then becomes one
outbox message per subscription (channel "push"), which the worker sends encrypted
through `notifications.channels.push`. Tapping the notification opens the task.
"""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from notifications.models import OutgoingMessage, PushSubscription

# A person rarely has more browsers than this; the oldest subscriptions make way.
MAX_SUBSCRIPTIONS_PER_PERSON = 10
# What a browser's subscription JSON may hold at most (the endpoint fits an outbox address).
MAX_ENDPOINT_LENGTH = 500


class SubscriptionError(ValueError):
    """A subscription the page sent that cannot be used, with the reason to answer."""


def push_is_configured() -> bool:
    return bool(settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY)


def _decode_base64url(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise SubscriptionError(_("The subscription has no %(what)s key.") % {"what": what})
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise SubscriptionError(
            _("The subscription's %(what)s key is not base64url.") % {"what": what}
        ) from None


def _checked(data: object) -> tuple[str, str, str]:
    """(endpoint, p256dh, auth) of a PushSubscription's JSON, or SubscriptionError saying why not."""
    if not isinstance(data, dict):
        raise SubscriptionError(_("Send the browser's subscription as a JSON object."))
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise SubscriptionError(_("The subscription has no endpoint."))
    if len(endpoint) > MAX_ENDPOINT_LENGTH:
        raise SubscriptionError(_("The subscription's endpoint is too long."))
    address = urlsplit(endpoint)
    # Push services are reached over HTTPS only (RFC 8030); anything else is not a browser's.
    if address.scheme != "https" or not address.hostname:
        raise SubscriptionError(_("The subscription's endpoint must be an https address."))
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise SubscriptionError(_("The subscription has no keys."))
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    public_key = _decode_base64url(p256dh, "p256dh")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
    except ValueError:
        raise SubscriptionError(_("The subscription's p256dh key is not a P-256 public key.")) from None
    if len(_decode_base64url(auth, "auth")) != 16:
        raise SubscriptionError(_("The subscription's auth secret must be 16 bytes."))
    return endpoint, p256dh, auth


@transaction.atomic
def push_subscribe(*, person, data: object) -> PushSubscription:
    """Save a browser's subscription for this person (the browser's last person keeps it:
    on a shared computer the one logged in now gets the notifications)."""
    endpoint, p256dh, auth = _checked(data)
    subscription, _created = PushSubscription.objects.update_or_create(
        endpoint=endpoint, defaults={"person": person, "p256dh": p256dh, "auth": auth}
    )
    surplus = PushSubscription.objects.filter(person=person).order_by("-created_at", "-pk")[
        MAX_SUBSCRIPTIONS_PER_PERSON:
    ]
    PushSubscription.objects.filter(pk__in=list(surplus.values_list("pk", flat=True))).delete()
    return subscription


def push_unsubscribe(*, person, endpoint: object) -> int:
    """Forget this person's subscription at `endpoint`; how many were removed (0 or 1)."""
    if not isinstance(endpoint, str) or not endpoint:
        raise SubscriptionError(_("The subscription has no endpoint."))
    deleted, _detail = PushSubscription.objects.filter(person=person, endpoint=endpoint).delete()
    return deleted


def _pushes(
    person, subscriptions, *, title: str, body: str, url: str, tag: str, proposal=None, reminder_of=None
):
    payload = json.dumps({"title": title, "body": body, "url": url, "tag": tag}, ensure_ascii=False)
    return [
        OutgoingMessage(
            channel=OutgoingMessage.Channel.PUSH,
            recipient=person,
            to_address=subscription.endpoint,
            subject=title[:200],
            body=payload,
            proposal=proposal,
            reminder_of=reminder_of,
        )
        for subscription in subscriptions
    ]


def _subscriptions_of(people_ids) -> dict[int, list[PushSubscription]]:
    found: dict[int, list[PushSubscription]] = {}
    if push_is_configured():
        for subscription in PushSubscription.objects.filter(
            person_id__in=people_ids, person__is_active=True
        ).order_by("pk"):
            found.setdefault(subscription.person_id, []).append(subscription)
    return found


def proposal_pushes(proposals: list) -> list[OutgoingMessage]:
    """A notification per subscribed browser of each proposed volunteer; one query for all.

    `proposals` are assignments with their help_request and volunteer at hand. Coarse like the
    proposal's e-mail: what and which neighbourhood, never a name or an address.
    """
    subscriptions = _subscriptions_of({assignment.volunteer_id for assignment in proposals})
    messages = []
    for assignment in proposals:
        browsers = subscriptions.get(assignment.volunteer_id)
        if not browsers:
            continue
        volunteer, help_request = assignment.volunteer, assignment.help_request
        with translation.override(volunteer.preferred_language):
            title = _("A neighbour needs help: %(category)s") % {"category": help_request.category.label}
            body = _("In %(neighbourhood)s, %(km).1f km from you. Tap to answer.") % {
                "neighbourhood": help_request.neighbourhood or _("your area"),
                "km": assignment.km,
            }
        messages += _pushes(
            volunteer,
            browsers,
            title=title,
            body=body,
            url=reverse("task-detail", args=[assignment.pk]),
            tag=f"task-{assignment.pk}",
            proposal=assignment,
        )
    return messages


def reminder_pushes(assignment, window) -> list[OutgoingMessage]:
    """The reminder of an accepted task to each browser of its volunteer (`window`: its time window)."""
    volunteer, help_request = assignment.volunteer, assignment.help_request
    browsers = _subscriptions_of([volunteer.pk]).get(volunteer.pk)
    if not browsers:
        return []
    with translation.override(volunteer.preferred_language):
        title = _("Tomorrow: %(category)s") % {"category": help_request.category.label}
        body = _("%(when)s at %(address)s. Can't any more? Tap to give the task back.") % {
            "when": str(window),
            "address": help_request.address or help_request.neighbourhood,
        }
    return _pushes(
        volunteer,
        browsers,
        title=title,
        body=body,
        url=reverse("task-detail", args=[assignment.pk]) + "#give-back",
        tag=f"task-{assignment.pk}",
        reminder_of=assignment,
    )
