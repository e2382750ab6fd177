"""Browser push notifications (the Web Push protocol), through pywebpush: the payload is
encrypted for the browser's keys (RFC 8291, aes128gcm) and signed for the push service with
the service's VAPID key (RFC 8292: VAPID_PRIVATE_KEY, VAPID_SUBJECT).

A message's address is the subscription's endpoint; its body is the JSON the service
worker (/sw.js) shows. An endpoint the push service says is gone (404, 410: the person
turned notifications off in the browser, or it expired) is removed with its subscription
and the message is not tried again.
"""

from __future__ import annotations

from django.conf import settings
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from notifications.delivery import AddressGone
from notifications.kinds import ChangeKind
from notifications.models import OutgoingMessage, PushSubscription
from notifications.notice import Notice
from notifications.push import proposal_pushes, reminder_pushes

NAME = OutgoingMessage.Channel.PUSH

TIMEOUT_SECONDS = 10
# How long the push service keeps a message for a browser that is offline (a day): a
# proposal or a reminder is worth little later.
TIME_TO_LIVE_SECONDS = 24 * 3600
GONE_STATUSES = (404, 410)


def compose_all(notices: list[Notice]) -> list[OutgoingMessage]:
    """A notification to each subscribed browser: proposals (one query for a whole matching
    run) and reminders. Coarse for a proposal: what and which neighbourhood only."""
    proposals = [notice for notice in notices if notice.kind == ChangeKind.PROPOSED and notice.assignment]
    for notice in proposals:
        notice.assignment.volunteer = notice.recipient  # at hand, no query per proposal
    by_assignment = {notice.assignment.pk: notice for notice in proposals}
    messages = [
        by_assignment[message.proposal.pk].attach(message)
        for message in proposal_pushes([notice.assignment for notice in proposals])
    ]
    for notice in notices:
        if notice.kind == ChangeKind.REMINDER:
            messages += [
                notice.attach(message) for message in reminder_pushes(notice.assignment, notice.window)
            ]
    return messages


def send(message: OutgoingMessage) -> None:
    subscription = PushSubscription.objects.filter(
        endpoint=message.to_address, person_id=message.recipient_id
    ).first()
    if subscription is None:
        raise AddressGone("not sent: notifications were turned off in that browser")
    try:
        webpush(
            subscription_info=subscription.as_subscription_info(),
            data=message.body,
            vapid_private_key=Vapid.from_string(settings.VAPID_PRIVATE_KEY),
            # A new dict each time: pywebpush fills in the audience and expiry in place.
            vapid_claims={"sub": settings.VAPID_SUBJECT},
            ttl=TIME_TO_LIVE_SECONDS,
            timeout=TIMEOUT_SECONDS,
        )
    except WebPushException as error:
        status = getattr(error.response, "status_code", None)
        if status in GONE_STATUSES:
            subscription.delete()
            raise AddressGone(
                f"not sent: the push service says the subscription is gone ({status})"
            ) from error
        raise
