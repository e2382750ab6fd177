"""Two-factor sign-in for the people who see other people's personal data.

Coordinators, referrers (partner organisations' people), staff and superusers give, after
their password, a six-digit code from an authenticator app (a django-otp `TOTPDevice`) or
one of ten one-time recovery codes (a `StaticDevice`'s tokens). The session then carries
django-otp's `otp_device_id`, which `OTPMiddleware` turns into `request.user.is_verified()`;
`TwoFactorMiddleware` sends anyone who must and has not to enrolment or to the code page.

Citizens and volunteers are never asked. A coordinator can reset the second step of another
coordinator or referrer of their community (a lost phone): they enrol again at their next
sign-in. Resets, enrolments, recovery codes used and refused codes are in the audit log.
"""

from __future__ import annotations

import base64
import math
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from mutualaid.accounts.models import User

RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "authenticator app"
RECOVERY_NAME = "recovery codes"
# A referrer's role is a row of its own: looked up once per session, not on every request.
REQUIRED_SESSION_KEY = "two_factor_required"


def role_requires_two_factor(user: Any) -> bool:
    """Whether this person's role lets them see other people's personal data."""
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_coordinator or user.is_staff or user.is_superuser or user.is_referrer)


def two_factor_is_required(user: Any, session: Any = None) -> bool:
    """Whether this person must give a second factor before any page (the setting allows
    turning it off only with DEBUG on). With a session, a referrer's role is remembered in it."""
    if not settings.TWO_FACTOR_REQUIRED or not getattr(user, "is_authenticated", False):
        return False
    if user.is_coordinator or user.is_staff or user.is_superuser:
        return True
    if session is None:
        return user.is_referrer
    if REQUIRED_SESSION_KEY not in session:
        session[REQUIRED_SESSION_KEY] = user.is_referrer
    return bool(session[REQUIRED_SESSION_KEY])


def session_is_verified(session: Any, user: Any) -> bool:
    """Whether the session passed the second step with a confirmed device of this person
    (for sockets, which have no `request.user.is_verified()`)."""
    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    if not persistent_id:
        return False
    device = Device.from_persistent_id(persistent_id)
    return device is not None and device.confirmed and device.user_id == user.pk


def authenticator(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def is_enrolled(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def pending_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()


def enrolment_device(user: User) -> TOTPDevice:
    """The authenticator being enrolled: the same secret until it is confirmed, so that
    reloading the page does not invalidate what the person already scanned."""
    device = pending_device(user)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def secret_as_text(device: TOTPDevice) -> str:
    """The secret as authenticator apps ask for it when typed: base32, in groups of four."""
    encoded = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(encoded[index : index + 4] for index in range(0, len(encoded), 4))


def community_id_of(user: User) -> int | None:
    if user.community_id is not None:
        return user.community_id
    referrer = getattr(user, "referrer", None) if user.is_referrer else None
    return referrer.organisation.community_id if referrer is not None else None


def _audit(actor: User | None, action: str, person: User, after: dict | None = None) -> None:
    from mutualaid.aid.services.audit import audit  # aid imports accounts: imported late

    audit(actor=actor, action=action, subject=person, community_id=community_id_of(person), after=after)


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def enrolment_confirm(*, user: User, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the authenticator with a code it shows; then it replaces any earlier one and
    ten new recovery codes are made. The codes (to show once), or None if the code is wrong."""
    if device.user_id != user.pk or device.confirmed or not device.verify_token(normalise_code(code)):
        _audit(user, "two_factor_code_refused", user, {"step": "enrolment"})
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_recovery_codes(user)
    _audit(user, "two_factor_enrolled", user)
    return codes


def normalise_code(code: str) -> str:
    """Codes are typed with spaces ("123 456") and recovery codes in any case."""
    return "".join(code.split()).lower()[:32]


def code_verify(*, user: User, code: str) -> Device | None:
    """The device (authenticator or recovery codes) that accepts this code, or None (audited).
    A recovery code works once: django-otp deletes it as it accepts it."""
    code = normalise_code(code)
    if code:
        # Six digits are the app's; recovery codes are eight letters and digits.
        model = TOTPDevice if code.isdigit() and len(code) == 6 else StaticDevice
        devices: list[Device] = list(model.objects.filter(user=user, confirmed=True))
        for device in devices:
            with transaction.atomic():
                locked = type(device).objects.select_for_update().get(pk=device.pk)
                if locked.verify_token(code):
                    if isinstance(locked, StaticDevice):
                        left = locked.token_set.count()
                        _audit(user, "two_factor_recovery_code_used", user, {"recovery_codes_left": left})
                    return locked
    _audit(user, "two_factor_code_refused", user, {"step": "sign-in"})
    return None


def seconds_to_wait(user: User) -> int:
    """After wrong codes django-otp makes each next try wait (1, 2, 4 ... seconds): how long
    this person's authenticator still refuses every code, 0 if it does not."""
    device = authenticator(user)
    if device is None:
        return 0
    allowed, details = device.verify_is_allowed()
    if allowed or not details or "locked_until" not in details:
        return 0
    from django.utils import timezone

    return max(1, math.ceil((details["locked_until"] - timezone.now()).total_seconds()))


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def recovery_codes_renew(*, user: User) -> list[str]:
    """Ten new recovery codes for an enrolled person; the old ones stop working."""
    codes = _new_recovery_codes(user)
    _audit(user, "two_factor_recovery_codes_renewed", user)
    return codes


def can_reset(actor: User, person: User) -> bool:
    """A coordinator resets coordinators and referrers of their own community (a superuser
    anyone's); nobody resets their own: a lost phone of one's own goes to another coordinator."""
    if actor.pk == person.pk or not actor.is_authenticated:
        return False
    if actor.is_superuser:
        return True
    if not actor.is_coordinator or actor.community_id is None:
        return False
    if person.is_superuser:
        return False
    return (person.is_coordinator or person.is_referrer) and community_id_of(person) == actor.community_id


@transaction.atomic
def two_factor_reset(*, actor: User, person: User) -> None:
    """Forget a person's authenticator and recovery codes (a lost phone): they enrol again
    at their next sign-in. Their signed-in sessions keep the device they verified with, which
    is gone, so those ask again too."""
    if not can_reset(actor, person):
        raise PermissionDenied
    had = is_enrolled(person)
    TOTPDevice.objects.filter(user=person).delete()
    StaticDevice.objects.filter(user=person).delete()
    _audit(actor, "two_factor_reset", person, {"was_enrolled": had})


def people_to_reset(actor: User, community_id: int) -> list[User]:
    """The coordinators and referrers of a community, as the reset page lists them."""
    people = (
        User.objects.filter(
            Q(is_coordinator=True, community_id=community_id)
            | Q(referrer__organisation__community_id=community_id)
        )
        .exclude(pk=actor.pk)
        .select_related("referrer__organisation")
        .order_by("last_name", "first_name", "username")
        .distinct()
    )
    enrolled = set(
        TOTPDevice.objects.filter(user__in=people, confirmed=True).values_list("user_id", flat=True)
    )
    listed = list(people)
    for person in listed:
        person.two_factor_enrolled = person.pk in enrolled
    return listed


def known_secret_device(user: User, hex_key: str) -> TOTPDevice:
    """Enrol a person with a given secret: the demo's coordinator (with its published
    password only), tests and benchmarks. Never for a real person: a secret someone else
    knows is no second factor."""
    TOTPDevice.objects.filter(user=user).delete()
    return TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, key=hex_key, confirmed=True)


def random_hex_key() -> str:
    return secrets.token_hex(20)
