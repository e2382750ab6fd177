"""The task lifecycle as explicit state machines.

A help request goes open -> proposed -> accepted -> done; a failed proposal (declined,
expired) sends it back to open; it can be cancelled until it is done. When every time it
was wanted has passed before anyone accepted, it expires (its pending proposal with it);
changing its times opens it again. Each proposal is an
Assignment with its own small machine. Services consult these tables before any change.

A request for several volunteers (`people_needed` > 1) has one place per volunteer, each
filled by its own Assignment, and its status says how far its places are: open while none
is live, proposed while some are live but not all accepted (partly staffed: the places
left go on being matched), accepted once every place is accepted, done once every volunteer
who accepted has done their part. A request for one volunteer moves exactly as before.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RequestStatus(models.TextChoices):
    OPEN = "open", _("Looking for a volunteer")
    PROPOSED = "proposed", _("Proposed to a volunteer")
    ACCEPTED = "accepted", _("A volunteer is coming")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("The time passed: no one was found")


class AssignmentStatus(models.TextChoices):
    # Neutral, as coordinators and exports show it too; the volunteer's own pages say
    # "Waiting for your answer" (templates/aid/_assignment_status.html).
    PROPOSED = "proposed", _("Proposed, no answer yet")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Expired")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


REQUEST_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (RequestStatus.OPEN, RequestStatus.PROPOSED),
        (RequestStatus.PROPOSED, RequestStatus.ACCEPTED),
        (RequestStatus.PROPOSED, RequestStatus.OPEN),  # declined or expired
        (RequestStatus.ACCEPTED, RequestStatus.DONE),
        (RequestStatus.ACCEPTED, RequestStatus.OPEN),  # a coordinator unassigns the volunteer
        (RequestStatus.OPEN, RequestStatus.CANCELLED),
        (RequestStatus.PROPOSED, RequestStatus.CANCELLED),
        (RequestStatus.ACCEPTED, RequestStatus.CANCELLED),
        # Every wanted time passed with no one found; an accepted task does not expire
        # (its volunteer may still mark it done).
        (RequestStatus.OPEN, RequestStatus.EXPIRED),
        (RequestStatus.PROPOSED, RequestStatus.EXPIRED),
        (RequestStatus.EXPIRED, RequestStatus.OPEN),  # the citizen chose new times
        # Several volunteers only: one of a fully staffed team gives their place back, or
        # the team who came finished with places never filled.
        (RequestStatus.ACCEPTED, RequestStatus.PROPOSED),
        (RequestStatus.PROPOSED, RequestStatus.DONE),
    }
)

ASSIGNMENT_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (AssignmentStatus.PROPOSED, AssignmentStatus.ACCEPTED),
        (AssignmentStatus.PROPOSED, AssignmentStatus.DECLINED),
        (AssignmentStatus.PROPOSED, AssignmentStatus.EXPIRED),
        (AssignmentStatus.PROPOSED, AssignmentStatus.CANCELLED),
        (AssignmentStatus.ACCEPTED, AssignmentStatus.DONE),
        (AssignmentStatus.ACCEPTED, AssignmentStatus.CANCELLED),
    }
)

LIVE_ASSIGNMENT_STATUSES = (AssignmentStatus.PROPOSED, AssignmentStatus.ACCEPTED)
CANCELLABLE_REQUEST_STATUSES = (RequestStatus.OPEN, RequestStatus.PROPOSED, RequestStatus.ACCEPTED)
# Nothing more happens to these by itself (an expired request opens again only when changed).
FINISHED_REQUEST_STATUSES = (RequestStatus.DONE, RequestStatus.CANCELLED, RequestStatus.EXPIRED)


class InvalidTransition(Exception):
    """The requested change is not allowed from the object's current state."""

    def __init__(self, subject: str, from_status: str, to_status: str) -> None:
        self.subject, self.from_status, self.to_status = subject, from_status, to_status
        super().__init__(f"A {subject} cannot go from '{from_status}' to '{to_status}'.")


def check_request_transition(from_status: str, to_status: str) -> None:
    if (from_status, to_status) not in REQUEST_TRANSITIONS:
        raise InvalidTransition("help request", from_status, to_status)


def check_assignment_transition(from_status: str, to_status: str) -> None:
    if (from_status, to_status) not in ASSIGNMENT_TRANSITIONS:
        raise InvalidTransition("assignment", from_status, to_status)


# On an assignment's record (StatusChange.SYSTEM_REASONS): an urgent request was asked of
# several volunteers at once, and another one accepted first.
TAKEN_BY_ANOTHER = "taken by another"

# The most volunteers one place is proposed to at once (urgent requests, and a request whose
# volunteers have not answered): the database's places guard holds proposals to it.
MOST_ASKED_AT_ONCE = 3
