"""Recurring help: a series (the rule and what each time asks, for one volunteer or
several), its occurrences (ordinary help requests filed ahead of time by the worker) and
the volunteers who come every time.

An occurrence is matched like any request, unless the series has standing volunteers
(who accepted "every week"): then each of them holds one of its places at once, recorded
as such, and matching looks for the places left. A series has at most as many standing
volunteers as places. Each can give back one occurrence (their place goes to matching as
usual) or their whole commitment (their place of the coming occurrences goes to matching).
The citizen or a coordinator cancels one occurrence (as any request), the whole series, or
pauses it over the holidays.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from geopy.distance import great_circle

from mutualaid.accounts.models import User
from mutualaid.aid.models import (
    Assignment,
    Category,
    Community,
    HelpRequest,
    HelpSeries,
    RepeatEvery,
    Urgency,
    VolunteerOffer,
    part_of_day_has_passed,
    vetted_volunteer_ids,
)
from mutualaid.aid.places import Location, coarse_point
from mutualaid.aid.recurrence import build_rule, occurrence_dates
from mutualaid.aid.services._records import (
    TaskActionError,
    coordinates,
    locked_assignment,
    locked_request,
    publish,
    set_assignment_status,
    settle_request_status,
    tell_the_team,
)
from mutualaid.aid.services.assignments import (
    GIVE_BACK_REASON,
    assignment_accept,
    assignment_propose,
    has_open_place,
    release,
)
from mutualaid.aid.services.audit import audit
from mutualaid.aid.services.requests import (
    _check_people_needed,
    _refers_for,
    e164_if_valid,
    help_request_cancel,
    help_request_create,
)
from mutualaid.aid.states import (
    CANCELLABLE_REQUEST_STATUSES,
    LIVE_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    RequestStatus,
)
from notifications.kinds import ChangeKind

logger = logging.getLogger(__name__)

STANDING_REASON = "standing"


def check_series_dates(starts: dt.date, part_of_day: int, until: dt.date | None) -> None:
    """The first day must be ahead, and the last not before it (messages next to the fields)."""
    if part_of_day_has_passed(starts, part_of_day):
        raise ValidationError({"repeat_starts": _("This day has passed: pick the first day still ahead.")})
    if until is not None and until < starts:
        raise ValidationError({"repeat_until": _("The last day cannot be before the first.")})


@transaction.atomic
def help_series_create(
    *,
    community: Community,
    requester: User | None,
    created_by: User,
    category: Category,
    description: str,
    location: Location,
    every_weeks: int,
    starts: dt.date,
    part_of_day: int,
    until: dt.date | None = None,
    language_needed: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    text_caller: bool = False,
    partner=None,
    people_needed: int = 1,
) -> HelpSeries:
    """Ask for help every week (or two) on `starts`'s day and part of the day, until `until`
    or until cancelled, by `people_needed` volunteers each time; files the occurrences
    already due at once.

    A partner organisation files as for a single request (its system user, or one of its
    active referrers, as `created_by`): every occurrence is then the partner's request."""
    if partner is not None and not (
        partner.community_id == community.pk
        and (partner.system_user_id == created_by.pk or _refers_for(created_by, partner))
    ):
        raise PermissionDenied
    if requester is None and partner is None and not coordinates(created_by, community.pk):
        raise PermissionDenied
    if requester is None and not (contact_name.strip() and contact_phone.strip()):
        raise ValidationError({"contact_name": _("Give the name and phone of the person who called.")})
    if category.community_id != community.pk or not category.is_active:
        raise ValidationError({"category": _("Choose one of the categories offered in your community.")})
    if every_weeks not in RepeatEvery.values:
        raise ValidationError({"repeat": _("Choose every week or every two weeks.")})
    _check_people_needed(people_needed)
    check_series_dates(starts, part_of_day, until)
    series = HelpSeries.objects.create(
        community=community,
        requester=requester,
        created_by=created_by,
        contact_name=contact_name.strip(),
        contact_phone=e164_if_valid(contact_phone.strip()),
        text_caller=text_caller and requester is None,
        category=category,
        description=description,
        language_needed=language_needed,
        address=location.address,
        latitude=location.latitude,
        longitude=location.longitude,
        neighbourhood=location.neighbourhood,
        rule=build_rule(every_weeks, starts, until),
        starts=starts,
        until=until,
        part_of_day=part_of_day,
        people_needed=people_needed,
        partner=partner,
    )
    audit(
        actor=created_by,
        action="series_create",
        subject=series,
        after={
            "rule": series.rule,
            "starts": starts.isoformat(),
            "category": category.slug,
            "people_needed": people_needed,
        },
    )
    _file_due_occurrences(series, timezone.localdate())
    return series


def due_dates(series: HelpSeries, today: dt.date) -> list[dt.date]:
    """The series' days from today to `RECURRING_HELP_DAYS_AHEAD` days ahead (excluded),
    skipping a pause and a part of today already over."""
    last = today + dt.timedelta(days=settings.RECURRING_HELP_DAYS_AHEAD - 1)
    return [
        day
        for day in occurrence_dates(series.rule, series.starts, max(today, series.starts), last)
        if not series.is_paused_on(day) and not part_of_day_has_passed(day, series.part_of_day)
    ]


def _file_due_occurrences(series: HelpSeries, today: dt.date) -> list[HelpRequest]:
    """With the series locked (or just created): file each due occurrence not filed yet."""
    if not series.active:
        return []
    filed_days = set(series.occurrences.values_list("series_date", flat=True))
    standing = _standing_volunteers(series)
    filed = []
    for day in due_dates(series, today):
        if day in filed_days:
            continue
        occurrence = help_request_create(
            community=series.community,
            requester=series.requester,
            created_by=series.created_by,
            category=series.category,
            description=series.description,
            urgency=Urgency.THIS_WEEK,
            location=Location(series.latitude, series.longitude, series.address, series.neighbourhood),
            time_windows=[(day, series.part_of_day)],
            contact_name=series.contact_name,
            contact_phone=series.contact_phone,
            text_caller=series.text_caller,
            language_needed=series.language_needed,
            partner=series.partner,
            people_needed=series.people_needed,
        )
        # The unique (series, day) constraint is the last guard against a second filing.
        occurrence.series, occurrence.series_date = series, day
        occurrence.save(update_fields=["series", "series_date"])
        for volunteer in standing:  # one place each (never more of them than places)
            _give_to_standing_volunteer(series, volunteer, occurrence)
        filed.append(occurrence)
    return filed


def _standing_volunteers(series: HelpSeries) -> list[User]:
    """The series' standing volunteers, in the order they committed."""
    through = HelpSeries.standing_volunteers.through
    ids = through.objects.filter(helpseries_id=series.pk).order_by("pk").values_list("user_id", flat=True)
    people = User.objects.in_bulk(list(ids))
    return [people[pk] for pk in ids if pk in people]


def _standing_volunteer_cannot(series: HelpSeries, volunteer: User, occurrence: HelpRequest) -> str:
    """Why this standing volunteer cannot take a place of this occurrence now ("" when
    they can)."""
    if not has_open_place(occurrence):
        return "no place left"
    offer = VolunteerOffer.objects.select_for_update().filter(volunteer=volunteer).first()
    if offer is None or offer.community_id != series.community_id:
        return "no offer"
    if offer.is_suspended:
        return "suspended"
    if offer.is_paused:
        return "paused"
    if series.category.requires_vetting and not vetted_volunteer_ids([volunteer.pk], timezone.localdate()):
        return "not vetted"
    carrying = Assignment.objects.filter(volunteer=volunteer, status__in=LIVE_ASSIGNMENT_STATUSES).count()
    if carrying >= offer.capacity:
        return "at capacity"
    return ""


def _give_to_standing_volunteer(
    series: HelpSeries, volunteer: User, occurrence: HelpRequest
) -> Assignment | None:
    """One place of the occurrence (open, or with a place left) becomes the standing
    volunteer's accepted task, recorded as coming from their commitment (a proposal they
    had on it is accepted so); when they cannot take it now, it stays with matching (audited)."""
    occurrence = locked_request(occurrence.pk)
    mine = occurrence.assignments.filter(volunteer=volunteer, status__in=LIVE_ASSIGNMENT_STATUSES).first()
    if mine is not None and mine.status == AssignmentStatus.ACCEPTED:
        return mine
    why_not = "" if mine is not None else _standing_volunteer_cannot(series, volunteer, occurrence)
    if why_not:
        audit(
            actor=None,
            action="series_standing_skipped",
            subject=occurrence,
            after={"series": series.pk, "volunteer": volunteer.pk, "why": why_not},
        )
        return None
    assignment = mine
    if assignment is None:
        offer = volunteer.volunteer_offer
        km = great_circle((occurrence.latitude, occurrence.longitude), (offer.latitude, offer.longitude)).km
        assignment = assignment_propose(
            help_request=occurrence, volunteer=volunteer, km=round(km, 3), reason=STANDING_REASON
        )
        occurrence.refresh_from_db()
    set_assignment_status(assignment, AssignmentStatus.ACCEPTED, actor=None, reason=STANDING_REASON)
    # Fully staffed once every place is accepted; else matching goes on for the places left.
    settle_request_status(occurrence, actor=None, reason=STANDING_REASON, assignment=assignment)
    publish(occurrence, ChangeKind.ACCEPTED, [volunteer.pk])
    tell_the_team(occurrence, besides=volunteer.pk)
    return assignment


def series_file_due_occurrences(series: HelpSeries, today: dt.date | None = None) -> int:
    """File this series' due occurrences, under the series' row lock (two workers queue up)."""
    today = today or timezone.localdate()
    with transaction.atomic():
        series = HelpSeries.objects.select_for_update().select_related("category").get(pk=series.pk)
        return len(_file_due_occurrences(series, today))


def file_due_occurrences(today: dt.date | None = None) -> int:
    """The worker's job: every active series' occurrences due in the coming days, each series
    in its own transaction (one that fails is logged and tried again at the next turn)."""
    today = today or timezone.localdate()
    filed = 0
    for series in HelpSeries.objects.filter(active=True).exclude(until__lt=today).only("pk"):
        try:
            filed += series_file_due_occurrences(series, today)
        except (PermissionDenied, ValidationError, IntegrityError) as error:
            logger.warning("Recurring help #%s: occurrence not filed (%r)", series.pk, error)
    return filed


def _may_manage(series: HelpSeries, actor: User) -> bool:
    return series.requester_id == actor.pk or coordinates(actor, series.community_id)


def _locked_series(series: HelpSeries, actor: User) -> HelpSeries:
    series = HelpSeries.objects.select_for_update().get(pk=series.pk)
    if not _may_manage(series, actor):
        raise PermissionDenied
    return series


def _coming_occurrences(series: HelpSeries, **filters) -> list[HelpRequest]:
    return list(
        series.occurrences.filter(series_date__gte=timezone.localdate(), **filters).order_by("series_date")
    )


@transaction.atomic
def help_series_cancel(*, series: HelpSeries, actor: User, reason: str = "") -> HelpSeries:
    """Stop the series: no more occurrences, and the coming ones not done are cancelled."""
    series = _locked_series(series, actor)
    if not series.active:
        raise TaskActionError(_("This repeated help is already cancelled."))
    series.active = False
    series.save(update_fields=["active"])
    cancelled = []
    for occurrence in _coming_occurrences(series, status__in=CANCELLABLE_REQUEST_STATUSES):
        help_request_cancel(help_request=occurrence, actor=actor, reason="series cancelled")
        cancelled.append(occurrence.pk)
    audit(
        actor=actor,
        action="series_cancel",
        subject=series,
        before={"active": True},
        after={"active": False, "occurrences_cancelled": cancelled, "reason": reason[:255]},
    )
    return series


@transaction.atomic
def help_series_pause(*, series: HelpSeries, actor: User, until: dt.date | None) -> HelpSeries:
    """Holidays: no occurrence up to and with `until` (the coming ones already filed in that
    span are cancelled); `None` resumes."""
    series = _locked_series(series, actor)
    if not series.active:
        raise TaskActionError(_("This repeated help is cancelled."))
    if until is not None and until < timezone.localdate():
        raise ValidationError({"paused_until": _("This day has passed.")})
    before = series.paused_until
    series.paused_until = until
    series.save(update_fields=["paused_until"])
    cancelled = []
    if until is not None:
        in_pause = _coming_occurrences(
            series, series_date__lte=until, status__in=CANCELLABLE_REQUEST_STATUSES
        )
        for occurrence in in_pause:
            help_request_cancel(help_request=occurrence, actor=actor, reason="series paused")
            cancelled.append(occurrence.pk)
    audit(
        actor=actor,
        action="series_pause" if until else "series_resume",
        subject=series,
        before={"paused_until": before.isoformat() if before else None},
        after={"paused_until": until.isoformat() if until else None, "occurrences_cancelled": cancelled},
    )
    if until is None:
        _file_due_occurrences(series, timezone.localdate())
    for occurrence in _coming_occurrences(series, status__in=CANCELLABLE_REQUEST_STATUSES):
        publish(occurrence, ChangeKind.CHANGED)
    return series


def _check_can_commit(series: HelpSeries, volunteer: User) -> None:
    """An active series with a place no standing volunteer holds (or theirs already)."""
    if not series.active:
        raise TaskActionError(_("This repeated help is cancelled."))
    standing = set(series.standing_volunteers.values_list("pk", flat=True))
    if volunteer.pk in standing or len(standing) < series.people_needed:
        return
    if series.people_needed == 1:
        raise TaskActionError(_("Another volunteer already comes every week."))
    raise TaskActionError(
        _(
            "Each of the %(count)s places already has a volunteer who comes every time: "
            "you can still accept this day once."
        )
        % {"count": series.people_needed}
    )


def assignment_accept_every_week(*, assignment: Assignment, volunteer: User) -> Assignment:
    """ "Accept every week": this occurrence (if not accepted yet), and a place of each coming
    one as one of the series' standing volunteers (while the series has a place no standing
    volunteer holds)."""
    series_id = assignment.help_request.series_id
    if series_id is None:
        raise TaskActionError(_("This request does not repeat."))
    _check_can_commit(HelpSeries.objects.get(pk=series_id), volunteer)  # before accepting this one
    if assignment.status != AssignmentStatus.ACCEPTED:
        assignment = assignment_accept(assignment=assignment, volunteer=volunteer)
    with transaction.atomic():
        assignment, occurrence = locked_assignment(assignment.pk)
        if assignment.volunteer_id != volunteer.pk:
            raise PermissionDenied
        if assignment.status != AssignmentStatus.ACCEPTED:
            raise TaskActionError(_("Only a task you accepted can be taken every week."))
        series = HelpSeries.objects.select_for_update().select_related("category").get(pk=series_id)
        _check_can_commit(series, volunteer)
        series.standing_volunteers.add(volunteer)
        audit(
            actor=volunteer,
            action="series_standing_commit",
            subject=series,
            after={"volunteer": volunteer.pk, "from_occurrence": occurrence.pk},
        )
        # A place of each coming occurrence already filed and still looking for people.
        waiting = _coming_occurrences(
            series, status__in=(RequestStatus.OPEN, RequestStatus.PROPOSED), held_until__isnull=True
        )
        for coming in waiting:
            if coming.pk != occurrence.pk:
                _give_to_standing_volunteer(series, volunteer, coming)
        publish(occurrence, ChangeKind.CHANGED, [volunteer.pk])
    return assignment


@transaction.atomic
def help_series_give_back_all(*, series: HelpSeries, volunteer: User) -> HelpSeries:
    """A standing volunteer ends their commitment: their place of the coming occurrences goes
    to matching (the other standing volunteers keep theirs)."""
    series = HelpSeries.objects.select_for_update().get(pk=series.pk)
    if not series.standing_volunteers.filter(pk=volunteer.pk).exists():
        raise TaskActionError(_("You do not come every week for this request."))
    series.standing_volunteers.remove(volunteer)
    given_back = []
    staffed = (RequestStatus.PROPOSED, RequestStatus.ACCEPTED)  # a team may be partly staffed
    for occurrence in _coming_occurrences(series, status__in=staffed):
        for assignment in occurrence.assignments.filter(
            volunteer=volunteer, status=AssignmentStatus.ACCEPTED
        ):
            assignment, locked = locked_assignment(assignment.pk)
            release(assignment, locked, actor=volunteer, reason=GIVE_BACK_REASON, change=ChangeKind.WITHDRAWN)
            given_back.append(occurrence.pk)
    audit(
        actor=volunteer,
        action="series_standing_give_back",
        subject=series,
        before={"volunteer": volunteer.pk},
        after={"volunteer": None, "occurrences_given_back": given_back},
    )
    return series


FORGOTTEN_DESCRIPTION = "(removed)"  # personal_data.FORGOTTEN (which builds on the services)


def series_forget_person(person: User) -> None:
    """An account is deleted: their repeated help stops and forgets its details (no more
    occurrences are filed for no one), and their weekly commitments end (their coming
    occurrences go to matching when `account_delete` withdraws their tasks)."""
    with transaction.atomic():
        for series in HelpSeries.objects.select_for_update().filter(requester=person):
            before = {"active": series.active}
            series.active = False
            series.description = FORGOTTEN_DESCRIPTION
            series.address = ""
            series.latitude, series.longitude = coarse_point(series.latitude, series.longitude)
            series.contact_name = series.contact_phone = ""
            series.save()
            audit(actor=None, action="series_account_deleted", subject=series, before=before)
        for series in HelpSeries.objects.select_for_update().filter(standing_volunteers=person):
            series.standing_volunteers.remove(person)
            audit(
                actor=None,
                action="series_standing_give_back",
                subject=series,
                before={"volunteer": person.pk},
                after={"volunteer": None, "reason": "account deleted"},
            )
