"""Reads the views share, each already limited to what its reader may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.validators import slug_re
from django.db.models import Count, F, Prefetch, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import Http404
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _
from geopy.distance import great_circle

from mutualaid.accounts.models import User
from mutualaid.aid.models import (
    Assignment,
    AuditEntry,
    Category,
    Community,
    HelpRequest,
    StatusChange,
    TimeWindow,
)
from mutualaid.aid.places import coarse_point
from mutualaid.aid.states import LIVE_ASSIGNMENT_STATUSES, AssignmentStatus, RequestStatus


def is_coordinator_of(user: User, community_id: int) -> bool:
    return user.is_authenticated and (
        user.is_superuser or (user.is_coordinator and user.community_id == community_id)
    )


def _with_live_assignment(queryset: QuerySet[HelpRequest]) -> QuerySet[HelpRequest]:
    live = Assignment.objects.filter(status__in=LIVE_ASSIGNMENT_STATUSES).select_related("volunteer")
    return queryset.select_related("category", "community").prefetch_related(
        Prefetch("assignments", queryset=live, to_attr="live_assignments"), "time_windows"
    )


def requests_of_citizen(user: User) -> QuerySet[HelpRequest]:
    """A citizen's own requests, newest first, with who is coming."""
    return _with_live_assignment(HelpRequest.objects.filter(requester=user))


def request_for_viewer(user: User, request_id: int) -> HelpRequest:
    """One request, if the viewer is its requester or coordinates its community; else 404."""
    help_request = _with_live_assignment(HelpRequest.objects.all()).filter(pk=request_id).first()
    if help_request is None:
        raise Http404
    if help_request.requester_id == user.pk or is_coordinator_of(user, help_request.community_id):
        return help_request
    raise Http404  # the same answer as for a missing id, so ids cannot be probed


@dataclass(frozen=True)
class TaskForVolunteer:
    """What a volunteer may see of a task: exact place and contact only while accepted."""

    assignment: Assignment
    category: str
    description: str
    urgency: str
    windows: list[TimeWindow]
    any_time: bool
    neighbourhood: str
    latitude: float
    longitude: float
    exact: bool
    address: str
    requester_name: str
    requester_phone: str
    note: str


def task_for_volunteer(assignment: Assignment) -> TaskForVolunteer:
    help_request = assignment.help_request
    exact = assignment.status == AssignmentStatus.ACCEPTED
    if exact:
        latitude, longitude = help_request.latitude, help_request.longitude
    else:
        latitude, longitude = coarse_point(help_request.latitude, help_request.longitude)
    requester = help_request.requester
    return TaskForVolunteer(
        assignment=assignment,
        category=help_request.category.label,
        description=help_request.description,
        urgency=help_request.get_urgency_display(),
        windows=list(help_request.time_windows.all()),
        any_time=help_request.any_time,
        neighbourhood=help_request.neighbourhood,
        latitude=latitude,
        longitude=longitude,
        exact=exact,
        address=help_request.address if exact else "",
        requester_name=(requester.display_name if requester else "") if exact else "",
        requester_phone=(requester.phone if requester else "") if exact else "",
        note=help_request.note_for_volunteer if exact else "",
    )


def _volunteer_assignments(user: User) -> QuerySet[Assignment]:
    return (
        Assignment.objects.filter(volunteer=user)
        .select_related("help_request__category", "help_request__requester")
        .prefetch_related("help_request__time_windows")
    )


def inbox_of_volunteer(user: User) -> dict[str, list[TaskForVolunteer]]:
    """Proposals waiting for an answer, tasks accepted, and the recent past."""
    assignments = list(_volunteer_assignments(user).order_by("-proposed_at")[:100])
    inbox: dict[str, list[TaskForVolunteer]] = {"proposed": [], "accepted": [], "past": []}
    for assignment in assignments:
        bucket = assignment.status if assignment.status in LIVE_ASSIGNMENT_STATUSES else "past"
        inbox[bucket].append(task_for_volunteer(assignment))
    return inbox


def assignment_for_volunteer(user: User, assignment_id: int) -> Assignment:
    assignment = _volunteer_assignments(user).filter(pk=assignment_id).first()
    if assignment is None:
        raise Http404
    return assignment


def community_for_coordinator(user: User, slug: str | None = None) -> Community:
    """The community a coordinator runs (a superuser may pick any by slug)."""
    if user.is_superuser:
        if slug:
            # An unknown slug is a 404, never silently another community's data.
            # Text that is no slug (a NUL byte breaks a PostgreSQL query) is unknown too.
            community = Community.objects.filter(slug=slug).first() if slug_re.match(slug) else None
        else:
            community = user.community or Community.objects.first()
    elif user.is_coordinator:
        community = user.community
    else:
        community = None
    if community is None:
        raise Http404
    return community


BOARD_STATUSES = (
    RequestStatus.OPEN,
    RequestStatus.PROPOSED,
    RequestStatus.ACCEPTED,
    RequestStatus.EXPIRED,
    RequestStatus.DONE,
)
# Of these only the last few are shown: the work is in the other columns.
BOARD_SHORT_STATUSES = (RequestStatus.EXPIRED, RequestStatus.DONE)


def community_board(community: Community, *, per_status: int = 50, done_shown: int = 10) -> dict:
    """The coordinator dashboard: counts and the latest tasks of each status (of finished
    ones only the last few: the work is in the other columns). Three queries whatever the
    community's size: the columns come from one query numbering each status's rows."""
    counts = dict(
        HelpRequest.objects.filter(community=community)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    live = Assignment.objects.filter(status__in=LIVE_ASSIGNMENT_STATUSES).select_related("volunteer")
    # Numbered on the narrow rows only (id, status, updated_at), then fetched whole.
    latest_ids = (
        HelpRequest.objects.filter(community=community, status__in=BOARD_STATUSES)
        .annotate(
            rank=Window(
                RowNumber(), partition_by=F("status"), order_by=[F("updated_at").desc(), F("pk").desc()]
            )
        )
        .filter(
            Q(rank__lte=per_status, status__in=set(BOARD_STATUSES) - set(BOARD_SHORT_STATUSES))
            | Q(rank__lte=done_shown, status__in=BOARD_SHORT_STATUSES)
        )
        .values("pk")
    )
    latest = (
        HelpRequest.objects.filter(pk__in=latest_ids)
        .select_related("category", "community", "requester")
        .prefetch_related(Prefetch("assignments", queryset=live, to_attr="live_assignments"))
        .order_by("-updated_at", "-pk")
    )
    by_status: dict[str, list[HelpRequest]] = {status: [] for status in BOARD_STATUSES}
    for help_request in latest:
        by_status[help_request.status].append(help_request)
    columns = [
        {
            "status": status,
            "label": RequestStatus(status).label,
            "count": counts.get(status, 0),
            "requests": by_status[status],
        }
        for status in BOARD_STATUSES
    ]
    volunteers = community.volunteer_offers.aggregate(
        total=Count("pk"), active=Count("pk", filter=Q(is_paused=False))
    )
    return {"columns": columns, "volunteers": volunteers, "cancelled": counts.get(RequestStatus.CANCELLED, 0)}


ACTIVE_REQUEST_STATUSES = (RequestStatus.OPEN, RequestStatus.PROPOSED, RequestStatus.ACCEPTED)


def requests_with_phone(community: Community, phone: str, *, filed_with_key: str = "") -> list[HelpRequest]:
    """The community's active requests of whoever has this phone (E.164): a caller who
    phones again may be asking for what is already being looked after. Not the one filed
    with `filed_with_key` (a retried post of the same form is no second request)."""
    if not phone:
        return []
    found = HelpRequest.objects.filter(community=community, status__in=ACTIVE_REQUEST_STATUSES)
    if filed_with_key:
        found = found.exclude(idempotency_key=filed_with_key)
    return list(
        found.filter(Q(contact_phone=phone) | Q(requester__phone=phone))
        .select_related("category")
        .order_by("-created_at")[:10]
    )


@dataclass(frozen=True)
class CallBack:
    """A phoned-in request whose caller should hear about a change."""

    help_request: HelpRequest
    volunteer: User | None
    what_to_say: str


def _callbacks_pending(community: Community) -> QuerySet[HelpRequest]:
    return HelpRequest.objects.filter(
        community=community,
        requester__isnull=True,
        status__in=[
            RequestStatus.ACCEPTED,
            RequestStatus.DONE,
            RequestStatus.CANCELLED,
            RequestStatus.EXPIRED,
        ],
    ).exclude(called_back_status=F("status"))


def callbacks_count(community: Community) -> int:
    """How many people callbacks_for_community lists (one query: the dashboard's button)."""
    return _callbacks_pending(community).count()


def callbacks_for_community(community: Community) -> list[CallBack]:
    """People without an account to call: their request was accepted, done, cancelled, or
    expired (every time they chose passed with no one found: they must be told)."""
    pending = _with_live_assignment(_callbacks_pending(community)).order_by("updated_at")
    calls = []
    for help_request in pending:
        volunteer = help_request.live_assignments[0].volunteer if help_request.live_assignments else None
        if help_request.status == RequestStatus.ACCEPTED and volunteer is not None:
            what = _("Accepted: tell %(caller)s that %(volunteer)s (%(phone)s) is coming.") % {
                "caller": help_request.contact_name,
                "volunteer": volunteer.display_name,
                "phone": volunteer.phone or _("no phone given"),
            }
        elif help_request.status == RequestStatus.DONE:
            what = _("Done: ask %(caller)s whether all went well.") % {"caller": help_request.contact_name}
        elif help_request.status == RequestStatus.EXPIRED:
            what = _(
                "The time passed and no one was found: tell %(caller)s, and ask whether "
                "another time would do (change the request's times to look again)."
            ) % {"caller": help_request.contact_name}
        else:
            what = _("Cancelled: let %(caller)s know.") % {"caller": help_request.contact_name}
        calls.append(CallBack(help_request, volunteer, what))
    return calls


@dataclass(frozen=True)
class VolunteerChoice:
    volunteer: User
    km: float
    has_skill: bool
    in_range: bool
    is_paused: bool


def volunteer_choices(help_request: HelpRequest, *, limit: int = 40) -> list[VolunteerChoice]:
    """The community's volunteers for a coordinator's override: skilled and near first."""
    offers = (
        help_request.community.volunteer_offers.select_related("volunteer")
        .prefetch_related("skills")
        .filter(volunteer__is_active=True)
    )
    point = (help_request.latitude, help_request.longitude)
    choices = []
    for offer in offers:
        km = great_circle(point, (offer.latitude, offer.longitude)).km
        has_skill = any(skill.pk == help_request.category_id for skill in offer.skills.all())
        choices.append(
            VolunteerChoice(offer.volunteer, round(km, 1), has_skill, km <= offer.max_km, offer.is_paused)
        )
    choices.sort(key=lambda choice: (not choice.has_skill, choice.is_paused, choice.km))
    return choices[:limit]


def accounts_matching_caller(help_request: HelpRequest) -> QuerySet[User]:
    """Accounts whose phone or e-mail is the caller's: candidates to attach the request to."""
    digits = "".join(character for character in help_request.contact_phone if character.isdigit())
    people = User.objects.filter(community_id=help_request.community_id, is_active=True)
    if len(digits) < 6:
        return people.none()
    matches = [
        person.pk
        for person in people.exclude(phone="").only("pk", "phone")
        if "".join(character for character in str(person.phone) if character.isdigit()).endswith(digits[-8:])
    ]
    return people.filter(pk__in=matches)


def volunteers_for_message(
    *,
    community: Community,
    volunteer: User | None = None,
    skill: Category | None = None,
    neighbourhood: str = "",
) -> QuerySet[User]:
    """Whom a coordinator's message reaches: one volunteer, or those with a skill in an area."""
    people = User.objects.filter(volunteer_offer__community=community, is_active=True).exclude(email="")
    if volunteer is not None:
        return people.filter(pk=volunteer.pk)
    if skill is not None:
        people = people.filter(volunteer_offer__skills=skill)
    if neighbourhood:
        people = people.filter(volunteer_offer__neighbourhood=neighbourhood)
    return people.distinct()


# What coordinators did to a request that is no status of it, read from the audit log.
HISTORY_ACTIONS = ("hold", "release_hold", "reassign")


@dataclass(frozen=True)
class HistoryNote:
    """A line of a request's history that is no status change (a hold, a reassignment)."""

    at: dt.datetime
    actor: User | None
    what: str
    why: str = ""
    is_note: bool = True


def _clock(value: str) -> str:
    return time_format(timezone.localtime(dt.datetime.fromisoformat(value)), "H:i")


def _note(entry: AuditEntry, people: dict[int, User]) -> HistoryNote:
    def name(user_id) -> str:
        person = people.get(user_id)
        return person.display_name if person else _("a volunteer")

    if entry.action == "hold":
        what = _("Held away from matching until %(time)s") % {"time": _clock(entry.after["held_until"])}
    elif entry.action == "release_hold":
        what = _("Hold released")
    else:
        what = _("Given to %(volunteer)s instead of %(previous)s") % {
            "volunteer": name(entry.after.get("volunteer")),
            "previous": name(entry.before.get("volunteer")),
        }
    return HistoryNote(entry.at, entry.actor, what, entry.after.get("reason", ""))


def request_history_for_coordinators(help_request: HelpRequest) -> list[StatusChange | HistoryNote]:
    """Every status change of the request and, beside them, its holds and reassignments
    (coordinators' business: the citizen's page shows the status changes only)."""
    changes = list(help_request.status_changes.select_related("actor", "assignment__volunteer"))
    entries = list(
        AuditEntry.objects.filter(subject=f"help_request:{help_request.pk}", action__in=HISTORY_ACTIONS)
        .select_related("actor")
        .order_by("at", "pk")
    )
    people = User.objects.in_bulk(
        {
            user_id
            for entry in entries
            if entry.action == "reassign"
            for user_id in (entry.before.get("volunteer"), entry.after.get("volunteer"))
            if user_id
        }
    )
    notes = [_note(entry, people) for entry in entries]
    return sorted(changes + notes, key=lambda line: line.at)


def messages_about_request(help_request: HelpRequest):
    """What was sent about a request, on which channel, and what became of it."""
    return help_request.outgoing_messages.select_related("recipient").order_by("created_at", "pk")
