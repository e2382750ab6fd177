"""Abuse: thousands of hypothesis-generated inputs to every form, query and socket message.

For every form view the fuzzer starts from data that would succeed and replaces, drops or
adds fields with text, unicode, huge, empty, NUL-byte and number-like values. For each
input, in a savepoint rolled back afterwards (every input meets the same world, that of
`tests/web/test_access_matrix.py`):

- no server error (the test client re-raises a view's exception, so a 500 fails here);
- a response other than a redirect saved nothing (the database is compared before/after);
- a refused input says why: the form page shows its errors, a redirect carries a message,
  a 400 has an explanation;
- whatever was saved is complete: the endpoint's own check (a new request has its
  `StatusChange` and time windows...), and the task invariants for every request (at most
  one live assignment, statuses of request and assignment agree with each other and with
  their last `StatusChange`).

Socket messages go through `WebsocketCommunicator` to the real consumer: it always answers
with an `action.result`, never crashes or closes, and nothing changes without `ok: true`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import os
from http.cookies import SimpleCookie

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mutualaid.accounts.models import User
from mutualaid.aid import services
from mutualaid.aid.models import (
    Assignment,
    AuditEntry,
    CoordinatorMessage,
    HelpRequest,
    StatusChange,
    VolunteerOffer,
)
from mutualaid.aid.states import LIVE_ASSIGNMENT_STATUSES
from notifications.models import OutgoingMessage
from tests.conftest import PASSWORD, examples, post_request, sign_in
from tests.web import test_access_matrix as matrix

# The world of the access matrix: a citizen's requests A (proposed), B (accepted), O (open),
# a phoned-in C, a Herent request H, and their people.
world = matrix.world
isolated_channel_layer = matrix.isolated_channel_layer
database_state = matrix.database_state
body_of = matrix.body_of

# Inputs per form (a tenth in the quick profile); FUZZ_EXAMPLES=1000 for a longer run by hand.
FORM_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", examples(90)))
# A NUL byte in any parameter is refused before the view (mutualaid.operations.unavailable).
NUL_REFUSED = "a character that is not allowed"
QUERY_EXAMPLES = FORM_EXAMPLES
SOCKET_EXAMPLES = 4 * FORM_EXAMPLES
FUZZ = settings(
    max_examples=FORM_EXAMPLES,
    deadline=None,
    database=None,  # nothing written into the working tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
INPUTS = {"count": 0}
ANSWER_SECONDS = 10  # the consumer answers in milliseconds; a crash shows at once

NASTY = [
    "", " ", "\x00", "a\x00b", "0", "-1", "1", "2", "0.25", "24", "24.01", "1e309", "-1e309", "nan",
    "NaN", "inf", "-inf", "1_000", "0x10", "99999999999999999999", "-99999999999999999999",
    "9223372036854775808", "true", "on", "off", "null", "None", "[]", "{}", '{"a": 1}',
    "<script>alert(1)</script>", "' OR 1=1 --", "%00", "../../etc/passwd", "é", "🙂", "\u202e",
    "\ufeff", "\r\n", "\t", "2025-02-30", "9999-12-31", "0001-01-01", "2020-01-01", "+32 470 11 22 33",
    "=HYPERLINK(\"http://evil.example\")", "Naamsestraat 12, 3000 Leuven",
]  # fmt: skip
# NUL bytes and extreme dates get a branch of their own: PostgreSQL refuses NUL in text, and
# the calendar ends in years 1 and 9999; both must still meet a clear answer, not a 500.
EDGES = ["\x00", "a\x00b", "\x00" * 3, "0001-01-01", "9999-12-31", "9999-12-30", "0001-01-02"]
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
# Long values are built when drawn, so that the strategies' repr stays short.
HUGE = st.sampled_from([("x", 256), ("x", 5001), ("ü", 100_000)]).map(lambda pair: pair[0] * pair[1])
VALUE = st.one_of(
    st.sampled_from(NASTY),
    st.sampled_from(EDGES),
    HUGE,
    TEXT,
    st.integers().map(str),
    st.floats().map(repr),
)
FIELD_VALUE = st.one_of(VALUE, st.lists(VALUE, min_size=0, max_size=3))
KEY = st.one_of(
    st.sampled_from(
        ["id", "pk", "status", "requester", "community", "is_superuser", "is_staff", "is_coordinator"]
    ),
    TEXT,
)


@pytest.fixture
def no_rate_limits(settings):
    settings.RATE_LIMITS = {group: "1000000/m" for group in settings.RATE_LIMITS}


@pytest.fixture(scope="module", autouse=True)
def report_inputs(request):
    # pytest-django runs the transactional (socket) tests last, so this module's fixtures may
    # be set up twice: the count runs on, and the last line printed is the total.
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and INPUTS["count"]:
        reporter.write_line(f"fuzzing: {INPUTS['count']} inputs tried (running total)")


@st.composite
def mutated(draw, valid: dict) -> dict:
    """Valid data with some fields replaced or dropped, and perhaps keys nobody asked for."""
    data = dict(valid)
    if valid:
        for field in draw(st.lists(st.sampled_from(sorted(valid)), unique=True, max_size=len(valid))):
            if draw(st.integers(0, 4)) == 0:
                del data[field]
            else:
                data[field] = draw(FIELD_VALUE)
    data.update(draw(st.dictionaries(KEY, FIELD_VALUE, max_size=2)))
    return data


class Visitor:
    """One persona's client; every input starts from the same session and no messages."""

    def __init__(self, user: User | None) -> None:
        self.client = Client()
        self.session = None
        if user is not None:
            sign_in(self.client, user)
            self.session = self.client.cookies[django_settings.SESSION_COOKIE_NAME].value

    def send(self, method: str, path: str, data: dict):
        self.client.cookies = SimpleCookie()
        if self.session:
            self.client.cookies[django_settings.SESSION_COOKIE_NAME] = self.session
        INPUTS["count"] += 1
        if method == "GET":
            return self.client.get(path, data)
        # A browser always sends the CSRF token (the test client does not check it): a
        # POST is never empty, so a form never mistakes it for a first visit.
        return self.client.post(path, {"csrfmiddlewaretoken": "x" * 64} | data)


def assert_tasks_consistent() -> None:
    """Nothing half-way: requests, assignments and their recorded history agree."""
    requests = HelpRequest.objects.prefetch_related("assignments", "status_changes", "time_windows")
    for help_request in requests:
        live = [a for a in help_request.assignments.all() if a.status in LIVE_ASSIGNMENT_STATUSES]
        assert len(live) <= 1, f"request {help_request.pk}: {len(live)} live assignments"
        if help_request.status in ("proposed", "accepted"):
            assert [a.status for a in live] == [help_request.status], f"request {help_request.pk}"
        else:
            assert not live, f"request {help_request.pk} is {help_request.status} with a live assignment"
        changes = sorted(help_request.status_changes.all(), key=lambda change: change.pk)
        request_changes = [change for change in changes if change.subject == StatusChange.Subject.REQUEST]
        assert request_changes and request_changes[-1].to_status == help_request.status, (
            f"request {help_request.pk}: status {help_request.status} without its StatusChange"
        )
        for assignment in help_request.assignments.all():
            own = [change for change in changes if change.assignment_id == assignment.pk]
            own = [change for change in own if change.subject == StatusChange.Subject.ASSIGNMENT]
            assert own and own[-1].to_status == assignment.status, f"assignment {assignment.pk} history"
        if not help_request.any_time:
            assert help_request.time_windows.all(), f"request {help_request.pk} without time windows"


def says_why(response, body: str) -> bool:
    if response.status_code == 200:
        return "errorlist" in body or 'role="alert"' in body
    if response.status_code == 302:
        return bool(response.cookies.get("messages") and response.cookies["messages"].value)
    if response.status_code in (400, 429):
        return bool(body.strip())
    return response.status_code in (404, 405)


def probe(
    visitor: Visitor,
    method: str,
    path: str,
    data: dict,
    saved_completely,
    *,
    quiet_ok=False,
    saved_status=302,
):
    """One input: no 5xx, nothing saved unless redirected (or answered `saved_status`), saved
    completely, and a reason if refused."""
    with transaction.atomic():
        savepoint = transaction.savepoint()
        before = database_state()
        counts = row_counts()
        response = visitor.send(method, path, data)
        body = body_of(response)
        after = database_state()
        assert response.status_code < 500, f"{response.status_code} for {data!r}"
        if before != after:
            assert response.status_code == saved_status, (
                f"saved, yet answered {response.status_code}: {data!r}"
            )
            saved_completely(counts, data)
            assert_tasks_consistent()
        elif not quiet_ok:
            assert says_why(response, body), f"{response.status_code} without a reason for {data!r}"
        transaction.savepoint_rollback(savepoint)
    return response, body


def row_counts() -> dict[str, int]:
    return {
        "requests": HelpRequest.objects.count(),
        "changes": StatusChange.objects.count(),
        "audit": AuditEntry.objects.count(),
        "emails": OutgoingMessage.objects.count(),
        "messages": CoordinatorMessage.objects.count(),
        "users": User.objects.count(),
    }


def tomorrow() -> str:
    return (timezone.localdate() + dt.timedelta(days=1)).isoformat()


def request_data(world) -> dict:
    return {
        "category": str(world.shopping.pk),
        "description": "Bread and milk, please.",
        "urgency": "2",
        "address": "Naamsestraat 12, 3000 Leuven",
        "window_1_date": tomorrow(),
        "window_1_part": "0",
        "window_2_date": "",
        "window_2_part": "",
        "any_time": "",
        "language_needed": "",
    }


def fuzz_form(
    world, persona: str, path: str, valid: dict, saved_completely, *, method="POST", quiet_ok=False
):
    visitor = Visitor(world.people[persona])

    @FUZZ
    @given(data=mutated(valid))
    def run(data):
        probe(visitor, method, path, data, saved_completely, quiet_ok=quiet_ok)

    run()


# Forms of citizens and volunteers


def test_fuzzing_the_request_form(world, no_rate_limits):
    def saved_completely(counts, data):
        new = HelpRequest.objects.order_by("-pk").first()
        assert HelpRequest.objects.count() == counts["requests"] + 1
        assert new.requester == world.people["owner"] and new.status == "open"
        assert new.status_changes.filter(to_status="open", reason="created").count() == 1
        assert new.any_time or new.time_windows.exists()
        assert new.category.community_id == world.leuven.pk

    fuzz_form(world, "owner", reverse("request-create"), request_data(world), saved_completely)


def test_fuzzing_the_volunteer_offer_form(world, no_rate_limits):
    valid = {
        "skills": [str(world.shopping.pk)],
        "address": "Ladeuzeplein 5, 3000 Leuven",
        "latitude": "",
        "longitude": "",
        "max_km": "4",
        "availability": ["0", "1", "5"],
        "capacity": "2",
        "languages": ["nl"],
    }

    def saved_completely(counts, data):
        offer = VolunteerOffer.objects.get(volunteer=world.people["volunteer_other"])
        assert offer.skills.exists() and offer.availability
        assert all(0 <= slot <= 20 for slot in offer.availability)
        assert 0.5 <= offer.max_km <= 50 and 1 <= offer.capacity <= 10

    fuzz_form(world, "volunteer_other", reverse("offer-edit"), valid, saved_completely)


def test_fuzzing_declining_a_proposal(world, no_rate_limits):
    proposal = world.assignments["P"]

    def saved_completely(counts, data):
        proposal.refresh_from_db()
        assert proposal.status == "declined" and len(proposal.decline_reason) <= 255
        assert StatusChange.objects.count() == counts["changes"] + 2

    path = reverse("task-decline", args=[proposal.pk])
    fuzz_form(
        world, "volunteer_proposed", path, {"reason": "Away this week"}, saved_completely, quiet_ok=True
    )


def test_fuzzing_marking_a_task_done_with_hours(world, no_rate_limits):
    task = world.assignments["Q"]

    def saved_completely(counts, data):
        task.refresh_from_db()
        assert task.status == "done" and task.help_request.status == "done"
        assert task.hours_spent is None or 0.25 <= task.hours_spent <= 24
        assert StatusChange.objects.count() == counts["changes"] + 2

    fuzz_form(
        world,
        "volunteer_accepted",
        reverse("task-done", args=[task.pk]),
        {"hours_spent": "1.5"},
        saved_completely,
    )


def test_fuzzing_cancelling_a_request(world, no_rate_limits):
    request_a = world.requests["A"]

    def saved_completely(counts, data):
        request_a.refresh_from_db()
        assert request_a.status == "cancelled"
        assert StatusChange.objects.count() == counts["changes"] + 2  # the request and its proposal

    path = reverse("request-cancel", args=[request_a.pk])
    fuzz_form(world, "owner", path, {"reason": "Sorted out"}, saved_completely)


def test_fuzzing_accepting_and_pausing(world, no_rate_limits):
    proposal = world.assignments["P"]

    def accepted(counts, data):
        proposal.refresh_from_db()
        assert proposal.status == "accepted" and proposal.help_request.status == "accepted"

    def paused(counts, data):
        assert VolunteerOffer.objects.filter(volunteer=world.people["volunteer_proposed"]).count() == 1

    fuzz_form(world, "volunteer_proposed", reverse("task-accept", args=[proposal.pk]), {}, accepted)
    fuzz_form(world, "volunteer_proposed", reverse("offer-pause"), {"paused": "1"}, paused)


# People's accounts


def test_fuzzing_sign_up(world, no_rate_limits):
    valid = {
        "username": "newcomer",
        "first_name": "New",
        "last_name": "Comer",
        "email": "newcomer@example.org",
        "phone": "016 12 34 56",
        "password1": matrix.NEW_PASSWORD,
        "password2": matrix.NEW_PASSWORD,
        "community": str(world.leuven.pk),
        "preferred_language": "nl",
    }

    def saved_completely(counts, data):
        assert User.objects.count() == counts["users"] + 1
        person = User.objects.order_by("-pk").first()
        assert person.community_id is not None and person.has_usable_password() and person.username
        # Keys like is_superuser or is_coordinator in the POST give no rights.
        assert not (person.is_superuser or person.is_staff or person.is_coordinator)

    fuzz_form(world, "anonymous", reverse("signup"), valid, saved_completely)


def test_fuzzing_login(world, no_rate_limits):
    def nothing_to_save(counts, data):
        raise AssertionError("logging in saved something")

    valid = {"username": "citizen", "password": PASSWORD, "next": "/requests/"}
    # A successful login redirects without a message; a refused one shows the form's error.
    fuzz_form(world, "anonymous", reverse("login"), valid, nothing_to_save, quiet_ok=True)


def test_fuzzing_account_deletion(world, no_rate_limits):
    def saved_completely(counts, data):
        owner = User.objects.get(pk=world.people["owner"].pk)
        assert not owner.is_active and owner.username == f"deleted-{owner.pk}" and not owner.phone
        assert not HelpRequest.objects.filter(requester=owner, status__in=["open", "proposed", "accepted"])

    fuzz_form(world, "owner", reverse("account"), {"password": PASSWORD}, saved_completely)


def test_fuzzing_password_change_and_reset(world, no_rate_limits):
    valid = {
        "old_password": PASSWORD,
        "new_password1": matrix.NEW_PASSWORD,
        "new_password2": matrix.NEW_PASSWORD,
    }

    def changed(counts, data):
        new_password = data["new_password1"]
        if isinstance(new_password, list):  # several values: the form reads the last one
            new_password = new_password[-1]
        assert User.objects.get(pk=world.people["owner"].pk).check_password(new_password)

    def nothing_to_save(counts, data):
        raise AssertionError("a reset request saved something")

    fuzz_form(world, "owner", reverse("password_change"), valid, changed)
    reset = {"email": "peeters@example.org"}
    fuzz_form(world, "anonymous", reverse("password_reset"), reset, nothing_to_save, quiet_ok=True)


# Coordinators' forms


def test_fuzzing_phone_intake(world, no_rate_limits):
    valid = request_data(world) | {"contact_name": "Mrs Maes", "contact_phone": "016 23 45 67"}

    def saved_completely(counts, data):
        new = HelpRequest.objects.order_by("-pk").first()
        assert HelpRequest.objects.count() == counts["requests"] + 1
        assert new.requester is None and new.contact_name.strip() and new.contact_phone.strip()
        assert new.status_changes.filter(to_status="open").count() == 1
        assert AuditEntry.objects.count() == counts["audit"] + 1

    fuzz_form(world, "coordinator", reverse("coordinator-intake"), valid, saved_completely)


def test_fuzzing_assign_unassign_and_attach(world, no_rate_limits):
    request_o, request_b, request_c = world.requests["O"], world.requests["B"], world.requests["C"]

    def assigned(counts, data):
        request_o.refresh_from_db()
        assert request_o.status in ("proposed", "accepted")
        assert AuditEntry.objects.count() == counts["audit"] + 1

    def unassigned(counts, data):
        request_b.refresh_from_db()
        # Unassigning also holds the request for the coordinator: two entries.
        assert request_b.status == "open" and AuditEntry.objects.count() == counts["audit"] + 2
        assert request_b.is_held

    def attached(counts, data):
        request_c.refresh_from_db()
        assert request_c.requester == world.people["owner"]
        assert AuditEntry.objects.count() == counts["audit"] + 1

    assign = {
        "volunteer": str(world.people["volunteer_other"].pk),
        "reason": "She lives next door",
        "agreed_by_phone": "on",
    }
    fuzz_form(world, "coordinator", reverse("coordinator-assign", args=[request_o.pk]), assign, assigned)
    path = reverse("coordinator-unassign", args=[request_b.pk])
    fuzz_form(world, "coordinator", path, {"reason": "Ill"}, unassigned)
    path = reverse("coordinator-attach", args=[request_c.pk])
    fuzz_form(world, "coordinator", path, {"person": str(world.people["owner"].pk)}, attached)


def test_fuzzing_giving_a_task_to_another_volunteer(world, no_rate_limits):
    request_a = world.requests["A"]

    def reassigned(counts, data):
        live = Assignment.objects.get(help_request=request_a, status__in=LIVE_ASSIGNMENT_STATUSES)
        assert live.volunteer == world.people["volunteer_other"]
        assert AuditEntry.objects.filter(action="reassign").count() == 1
        assert AuditEntry.objects.count() == counts["audit"] + 1

    assign = {
        "volunteer": str(world.people["volunteer_other"].pk),
        "reason": "She lives next door",
        "agreed_by_phone": "on",
    }
    path = reverse("coordinator-reassign", args=[request_a.pk])
    fuzz_form(world, "coordinator", path, assign, reassigned)


def test_fuzzing_coordinator_messages_call_backs_and_match_now(world, no_rate_limits):
    valid = {
        "subject": "Thank you",
        "body": "Thanks for helping.",
        "volunteer": "",
        "skill": str(world.shopping.pk),
        "neighbourhood": "",
    }

    def sent(counts, data):
        message = CoordinatorMessage.objects.order_by("-pk").first()
        assert CoordinatorMessage.objects.count() == counts["messages"] + 1
        assert OutgoingMessage.objects.count() == counts["emails"] + message.recipients > counts["emails"]
        assert AuditEntry.objects.count() == counts["audit"] + 1

    def called_back(counts, data):
        assert AuditEntry.objects.count() == counts["audit"] + 1

    def queued(counts, data):
        pass  # the matching queue's due time: one column, nothing to be half-way

    fuzz_form(world, "coordinator", reverse("coordinator-messages"), valid, sent)
    path = reverse("coordinator-callback-done", args=[world.requests["C"].pk])
    fuzz_form(world, "coordinator", path, {}, called_back)
    fuzz_form(world, "coordinator", reverse("dashboard-match"), {"community": "leuven"}, queued)


# Query parameters: the export, the transparency endpoints, a superuser's community slug


def test_fuzzing_the_export_query(world, no_rate_limits):
    visitor = Visitor(world.people["coordinator"])
    dates = st.one_of(
        st.dates().map(dt.date.isoformat),
        st.sampled_from([*EDGES, "2025-02-30", "2025-13-01", " 2025-01-01 ", "20250101", ""]),
        VALUE,
        st.datetimes().map(str),
    )
    query = st.fixed_dictionaries({}, optional={"start": dates, "end": dates, "community": VALUE})

    # Found by this fuzzer once; always tried first since.
    @example(params={"start": "0001-01-01"})
    @example(params={"end": "9999-12-31"})
    @example(params={"end": "0001-01-01"})
    @settings(FUZZ, max_examples=QUERY_EXAMPLES)
    @given(params=query)
    def run(params):
        def only_the_audit_record(counts, data):
            assert row_counts() == counts | {"audit": counts["audit"] + 1}, "an export saved something"
            assert AuditEntry.objects.latest("pk").action == "export"

        path = reverse("coordinator-export")
        response, body = probe(
            visitor, "GET", path, params, only_the_audit_record, quiet_ok=True, saved_status=200
        )
        assert response.status_code in (200, 400), response.status_code
        if response.status_code == 400:
            assert "YYYY-MM-DD" in body or "is after the end" in body or NUL_REFUSED in body, body

    run()


def test_fuzzing_the_transparency_endpoints(world, no_rate_limits):
    visitor = Visitor(None)
    names = ["transparency", "transparency-csv", "transparency-json"]
    slug = st.one_of(
        st.sampled_from(["leuven", "herent", "nowhere"]),
        st.from_regex(r"[-a-zA-Z0-9_]{1,60}", fullmatch=True),
    )

    @settings(FUZZ, max_examples=QUERY_EXAMPLES)
    @given(name=st.sampled_from(names), slug=slug, params=st.dictionaries(KEY, VALUE, max_size=3))
    def run(name, slug, params):
        def nothing_to_save(counts, data):
            raise AssertionError("a public page saved something")

        path = reverse(name, args=[slug])
        response, body = probe(visitor, "GET", path, params, nothing_to_save, quiet_ok=True)
        assert response.status_code in (200, 404) or (response.status_code == 400 and NUL_REFUSED in body)
        if name == "transparency-json" and response.status_code == 200:
            assert json.loads(response.content)["community"]["slug"] == slug

    run()


def test_fuzzing_a_superusers_community_choice(world, no_rate_limits):
    """The slug of `?community=` goes into a query for a superuser: any text is a 200 or a 404."""
    visitor = Visitor(world.people["superuser"])
    pages = ["dashboard", "coordinator-callbacks", "coordinator-intake", "coordinator-messages"]

    @example(name="dashboard", community="\x00")  # found by this fuzzer once; always tried first since
    @settings(FUZZ, max_examples=QUERY_EXAMPLES)
    @given(name=st.sampled_from(pages), community=VALUE)
    def run(name, community):
        def nothing_to_save(counts, data):
            raise AssertionError("a page view saved something")

        probe(visitor, "GET", reverse(name), {"community": community}, nothing_to_save, quiet_ok=True)

    run()

    def queued(counts, data):
        pass

    fuzz_form(world, "superuser", reverse("dashboard-match"), {"community": "leuven"}, queued)


def test_fuzzing_the_language_switch(world, no_rate_limits):
    def nothing_to_save(counts, data):
        raise AssertionError("switching language saved something")

    valid = {"language": "fr", "next": "/requests/"}
    fuzz_form(world, "owner", reverse("set_language"), valid, nothing_to_save, quiet_ok=True)


# Socket messages


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=10,
)
RAW_FRAMES = [
    "", "{", "}", "nul\x00", "[]", "null", "1", '"accept"',
    '{"action": "accept", "assignment": ' + "9" * 5000 + "}",
    '{"action": "accept", "assignment": 1e999}', '{"action": "decline", "assignment": NaN}',
    '{"action": "accept", "assignment": -0}', '{"action": "accept", "action": "decline", "assignment": 1}',
]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Ref:
    """An assignment id known only when the frame is sent: "own", "other" or "missing"."""

    name: str


IDS = st.sampled_from([Ref("own"), Ref("other"), Ref("missing")])


def resolved(value, ids: dict[str, int]):
    if isinstance(value, Ref):
        return ids[value.name]
    if isinstance(value, dict):
        return {key: resolved(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [resolved(item, ids) for item in value]
    return value


def as_json(message) -> tuple[str, object]:
    return "json", message


# A real action on a real id, with any reason: the services run.
NEARLY_RIGHT_FRAMES = st.fixed_dictionaries(
    {"action": st.sampled_from(["accept", "decline"]), "assignment": IDS},
    optional={"reason": st.one_of(VALUE, JSON_VALUE)},
).map(as_json)
# Messages of any shape, values of any type, text that is not JSON, bytes, huge frames.
ANY_FRAMES = st.one_of(
    st.fixed_dictionaries(
        {
            "action": st.one_of(
                st.sampled_from(["accept", "decline", "Accept", "delete", ""]),
                JSON_VALUE,
                st.lists(TEXT, max_size=2),
                st.dictionaries(TEXT, TEXT, max_size=2),
            ),
            "assignment": st.one_of(IDS, st.integers(), st.floats(), TEXT, st.booleans(), JSON_VALUE),
        },
        optional={"reason": st.one_of(VALUE, JSON_VALUE), "volunteer": st.integers(), "status": TEXT},
    ).map(as_json),
    JSON_VALUE.map(as_json),
    TEXT.map(lambda text: ("text", text)),
    st.sampled_from(RAW_FRAMES).map(lambda text: ("text", text)),
    st.sampled_from([100_000, 1_000_000]).map(lambda size: ("text", '{"action": "' + "a" * size + '"}')),
    st.binary(max_size=64).map(lambda data: ("bytes", data)),
)
# Found by this fuzzer once; always tried first since.
KNOWN_FRAMES = {
    "nearly-right": [("json", {"action": "decline", "assignment": Ref("own"), "reason": "\x00"})],
    "any-shape": [
        ("json", {"action": [], "assignment": Ref("own")}),
        ("json", {"action": {}, "assignment": 1}),
    ],
}


class VolunteerSocket:
    """The volunteer's socket on its own event loop, driven from the (sync) test."""

    def __init__(self, user: User) -> None:
        self.loop = asyncio.new_event_loop()
        self.cookie = matrix.session_cookie(user)
        self.communicator = None
        self.reconnect()

    def reconnect(self) -> None:
        async def connect():
            from mutualaid.asgi import application

            headers = [matrix.SOCKET_ORIGIN, (b"host", b"localhost"), (b"cookie", self.cookie)]
            communicator = WebsocketCommunicator(application, "/ws/updates/", headers=headers)
            connected, _code = await communicator.connect(timeout=5)
            assert connected
            return communicator

        self.communicator = self.loop.run_until_complete(connect())

    def exchange(self, kind: str, frame) -> dict:
        """Send one frame; the consumer's answer (events it sends meanwhile are skipped)."""

        async def send_and_wait():
            # As the server would pass it on, empty frames included (send_to refuses those).
            await self.communicator.send_input({"type": "websocket.receive", kind: frame})
            while True:
                message = await self.next_output()
                assert message["type"] == "websocket.send", f"the consumer answered {message}"
                answer = json.loads(message["text"])
                if answer.get("type") == "action.result":
                    return answer

        if self.communicator.future.done():
            self.reconnect()
        INPUTS["count"] += 1
        return self.loop.run_until_complete(send_and_wait())

    async def next_output(self) -> dict:
        """The consumer's next output, or at once its exception if it crashed."""
        application = self.communicator.future
        output = asyncio.ensure_future(self.communicator.output_queue.get())
        await asyncio.wait({output, application}, timeout=ANSWER_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        if output.done():
            return output.result()
        output.cancel()
        if application.done():
            application.result()  # raises what killed the consumer
            raise AssertionError("the consumer stopped without closing the socket")
        raise AssertionError(f"no answer within {ANSWER_SECONDS} s")

    def is_open(self) -> bool:
        return not self.communicator.future.done()

    def close(self) -> None:
        if self.communicator is not None and not self.communicator.future.done():
            self.loop.run_until_complete(self.communicator.disconnect())
        self.loop.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("shape", "frames"),
    [
        pytest.param("nearly-right", NEARLY_RIGHT_FRAMES, id="nearly-right"),
        pytest.param("any-shape", ANY_FRAMES, id="any-shape"),
    ],
)
def test_fuzzing_socket_messages(world, no_rate_limits, isolated_channel_layer, shape, frames):
    volunteer = world.people["volunteer_proposed"]
    citizen = world.people["owner"]
    current = {"proposal": world.assignments["P"].pk}

    def fresh_proposal() -> None:
        # The volunteer finishes what they accepted, so the next proposal fits their capacity.
        for task in Assignment.objects.filter(volunteer=volunteer, status="accepted"):
            services.assignment_complete(assignment=task, volunteer=volunteer)
        help_request = post_request(citizen, world.leuven, world.shopping)
        current["proposal"] = services.assignment_propose(
            help_request=help_request, volunteer=volunteer, km=0.5
        ).pk

    socket = VolunteerSocket(volunteer)
    try:

        @settings(FUZZ, max_examples=SOCKET_EXAMPLES // 2)
        @given(sent=frames)
        def run(sent):
            kind, frame = sent
            if kind == "json":
                ids = {
                    "own": current["proposal"],
                    "other": world.assignments["Q"].pk,  # someone else's task
                    "missing": current["proposal"] + 1000,
                }
                kind, frame = "text", json.dumps(resolved(frame, ids))
            before = database_state()
            answer = socket.exchange(kind, frame)
            after = database_state()
            assert set(answer) == {"type", "ok", "message", "action", "assignment"}, answer
            assert isinstance(answer["ok"], bool)
            assert socket.is_open(), "the consumer closed the socket"
            if not answer["ok"]:
                assert answer["message"], f"refused without a reason: {frame!r}"
                assert before == after, f"changed without ok: {frame!r}"
                return
            assignment = Assignment.objects.get(pk=answer["assignment"])
            assert answer["assignment"] == current["proposal"] and assignment.volunteer == volunteer
            assert assignment.status == {"accept": "accepted", "decline": "declined"}[answer["action"]]
            assert_tasks_consistent()
            fresh_proposal()

        for known in KNOWN_FRAMES[shape]:
            run = example(sent=known)(run)
        run()
    finally:
        socket.close()
