"""What happened: the one list of change kinds that services announce, the dispatcher
routes, live events carry and the page script reads (`{% change_kinds_script %}` in the
base template puts it on every page as JSON, so the script never spells a kind of its own).
"""

from __future__ import annotations

from enum import StrEnum


class ChangeKind(StrEnum):
    # A task's changes: the request's or its assignment's status moved.
    CREATED = "created"
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    UNASSIGNED = "unassigned"
    DONE = "done"
    EXPIRED = "expired"  # a proposal went unanswered
    TIME_PASSED = "time_passed"  # the request: every wanted time passed, no one found
    CANCELLED = "cancelled"
    ATTACHED = "attached"
    CHANGED = "changed"  # the citizen changed what, when or where
    NOTE = "note"  # the citizen left a note for the volunteer who is coming
    # Closing the loop once a task is done (mutualaid/aid/services/closing.py, expenses.py):
    # the person thanked the volunteer, or said the help did not come (the coordinators
    # hear of it); an expense recorded, confirmed or settled; an expense disputed.
    THANKED = "thanked"
    NOT_HELPED = "not_helped"
    EXPENSE = "expense"
    EXPENSE_DISPUTED = "expense_disputed"
    # A task for several volunteers: one of them did their part, others still have theirs.
    PLACE_DONE = "place_done"
    # A task for several volunteers still short of people a day before it starts.
    SHORT_STAFFED = "short_staffed"
    # A task for several volunteers: who else is coming changed (the others' pages update).
    TEAM = "team"
    # Not a change: the day before an accepted task, its volunteer hears of it again.
    REMINDER = "reminder"
    # A community dashboard's changes that are no task's status.
    VOLUNTEERS = "volunteers"
    HELD = "held"
    HOLD_RELEASED = "hold_released"
    CALLED_BACK = "called_back"
    # The team's own work on a request: notes, and who has taken its call.
    TEAM_NOTE = "team_note"
    CALL_TAKEN = "call_taken"
    CALL_RELEASED = "call_released"
    # Safeguarding: a concern reported, a volunteer suspended or the suspension lifted.
    CONCERN = "concern"
    SUSPENSION = "suspension"


# What a dashboard hears that no citizen's page does (holds are coordinators' business).
COMMUNITY_KINDS = (
    ChangeKind.VOLUNTEERS,
    ChangeKind.HELD,
    ChangeKind.HOLD_RELEASED,
    ChangeKind.CALLED_BACK,
    ChangeKind.TEAM_NOTE,
    ChangeKind.CALL_TAKEN,
    ChangeKind.CALL_RELEASED,
    ChangeKind.CONCERN,
    ChangeKind.SUSPENSION,
)


def for_page_script() -> dict:
    """What every page's script is given: the live event types and the kinds of task
    changes they carry (not the dashboards' own kinds, which say nothing to a citizen)."""
    from notifications.events import EVENT_TYPES

    return {
        "event_types": list(EVENT_TYPES),
        "task_kinds": [kind.value for kind in ChangeKind if kind not in COMMUNITY_KINDS],
    }
