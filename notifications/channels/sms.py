"""Text messages, through the gateway `SMS_BACKEND` names (notifications/sms_gateway.py).

Short and in the person's language; a proposal names the area and the kind of help, never
the address (the volunteer gets that once they accept) and carries the task's short code
for the answer. Not sent at night in the community's time zone (22:00-08:00) unless urgent,
and at most `SMS_DAILY_CAP` a day per community: both wait, neither is dropped.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from notifications.delivery import NotNow, Undeliverable
from notifications.kinds import ChangeKind
from notifications.models import OutgoingMessage
from notifications.notice import Notice
from notifications.sms_gateway import TextRefused, gateway

NAME = OutgoingMessage.Channel.SMS
QUIET_FROM_HOUR = 22
QUIET_UNTIL_HOUR = 8
CAP_REASON = "daily text limit reached"
QUIET_REASON = "quiet hours"


def is_mobile(number: str) -> bool:
    """Whether a number (E.164, or as typed: Belgian by default) can receive texts."""
    try:
        parsed = phonenumbers.parse(str(number), settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def e164(number: str) -> str:
    parsed = phonenumbers.parse(str(number), settings.PHONENUMBER_DEFAULT_REGION)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def chosen_by(user) -> bool:
    return bool(user is not None and user.is_active and user.sms_notifications and is_mobile(user.phone))


def _is_urgent(help_request) -> bool:
    from mutualaid.aid.models import Urgency

    return help_request.urgency == Urgency.TODAY


def _when(help_request) -> str:
    """'Thursday afternoon': the first part of a day asked for that has not passed."""
    windows = [window for window in help_request.time_windows.all() if not window.has_passed()]
    if help_request.any_time or not windows:
        return _("soon")
    first = windows[0]
    return f"{date_format(first.date, 'l')} {first.get_part_of_day_display().lower()}"


def compose(notice: Notice) -> OutgoingMessage | None:
    """The text for a notice: a proposal to a volunteer, "someone is coming" to the
    requester (or to a caller the coordinator said to text)."""
    person, help_request = notice.recipient, notice.help_request
    if notice.to_referrer:
        return None  # a referrer hears by e-mail only
    if person is None:
        if not (notice.kind == ChangeKind.ACCEPTED and help_request.text_caller):
            return None
        if not is_mobile(help_request.contact_phone):
            return None
        to_address = e164(help_request.contact_phone)
    elif chosen_by(person):
        to_address = e164(person.phone)
    else:
        return None
    with translation.override(notice.language):
        if notice.kind == ChangeKind.PROPOSED and notice.assignment is not None:
            body = _(
                "Help asked near %(area)s: %(category)s (%(km).1f km). Reply YES %(code)s or NO %(code)s."
            ) % {
                "area": help_request.neighbourhood or help_request.community.name,
                "category": help_request.category.label,
                "km": notice.assignment.km,
                "code": notice.assignment.short_code,
            }
        elif notice.kind == ChangeKind.REMINDER and person is not None and notice.assignment is not None:
            body = _("Tomorrow %(when)s: %(category)s, %(address)s. Can't any more? Reply CANT %(code)s.") % {
                "when": str(notice.window) if notice.window else "",
                "category": help_request.category.label,
                "address": help_request.address or help_request.neighbourhood,
                "code": notice.assignment.short_code,
            }
        elif notice.kind == ChangeKind.ACCEPTED and notice.volunteer is not None:
            body = _("%(name)s will come %(when)s to help you with %(category)s.") % {
                "name": notice.volunteer.first_name or notice.volunteer.username,
                "when": _when(help_request),
                "category": help_request.category.label,
            }
        else:
            return None
    proposal = notice.assignment if notice.kind == ChangeKind.PROPOSED else None
    return OutgoingMessage(
        channel=NAME,
        recipient=person,
        to_address=to_address,
        subject=str(notice.kind),
        body=body,
        proposal=proposal if proposal is not None and proposal.pk else None,
        urgent=_is_urgent(help_request),
    )


def reply(person, body: str, *, community_id: int | None) -> OutgoingMessage:
    """The answer to a text a person just sent: goes out at any hour."""
    return OutgoingMessage(
        channel=NAME,
        recipient=person,
        to_address=e164(person.phone),
        subject="reply",
        body=body,
        community_id=community_id,
        urgent=True,
    )


def quiet_hours_end(now: dt.datetime, time_zone: str) -> dt.datetime | None:
    """When the night's quiet hours end, if `now` falls in them; None in the day."""
    local = now.astimezone(ZoneInfo(time_zone))
    if QUIET_UNTIL_HOUR <= local.hour < QUIET_FROM_HOUR:
        return None
    morning = local.replace(hour=QUIET_UNTIL_HOUR, minute=0, second=0, microsecond=0)
    if local.hour >= QUIET_FROM_HOUR:
        morning += dt.timedelta(days=1)
    return morning


def sent_today(community_id: int, now: dt.datetime, time_zone: str) -> int:
    """Texts that went out for a community since its local midnight."""
    midnight = now.astimezone(ZoneInfo(time_zone)).replace(hour=0, minute=0, second=0, microsecond=0)
    return OutgoingMessage.objects.filter(
        channel=NAME, community_id=community_id, status=OutgoingMessage.Status.SENT, sent_at__gte=midnight
    ).count()


def _time_zone(message: OutgoingMessage) -> str:
    return message.community.time_zone if message.community_id else settings.TIME_ZONE


def obsolete(message: OutgoingMessage) -> str:
    recipient = message.recipient
    if recipient is not None and not recipient.sms_notifications and message.subject != "reply":
        return "not sent: texts were switched off before it went out"
    return ""


def wait(message: OutgoingMessage, now: dt.datetime) -> NotNow | None:
    """Why and until when a due text must wait: quiet hours (unless urgent), the daily cap."""
    time_zone = _time_zone(message)
    if not message.urgent:
        morning = quiet_hours_end(now, time_zone)
        if morning is not None:
            return NotNow(morning, f"{QUIET_REASON}: waits until {morning:%H:%M}")
    if message.community_id and sent_today(message.community_id, now, time_zone) >= settings.SMS_DAILY_CAP:
        local = now.astimezone(ZoneInfo(time_zone))
        tomorrow = (local + dt.timedelta(days=1)).replace(
            hour=QUIET_UNTIL_HOUR, minute=0, second=0, microsecond=0
        )
        return NotNow(tomorrow, f"{CAP_REASON} ({settings.SMS_DAILY_CAP}): waits until tomorrow")
    return None


def send(message: OutgoingMessage) -> None:
    try:
        sent = gateway().send(to=message.to_address, body=message.body)
    except TextRefused as error:
        raise Undeliverable(str(error)) from error
    message.provider_id = sent.provider_id[:64]
    message.delivery_status = sent.status[:32]
