"""Reads the views share, each already limited to what its reader may see."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist
from django.core.validators import slug_re
from django.db.models import Count, Exists, F, Max, OuterRef, Prefetch, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import Http404
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _
from geopy.distance import great_circle

from matching.fairness import recent_turns_filter
from mutualaid.accounts.models import User
from mutualaid.aid.models import (
    VETTING_CHECKS,
    Assignment,
    AuditEntry,
    CallKind,
    Category,
    Community,
    ConcernReport,
    HelpRequest,
    HelpSeries,
    StatusChange,
    TaskExpense,
    TaskFeedback,
    TeamNote,
    TimeWindow,
    VolunteerCheck,
    VolunteerOffer,
)
from mutualaid.aid.money import format_money
from mutualaid.aid.places import coarse_point
from mutualaid.aid.recurrence import occurrence_dates
from mutualaid.aid.states import LIVE_ASSIGNMENT_STATUSES, TAKEN_BY_ANOTHER, AssignmentStatus, RequestStatus


def is_coordinator_of(user: User, community_id: int) -> bool:
    return user.is_authenticated and (
        user.is_superuser or (user.is_coordinator and user.community_id == community_id)
    )


def _with_live_assignment(queryset: QuerySet[HelpRequest]) -> QuerySet[HelpRequest]:
    live = Assignment.objects.filter(status__in=LIVE_ASSIGNMENT_STATUSES).select_related("volunteer")
    return queryset.select_related("category", "community", "call_taken_by").prefetch_related(
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
    # Once done: the person's thanks (their words only) and what the volunteer paid.
    thanks: TaskFeedback | None = None
    expense: TaskExpense | None = None
    # A task for several volunteers: how many it needs, how many have accepted, and (once
    # this volunteer accepted too) the first names of the others coming.
    people_needed: int = 1
    places_found: int = 0
    others_coming: tuple[str, ...] = ()
    # An urgent request asked of several volunteers at once: how many others were asked.
    others_asked: int = 0


def _related_or_none(record, name: str):
    try:
        return getattr(record, name)
    except ObjectDoesNotExist:
        return None


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
        thanks=_thanks_for(assignment),
        expense=_related_or_none(assignment, "expense"),
        **_team_for(assignment, exact),
        others_asked=help_request.asked_at_once - 1 if assignment.status == AssignmentStatus.PROPOSED else 0,
    )


def _thanks_for(assignment: Assignment) -> TaskFeedback | None:
    """The thanks, for the volunteer who did the task (a "did not come" is not shown to them:
    the coordinators hear both sides first)."""
    if assignment.status != AssignmentStatus.DONE:
        return None
    feedback = _related_or_none(assignment.help_request, "feedback")
    return feedback if feedback is not None and feedback.kind == TaskFeedback.Kind.THANKS else None


def _team_for(assignment: Assignment, exact: bool) -> dict:
    help_request = assignment.help_request
    if not help_request.needs_several:
        return {}
    found = help_request.coming()
    others = tuple(
        other.volunteer.first_name or other.volunteer.username
        for other in found
        if other.volunteer_id != assignment.volunteer_id
    )
    return {
        "people_needed": help_request.people_needed,
        "places_found": len(found),
        # Names only for a team member who is coming (not for a proposal, nor after).
        "others_coming": others if exact else (),
    }


def _volunteer_assignments(user: User) -> QuerySet[Assignment]:
    # Asked beside others for an urgent request, and one of them accepted first.
    taken = StatusChange.objects.filter(assignment=OuterRef("pk"), reason=TAKEN_BY_ANOTHER)
    return (
        Assignment.objects.filter(volunteer=user)
        .annotate(taken_by_another=Exists(taken))
        .select_related(
            "help_request__category",
            "help_request__community",
            "help_request__requester",
            "help_request__feedback",
            "expense",
        )
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
        .select_related("category", "community", "requester", "call_taken_by")
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
        if help_request.status == RequestStatus.ACCEPTED and help_request.needs_several:
            what = _("Accepted: tell %(caller)s that %(volunteers)s are coming.") % {
                "caller": help_request.contact_name,
                "volunteers": ", ".join(
                    f"{place.volunteer.display_name} ({place.volunteer.phone or _('no phone given')})"
                    for place in sorted(help_request.live_assignments, key=lambda place: place.pk)
                ),
            }
        elif help_request.status == RequestStatus.ACCEPTED and volunteer is not None:
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


@dataclass(frozen=True)
class VolunteerLoad:
    """What a volunteer carries: tasks accepted, proposals waiting for their answer, and the
    recent turns fair turns count."""

    active_tasks: int = 0
    pending_proposals: int = 0
    recent_turns: int = 0
    last_answer: dt.datetime | None = None


def volunteer_loads(
    volunteers: QuerySet | list[int], now: dt.datetime | None = None
) -> dict[int, VolunteerLoad]:
    """The load of each of these volunteers (ids, or a query of ids), in one query over their
    live and recent assignments only (a volunteer with none is absent: no load)."""
    now = now or timezone.now()
    recent = recent_turns_filter(now)
    rows = (
        Assignment.objects.filter(volunteer_id__in=volunteers)
        .filter(Q(status__in=LIVE_ASSIGNMENT_STATUSES) | recent)
        .values("volunteer_id")
        .annotate(
            active=Count("pk", filter=Q(status=AssignmentStatus.ACCEPTED)),
            pending=Count("pk", filter=Q(status=AssignmentStatus.PROPOSED)),
            recent=Count("pk", filter=recent),
        )
        .order_by()
    )
    return {row["volunteer_id"]: VolunteerLoad(row["active"], row["pending"], row["recent"]) for row in rows}


DIRECTORY_PAGE_SIZE = 50
PHONE_LIKE = re.compile(r"[\d\s+()./-]*\d[\d\s+()./-]*")


def _phone_digits(text: str) -> str:
    """The digits of a phone number as its E.164 form holds them: a national number's
    leading 0 dropped ("0470 99 88 77" finds "+32470998877")."""
    digits = "".join(character for character in text if character.isdigit())
    return digits[1:] if digits.startswith("0") else digits


def volunteer_directory(community: Community, query: str = "") -> QuerySet[VolunteerOffer]:
    """The community's volunteers for coordinators, by name, searchable by name or username
    (every word) or by phone (any part of the number); `with_load` adds a page's load."""
    offers = (
        VolunteerOffer.objects.filter(community=community)
        .select_related("volunteer")
        .prefetch_related("skills")
        .order_by("volunteer__last_name", "volunteer__first_name", "pk")
    )
    if PHONE_LIKE.fullmatch(query):
        # A number as people write it ("0470 12 34 56"), spaces and all: one phone to find.
        digits = _phone_digits(query)
        return offers.filter(volunteer__phone__contains=digits) if len(digits) >= 3 else offers.none()
    for word in query.split()[:5]:
        offers = offers.filter(
            Q(volunteer__first_name__icontains=word)
            | Q(volunteer__last_name__icontains=word)
            | Q(volunteer__username__icontains=word)
        )
    return offers


def with_load(offers: list[VolunteerOffer]) -> list[VolunteerOffer]:
    """Attach `load` (a VolunteerLoad with the last answer) to each offer of a page: two
    queries over these volunteers' assignments, whatever the size of the community."""
    volunteer_ids = [offer.volunteer_id for offer in offers]
    loads = volunteer_loads(volunteer_ids)
    last_answers = dict(
        Assignment.objects.filter(volunteer_id__in=volunteer_ids, responded_at__isnull=False)
        .values("volunteer_id")
        .annotate(last=Max("responded_at"))
        .order_by()
        .values_list("volunteer_id", "last")
    )
    for offer in offers:
        load = loads.get(offer.volunteer_id, VolunteerLoad())
        offer.load = dataclasses.replace(load, last_answer=last_answers.get(offer.volunteer_id))
    return offers


@dataclass(frozen=True)
class Vetting:
    """Where a volunteer stands with their checks today."""

    is_vetted: bool
    valid_until: dt.date | None  # when the first check they need runs out (None: never)
    checks: list[VolunteerCheck]


def vetting_of(volunteer_ids, day: dt.date | None = None) -> dict[int, Vetting]:
    """Each volunteer's checks (newest first) and whether they are vetted on `day`, in one query."""
    day = day or timezone.localdate()
    checks: dict[int, list[VolunteerCheck]] = {}
    for check in VolunteerCheck.objects.filter(volunteer_id__in=volunteer_ids).select_related("checked_by"):
        checks.setdefault(check.volunteer_id, []).append(check)
    vetting = {}
    for volunteer_id in volunteer_ids:
        own = checks.get(volunteer_id, [])
        # Per kind needed, the latest date its best valid check runs to (date.max: no end).
        runs_to: dict[str, dt.date] = {}
        for check in own:
            if check.kind in VETTING_CHECKS and check.is_valid_on(day):
                end = check.expires_on or dt.date.max
                runs_to[check.kind] = max(end, runs_to.get(check.kind, end))
        is_vetted = set(runs_to) >= set(VETTING_CHECKS)
        until = min(runs_to.values()) if is_vetted else None
        vetting[volunteer_id] = Vetting(is_vetted, None if until == dt.date.max else until, own)
    return vetting


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
HISTORY_ACTIONS = (
    "hold",
    "release_hold",
    "reassign",
    "team_note",
    "call_taken",
    "call_released",
    "call_done",
    # Closing the loop (services/closing.py, expenses.py).
    "thanks",
    "help_not_came",
    "not_helped_followed_up",
    "expense_recorded",
    "expense_repaid",
    "expense_disputed",
    "expense_settled",
)


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


def _call_kind_label(kind: str) -> str:
    return str(CallKind(kind).label) if kind in CallKind.values else kind


def _note(entry: AuditEntry, people: dict[int, User], team_notes: dict[int, TeamNote]) -> HistoryNote:
    def name(user_id) -> str:
        person = people.get(user_id)
        return person.display_name if person else _("a volunteer")

    def note_text() -> str:
        note = team_notes.get(entry.after.get("note"))
        return note.text if note else ""

    if entry.action == "team_note":
        return HistoryNote(entry.at, entry.actor, _("Team note"), note_text())
    if entry.action == "call_taken":
        what = _("Call taken (%(kind)s)") % {"kind": _call_kind_label(entry.after.get("kind", ""))}
        return HistoryNote(entry.at, entry.actor, what)
    if entry.action == "call_released":
        what = _("Call released (%(kind)s)") % {"kind": _call_kind_label(entry.before.get("kind", ""))}
        return HistoryNote(entry.at, entry.actor, what)
    if entry.action == "call_done":
        what = _("Call made (%(kind)s)") % {"kind": _call_kind_label(entry.before.get("kind", ""))}
        return HistoryNote(entry.at, entry.actor, what, note_text())
    closing = _closing_note(entry)
    if closing is not None:
        return closing
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


def _closing_note(entry: AuditEntry) -> HistoryNote | None:
    """The person's answer and the expense's steps, as lines of the history."""
    amount = format_money(entry.after["amount"]) if "amount" in entry.after else ""
    lines = {
        "thanks": _("The person said thank you"),
        "help_not_came": _("The person said the help did not come"),
        "not_helped_followed_up": _("“The help did not come” followed up"),
        "expense_recorded": _("Expense recorded: %(amount)s") % {"amount": amount},
        "expense_repaid": _("Expense paid back: %(amount)s") % {"amount": amount},
        "expense_disputed": _("Expense disputed: %(amount)s") % {"amount": amount},
        "expense_settled": _("Expense settled: %(amount)s") % {"amount": amount},
    }
    if entry.action not in lines:
        return None
    return HistoryNote(entry.at, entry.actor, lines[entry.action])


@dataclass(frozen=True)
class FollowUp:
    """A done request the coordinators must still look after, and why."""

    help_request: HelpRequest
    why: str  # "not_helped", "disputed" or "unconfirmed"


@dataclass(frozen=True)
class FollowUps:
    items: list[FollowUp]
    unconfirmed_days: int

    @property
    def count(self) -> int:
        return len(self.items)


def follow_ups_for_community(
    community: Community, *, now: dt.datetime | None = None, limit: int = 50
) -> FollowUps:
    """ "The help did not come" not yet followed up, disputed expenses, and expenses the
    person has not confirmed paying back for EXPENSE_UNCONFIRMED_DAYS days, oldest first
    (one query, whatever the community's size)."""
    from mutualaid.aid.services.expenses import unconfirmed_expense_days, unconfirmed_since

    not_helped = Q(feedback__kind=TaskFeedback.Kind.NOT_HELPED, feedback__followed_up_at__isnull=True)
    disputed = Q(expense__status=TaskExpense.Status.DISPUTED)
    unconfirmed = Q(
        expense__status=TaskExpense.Status.RECORDED, expense__recorded_at__lte=unconfirmed_since(now)
    )
    requests = (
        HelpRequest.objects.filter(community=community)
        .filter(not_helped | disputed | unconfirmed)
        .select_related("category", "call_taken_by", "feedback", "expense__assignment__volunteer")
        .order_by("updated_at", "pk")[:limit]
    )
    items = []
    for help_request in requests:
        feedback = getattr(help_request, "feedback", None)
        if feedback is not None and feedback.needs_follow_up:
            items.append(FollowUp(help_request, "not_helped"))
        expense = getattr(help_request, "expense", None)
        if expense is not None and expense.status == TaskExpense.Status.DISPUTED:
            items.append(FollowUp(help_request, "disputed"))
        elif expense is not None and expense.status == TaskExpense.Status.RECORDED:
            items.append(FollowUp(help_request, "unconfirmed"))
    return FollowUps(items, unconfirmed_expense_days())


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
    team_notes = TeamNote.objects.in_bulk([entry.after["note"] for entry in entries if "note" in entry.after])
    notes = [_note(entry, people, team_notes) for entry in entries]
    return sorted(changes + notes, key=lambda line: line.at)


def messages_about_request(help_request: HelpRequest):
    """What was sent about a request, on which channel, and what became of it."""
    return help_request.outgoing_messages.select_related("recipient").order_by("created_at", "pk")


def team_notes_of_request(help_request: HelpRequest) -> list[TeamNote]:
    """The team's notes on a request, oldest first (coordinators of its community only)."""
    return list(help_request.team_notes.select_related("author"))


def concern_reports_for_community(community: Community) -> dict[str, list[ConcernReport]]:
    """The community's safeguarding reports: open ones first (oldest first), then the last
    ones dealt with."""
    reports = ConcernReport.objects.filter(community=community).select_related(
        "reporter", "person__volunteer_offer", "help_request", "dealt_with_by"
    )
    return {
        "open": list(reports.filter(status=ConcernReport.Status.OPEN).order_by("created_at", "pk")),
        "dealt_with": list(
            reports.filter(status=ConcernReport.Status.DEALT_WITH).order_by("-dealt_with_at")[:50]
        ),
    }


def suspended_volunteers(community: Community) -> list[VolunteerOffer]:
    return list(
        VolunteerOffer.objects.filter(community=community, suspended_at__isnull=False)
        .select_related("volunteer", "suspended_by")
        .order_by("suspended_at")
    )


def volunteer_offer_for_coordinator(user: User, volunteer_id: int) -> VolunteerOffer:
    """A volunteer's offer, if the viewer coordinates the volunteer's community; else 404."""
    offer = (
        VolunteerOffer.objects.select_related("volunteer", "suspended_by")
        .filter(volunteer_id=volunteer_id)
        .first()
    )
    if offer is None or not is_coordinator_of(user, offer.community_id):
        raise Http404
    return offer


def concern_report_for_coordinator(user: User, report_id: int) -> ConcernReport:
    report = ConcernReport.objects.filter(pk=report_id).first()
    if report is None or not is_coordinator_of(user, report.community_id):
        raise Http404
    return report


@dataclass(frozen=True)
class SeriesForViewer:
    """Recurring help as its citizen and their coordinators see it: the rule in words, the
    occurrences filed and still ahead (with who is coming), and the next days to come."""

    series: HelpSeries
    label: str
    coming: list[HelpRequest]
    later_days: list[dt.date]
    standing_volunteer_names: list[str]


def series_for_viewer(series: HelpSeries, *, later: int = 3) -> SeriesForViewer:
    """For a page whose reader may already see the series' requests (the requester or a
    coordinator of the community: `request_for_viewer`, `requests_of_citizen`)."""
    today = timezone.localdate()
    coming = list(
        _with_live_assignment(series.occurrences.filter(series_date__gte=today)).order_by("series_date")
    )
    filed = {occurrence.series_date for occurrence in coming}
    later_days = []
    if series.active:
        horizon = today + dt.timedelta(days=7 * series.every_weeks * (later + 2))
        for day in occurrence_dates(series.rule, series.starts, max(today, series.starts), horizon):
            if day not in filed and not series.is_paused_on(day):
                later_days.append(day)
            if len(later_days) == later:
                break
    return SeriesForViewer(
        series=series,
        label=series.label_with_people,
        coming=coming,
        later_days=later_days,
        standing_volunteer_names=[
            person.display_name for person in series.standing_volunteers.order_by("pk")
        ],
    )


@dataclass(frozen=True)
class SeriesForVolunteer:
    """Recurring help as a volunteer with a task of it sees it: the rule (and how many
    volunteers each time), whether they come every time, and whether they still can."""

    label: str
    every_weeks: int
    active: bool
    comes_every_time: bool
    can_come_every_time: bool


def series_for_volunteer(series: HelpSeries, volunteer: User) -> SeriesForVolunteer:
    standing = set(series.standing_volunteers.values_list("pk", flat=True))
    mine = volunteer.pk in standing
    return SeriesForVolunteer(
        label=series.label_with_people,
        every_weeks=series.every_weeks,
        active=series.active,
        comes_every_time=mine,
        # A place no standing volunteer holds yet (`series._check_can_commit` says so too).
        can_come_every_time=series.active and not mine and len(standing) < series.people_needed,
    )


def series_of_citizen(user: User) -> list[SeriesForViewer]:
    """A citizen's recurring help still going, newest first."""
    return [
        series_for_viewer(series)
        for series in HelpSeries.objects.filter(requester=user, active=True).select_related("category")
    ]
