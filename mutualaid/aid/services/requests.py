"""Help requests: filing one, cancelling it, and the waiting reasons matching stores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import phonenumbers
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from matching.scheduling import schedule_matching
from mutualaid.accounts.models import User
from mutualaid.aid.models import (
    MAX_PEOPLE_NEEDED,
    Category,
    Community,
    HelpRequest,
    StatusChange,
    TimeWindow,
    part_of_day_has_passed,
)
from mutualaid.aid.places import Location
from mutualaid.aid.services._records import (
    TaskActionError,
    change_of,
    coordinates,
    locked_request,
    publish,
    set_assignment_status,
    set_request_status,
)
from mutualaid.aid.services.audit import audit
from mutualaid.aid.states import (
    FINISHED_REQUEST_STATUSES,
    LIVE_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    RequestStatus,
)
from notifications.events import publish_task_changes
from notifications.kinds import ChangeKind


def e164_if_valid(number: str) -> str:
    """A caller's number in E.164 when it reads as one (Belgian by default); as given when
    not, since a coordinator can still read it out (a partner's system may send anything)."""
    try:
        parsed = phonenumbers.parse(number, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return number
    if not phonenumbers.is_valid_number(parsed):
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@transaction.atomic
def help_request_create(
    *,
    community: Community,
    requester: User | None,
    created_by: User,
    category: Category,
    description: str,
    urgency: int,
    location: Location,
    time_windows: Iterable[tuple[dt.date, int]] = (),
    any_time: bool = False,
    contact_name: str = "",
    contact_phone: str = "",
    text_caller: bool = False,
    language_needed: str = "",
    partner=None,
    idempotency_key: str = "",
    people_needed: int = 1,
) -> HelpRequest:
    """File a request and ask matching to look for a volunteer.

    With an `idempotency_key`, a second call by the same `created_by` with the same key
    (a retried form post) files nothing and returns the request the first call filed.

    A coordinator filing for someone who phoned in passes `requester=None` and the
    caller's name and phone. A partner organisation of the community (through the API,
    its key already checked) files the same way, as its own system user; so does one of
    its active referrers, as themselves.
    """
    referred = partner is not None and partner.system_user_id != created_by.pk
    filed_by_partner = (
        partner is not None
        and partner.community_id == community.pk
        and (partner.system_user_id == created_by.pk or _refers_for(created_by, partner))
    )
    if partner is not None and not filed_by_partner:
        raise PermissionDenied
    if requester is None and not (filed_by_partner or coordinates(created_by, community.pk)):
        raise PermissionDenied
    if idempotency_key:
        already_filed = _filed_with_key(created_by, idempotency_key)
        if already_filed is not None:
            return already_filed
    if requester is None and not (contact_name.strip() and contact_phone.strip()):
        raise ValidationError({"contact_name": _("Give the name and phone of the person who called.")})
    _check_category(category, community.pk)
    _check_people_needed(people_needed)
    windows = _check_when(time_windows, any_time)
    try:
        with transaction.atomic():  # a savepoint: a concurrent retry may win the key
            help_request = HelpRequest.objects.create(
                idempotency_key=idempotency_key,
                community=community,
                requester=requester,
                created_by=created_by,
                category=category,
                description=description,
                urgency=urgency,
                any_time=any_time,
                address=location.address,
                latitude=location.latitude,
                longitude=location.longitude,
                neighbourhood=location.neighbourhood,
                contact_name=contact_name.strip(),
                contact_phone=e164_if_valid(contact_phone.strip()),
                text_caller=text_caller and requester is None,
                language_needed=language_needed,
                partner=partner if filed_by_partner else None,
                people_needed=people_needed,
            )
    except IntegrityError:
        already_filed = _filed_with_key(created_by, idempotency_key) if idempotency_key else None
        if already_filed is None:
            raise
        return already_filed
    if not any_time:
        TimeWindow.objects.bulk_create(
            TimeWindow(help_request=help_request, date=date, part_of_day=part) for date, part in windows
        )
    StatusChange.objects.create(
        help_request=help_request,
        subject=StatusChange.Subject.REQUEST,
        actor=created_by,
        to_status=RequestStatus.OPEN,
        reason="created",
    )
    if filed_by_partner and referred:
        audit(
            actor=created_by,
            action="referral_create",
            subject=help_request,
            after={"partner": partner.name, "category": category.slug, "urgency": urgency},
        )
    elif filed_by_partner:
        audit(
            actor=None,
            action="api_request_create",
            subject=help_request,
            after={"partner": partner.name, "category": category.slug, "urgency": urgency},
        )
    elif requester is None:
        audit(
            actor=created_by,
            action="phone_intake",
            subject=help_request,
            after={"category": category.slug, "urgency": urgency},
        )
    publish(help_request, ChangeKind.CREATED)
    schedule_matching(community.pk)
    return help_request


def _refers_for(user: User, partner) -> bool:
    from mutualaid.partners.referrals import refers_for  # partners builds on this module

    return refers_for(user, partner)


def _referred_by(user: User, help_request: HelpRequest) -> bool:
    from mutualaid.partners.referrals import referred_by  # partners builds on this module

    return referred_by(user, help_request)


def _check_people_needed(people_needed: int) -> None:
    if not 1 <= people_needed <= MAX_PEOPLE_NEEDED:
        raise ValidationError(
            {"people_needed": _("Ask for between 1 and %(most)s volunteers.") % {"most": MAX_PEOPLE_NEEDED}}
        )


def _check_category(category: Category, community_id: int) -> None:
    if category.community_id != community_id or not category.is_active:
        raise ValidationError({"category": _("Choose one of the categories offered in your community.")})


def _check_when(time_windows: Iterable[tuple[dt.date, int]], any_time: bool) -> list[tuple[dt.date, int]]:
    windows = sorted(set(time_windows))
    if not any_time and not windows:
        raise ValidationError({"time_windows": _("Say when you need help, or tick 'any time'.")})
    if not any_time and any(part_of_day_has_passed(date, part) for date, part in windows):
        raise ValidationError({"time_windows": _("A day or part of the day you chose has passed.")})
    return windows


# An expired request can be changed too: new times open it again (kinder than posting anew).
EDITABLE_REQUEST_STATUSES = (RequestStatus.OPEN, RequestStatus.PROPOSED, RequestStatus.EXPIRED)


@transaction.atomic
def help_request_edit(
    *,
    help_request: HelpRequest,
    actor: User,
    category: Category,
    description: str,
    urgency: int,
    location: Location,
    time_windows: Iterable[tuple[dt.date, int]] = (),
    any_time: bool = False,
    language_needed: str = "",
    people_needed: int | None = None,
) -> HelpRequest:
    """Change what, when and where (and how many volunteers), while no volunteer has accepted.

    A volunteer who was asked but has not answered is asked no more (they were asked about
    the old request) and matching looks again. Once someone accepted, the citizen adds a
    note for them instead (`help_request_add_note`).
    """
    help_request = locked_request(help_request.pk)
    if help_request.requester_id != actor.pk and not coordinates(actor, help_request.community_id):
        raise PermissionDenied
    if help_request.status not in EDITABLE_REQUEST_STATUSES:
        raise TaskActionError(
            _("This request can no longer be changed (%(status)s).")
            % {"status": help_request.get_status_display()}
        )
    if help_request.assignments.filter(status=AssignmentStatus.ACCEPTED).exists():
        # Part of the team is coming: they agreed to this request, not to another one.
        raise TaskActionError(
            _("Volunteers have already accepted this request: leave a note for them instead.")
        )
    _check_category(category, help_request.community_id)
    if people_needed is not None:
        _check_people_needed(people_needed)
    windows = _check_when(time_windows, any_time)
    before = _editable_fields(help_request)
    volunteer_ids = []
    for assignment in help_request.assignments.select_for_update().filter(status=AssignmentStatus.PROPOSED):
        set_assignment_status(assignment, AssignmentStatus.CANCELLED, actor=actor, reason="changed")
        volunteer_ids.append(assignment.volunteer_id)
    if help_request.status in (RequestStatus.PROPOSED, RequestStatus.EXPIRED):
        set_request_status(help_request, RequestStatus.OPEN, actor=actor, reason="changed")
    help_request.category = category
    help_request.description = description
    help_request.urgency = urgency
    help_request.any_time = any_time
    help_request.language_needed = language_needed
    if people_needed is not None:
        help_request.people_needed = people_needed
    help_request.address = location.address
    help_request.latitude, help_request.longitude = location.latitude, location.longitude
    help_request.neighbourhood = location.neighbourhood
    help_request.save()
    help_request.time_windows.all().delete()
    if not any_time:
        TimeWindow.objects.bulk_create(
            TimeWindow(help_request=help_request, date=date, part_of_day=part) for date, part in windows
        )
    after = _editable_fields(help_request)
    # Which fields changed, not their content: the audit log outlives the personal data.
    audit(
        actor=actor,
        action="request_edit",
        subject=help_request,
        after={"changed": sorted(name for name in after if after[name] != before[name])},
    )
    publish(help_request, ChangeKind.CHANGED, volunteer_ids)
    schedule_matching(help_request.community_id)
    return help_request


def _editable_fields(help_request: HelpRequest) -> dict:
    return {
        "category": help_request.category_id,
        "description": help_request.description,
        "urgency": help_request.urgency,
        "people_needed": help_request.people_needed,
        "when": (help_request.any_time, sorted(help_request.time_windows.values_list("date", "part_of_day"))),
        "language_needed": help_request.language_needed,
        "place": (help_request.address, help_request.latitude, help_request.longitude),
    }


@transaction.atomic
def help_request_add_note(*, help_request: HelpRequest, actor: User, note: str) -> HelpRequest:
    """A note for the volunteer who is coming ("ring at the back door"), after acceptance."""
    help_request = locked_request(help_request.pk)
    if help_request.requester_id != actor.pk and not coordinates(actor, help_request.community_id):
        raise PermissionDenied
    partly_staffed = (
        help_request.status == RequestStatus.PROPOSED
        and help_request.assignments.filter(status=AssignmentStatus.ACCEPTED).exists()
    )
    if help_request.status != RequestStatus.ACCEPTED and not partly_staffed:
        raise TaskActionError(_("A note is for the volunteer who accepted; change the request instead."))
    note = note.strip()
    if not note:
        raise ValidationError({"note": _("Write the note for the volunteer.")})
    help_request.note_for_volunteer = note
    help_request.save(update_fields=["note_for_volunteer", "updated_at"])
    audit(actor=actor, action="request_note", subject=help_request)
    volunteer_ids = list(
        help_request.assignments.filter(status=AssignmentStatus.ACCEPTED).values_list(
            "volunteer_id", flat=True
        )
    )
    publish(help_request, ChangeKind.NOTE, volunteer_ids)
    return help_request


def _filed_with_key(created_by: User, idempotency_key: str) -> HelpRequest | None:
    return HelpRequest.objects.filter(created_by=created_by, idempotency_key=idempotency_key).first()


@transaction.atomic
def help_request_cancel(
    *, help_request: HelpRequest, actor: User, reason: str = "", partner=None
) -> HelpRequest:
    """Cancel a request that is not done yet; a volunteer already on it is released.

    A partner organisation cancels its own requests (as its system user, `actor`); an
    active referrer the ones they referred themselves.
    """
    help_request = locked_request(help_request.pk)
    by_partner = (
        partner is not None and help_request.partner_id == partner.pk and partner.system_user_id == actor.pk
    )
    if partner is not None and not by_partner:
        raise PermissionDenied
    by_referrer = (
        not by_partner
        and help_request.partner_id is not None
        and help_request.requester_id is None
        and _referred_by(actor, help_request)
    )
    if (
        not by_partner
        and not by_referrer
        and help_request.requester_id != actor.pk
        and not coordinates(actor, help_request.community_id)
    ):
        raise PermissionDenied
    if help_request.status in FINISHED_REQUEST_STATUSES:
        raise TaskActionError(
            _("This request is already %(status)s.") % {"status": help_request.get_status_display()}
        )
    volunteer_ids = []
    for assignment in help_request.assignments.select_for_update().filter(
        status__in=LIVE_ASSIGNMENT_STATUSES
    ):
        set_assignment_status(assignment, AssignmentStatus.CANCELLED, actor=actor, reason=reason)
        volunteer_ids.append(assignment.volunteer_id)
    if by_partner:
        audit(
            actor=None,
            action="api_request_cancel",
            subject=help_request,
            before={"status": help_request.status},
            after={"status": RequestStatus.CANCELLED, "partner": partner.name, "reason": reason},
        )
    elif by_referrer:
        audit(
            actor=actor,
            action="referral_cancel",
            subject=help_request,
            before={"status": help_request.status},
            after={"status": RequestStatus.CANCELLED, "reason": reason},
        )
    elif help_request.requester_id != actor.pk:
        audit(
            actor=actor,
            action="cancel",
            subject=help_request,
            before={"status": help_request.status},
            after={"status": RequestStatus.CANCELLED, "reason": reason},
        )
    set_request_status(help_request, RequestStatus.CANCELLED, actor=actor, reason=reason)
    publish(help_request, ChangeKind.CANCELLED, volunteer_ids)
    return help_request


EXPIRABLE_REQUEST_STATUSES = (RequestStatus.OPEN, RequestStatus.PROPOSED)


def every_window_has_passed(help_request: HelpRequest, now: dt.datetime | None = None) -> bool:
    """Whether the request was for given times only, and all of them are over."""
    if help_request.any_time:
        return False
    windows = list(help_request.time_windows.all())
    return bool(windows) and all(window.has_passed(now) for window in windows)


@transaction.atomic
def help_request_expire_if_time_passed(*, help_request: HelpRequest, now: dt.datetime | None = None) -> bool:
    """Expire a request no one accepted while its every chosen time passed; False if it
    does not (any time, a time still ahead, accepted or finished meanwhile).

    Its pending proposal ends with it. The citizen (or the coordinator who calls the caller
    back) sees that the time passed, and can choose new times to open it again.
    """
    help_request = locked_request(help_request.pk)
    if help_request.status not in EXPIRABLE_REQUEST_STATUSES:
        return False
    if help_request.assignments.filter(status=AssignmentStatus.ACCEPTED).exists():
        return False  # partly staffed: the volunteers found still come, and can mark it done
    if not every_window_has_passed(help_request, now):
        return False
    volunteer_ids = []
    for assignment in help_request.assignments.select_for_update().filter(status=AssignmentStatus.PROPOSED):
        set_assignment_status(assignment, AssignmentStatus.EXPIRED, actor=None, reason="time_passed")
        volunteer_ids.append(assignment.volunteer_id)
    set_request_status(help_request, RequestStatus.EXPIRED, actor=None, reason="time_passed")
    publish(help_request, ChangeKind.TIME_PASSED, volunteer_ids)
    return True


def expire_requests_whose_time_passed(*, now: dt.datetime | None = None) -> int:
    """Expire every waiting request whose chosen times have all passed, each in its own
    transaction (the service locks and checks again: a worker may race another, or a
    volunteer may accept meanwhile); returns how many expired."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    candidates = (
        HelpRequest.objects.filter(
            status__in=EXPIRABLE_REQUEST_STATUSES, any_time=False, time_windows__isnull=False
        )
        .exclude(time_windows__date__gt=today)
        .exclude(assignments__status=AssignmentStatus.ACCEPTED)
        .distinct()
        .only("pk")
    )
    return sum(
        help_request_expire_if_time_passed(help_request=candidate, now=now) for candidate in candidates
    )


def help_requests_set_waiting_reasons(*, reasons: dict[HelpRequest, str]) -> list[HelpRequest]:
    """Store why open requests wait (matching's reasons); tell whoever sees a reason change.

    For matching runs, inside the caller's transaction, with the requests already locked.
    Returns the requests whose reason changed.
    """
    changed = []
    for help_request, reason in reasons.items():
        if help_request.unassigned_reason != reason:
            help_request.unassigned_reason = reason
            changed.append(help_request)
    HelpRequest.objects.bulk_update(changed, ["unassigned_reason"])
    publish_task_changes([change_of(help_request, "waiting", []) for help_request in changed])
    return changed
