"""The two state machines: exactly the transitions in the tables are allowed."""

import itertools

import pytest

from mutualaid.aid.states import (
    ASSIGNMENT_TRANSITIONS,
    REQUEST_TRANSITIONS,
    AssignmentStatus,
    InvalidTransition,
    RequestStatus,
    check_assignment_transition,
    check_request_transition,
)

REQUEST_PAIRS = list(itertools.product(RequestStatus.values, repeat=2))
ASSIGNMENT_PAIRS = list(itertools.product(AssignmentStatus.values, repeat=2))
FORBIDDEN_REQUEST_PAIRS = [pair for pair in REQUEST_PAIRS if pair not in REQUEST_TRANSITIONS]
FORBIDDEN_ASSIGNMENT_PAIRS = [pair for pair in ASSIGNMENT_PAIRS if pair not in ASSIGNMENT_TRANSITIONS]


def _ids(pairs):
    return [f"{from_status}->{to_status}" for from_status, to_status in pairs]


def test_the_tables_only_name_known_statuses():
    assert {status for pair in REQUEST_TRANSITIONS for status in pair} <= set(RequestStatus.values)
    assert {status for pair in ASSIGNMENT_TRANSITIONS for status in pair} <= set(AssignmentStatus.values)


def test_the_forbidden_pairs_include_every_same_to_same_pair():
    assert all((status, status) in FORBIDDEN_REQUEST_PAIRS for status in RequestStatus.values)
    assert all((status, status) in FORBIDDEN_ASSIGNMENT_PAIRS for status in AssignmentStatus.values)


def test_the_request_lifecycle_is_exactly_the_documented_one():
    # open -> proposed -> accepted -> done; a failed proposal goes back to open, and so
    # does a task a coordinator unassigns; cancellable until done; a waiting request
    # expires when every chosen time passed (never once accepted) and new times open it
    # again. A request for several volunteers also goes accepted -> proposed (one of the
    # team gave their place back) and proposed -> done (the team who came finished with
    # places never filled). A new arrow must be a deliberate change of this test.
    assert {
        "open->proposed",
        "proposed->accepted",
        "proposed->open",
        "accepted->open",
        "accepted->done",
        "open->cancelled",
        "proposed->cancelled",
        "accepted->cancelled",
        "open->expired",
        "proposed->expired",
        "expired->open",
        "accepted->proposed",
        "proposed->done",
    } == set(_ids(REQUEST_TRANSITIONS))


def test_the_assignment_lifecycle_is_exactly_the_documented_one():
    assert {
        "proposed->accepted",
        "proposed->declined",
        "proposed->expired",
        "proposed->cancelled",
        "accepted->done",
        "accepted->cancelled",
    } == set(_ids(ASSIGNMENT_TRANSITIONS))


@pytest.mark.parametrize(
    ("from_status", "to_status"), sorted(REQUEST_TRANSITIONS), ids=_ids(sorted(REQUEST_TRANSITIONS))
)
def test_allowed_request_transition_passes(from_status, to_status):
    check_request_transition(from_status, to_status)


@pytest.mark.parametrize(
    ("from_status", "to_status"), FORBIDDEN_REQUEST_PAIRS, ids=_ids(FORBIDDEN_REQUEST_PAIRS)
)
def test_any_other_request_transition_is_refused(from_status, to_status):
    with pytest.raises(InvalidTransition) as raised:
        check_request_transition(from_status, to_status)
    assert (raised.value.subject, raised.value.from_status, raised.value.to_status) == (
        "help request",
        from_status,
        to_status,
    )
    assert f"'{from_status}'" in str(raised.value) and f"'{to_status}'" in str(raised.value)


@pytest.mark.parametrize(
    ("from_status", "to_status"), sorted(ASSIGNMENT_TRANSITIONS), ids=_ids(sorted(ASSIGNMENT_TRANSITIONS))
)
def test_allowed_assignment_transition_passes(from_status, to_status):
    check_assignment_transition(from_status, to_status)


@pytest.mark.parametrize(
    ("from_status", "to_status"), FORBIDDEN_ASSIGNMENT_PAIRS, ids=_ids(FORBIDDEN_ASSIGNMENT_PAIRS)
)
def test_any_other_assignment_transition_is_refused(from_status, to_status):
    with pytest.raises(InvalidTransition) as raised:
        check_assignment_transition(from_status, to_status)
    assert (raised.value.subject, raised.value.from_status, raised.value.to_status) == (
        "assignment",
        from_status,
        to_status,
    )


def test_a_finished_request_can_never_change_again():
    for final in (RequestStatus.DONE, RequestStatus.CANCELLED):
        assert not [pair for pair in REQUEST_TRANSITIONS if pair[0] == final]


def test_an_answered_assignment_can_never_change_again():
    for final in (
        AssignmentStatus.DECLINED,
        AssignmentStatus.EXPIRED,
        AssignmentStatus.DONE,
        AssignmentStatus.CANCELLED,
    ):
        assert not [pair for pair in ASSIGNMENT_TRANSITIONS if pair[0] == final]
