"""Faults injected into a real deployment: Redis restarted under open sockets, daphne killed
in the middle of requests. (The e-mail server down is `tests/notifications/test_emails.py`.)

Each test starts its own `redis-server` on a free loopback port (never the machine's shared
one) and its own `daphne` processes using it, with the test database as their DATABASE_URL,
as `test_two_workers.py` does. Runs only on PostgreSQL + Redis (CI's second pass).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import redis as redis_py
from django.conf import settings
from django.db import connection
from django.utils.crypto import get_random_string
from websockets.asyncio.client import connect

from mutualaid.aid import services
from mutualaid.aid.models import Assignment, HelpRequest, StatusChange
from mutualaid.aid.states import LIVE_ASSIGNMENT_STATUSES
from tests.conftest import ALL_WEEK, LADEUZEPLEIN, make_user, make_volunteer, post_request
from tests.notifications.test_two_workers import (
    DaphneWorker,
    database_url_of_the_test_database,
    free_port,
    session_cookie,
    stop_with_parent,
    wait_until_listening,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

EVENT_SECONDS = 5
RECONNECT_SECONDS = 15
CSRF_TOKEN = get_random_string(32)


def needs_postgres_and_redis() -> None:
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip(
            "needs PostgreSQL and Redis: set DATABASE_URL=postgres://... and REDIS_URL (CI's second run)"
        )
    if shutil.which("redis-server") is None:
        pytest.skip("needs the redis-server program to start a Redis of its own")


class OwnRedis:
    """A throw-away redis-server on a loopback port; stop() and start() keep the port."""

    def __init__(self, log_directory: Path) -> None:
        self.port = free_port()
        self.log = log_directory / "redis.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--daemonize", "no"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=stop_with_parent,
            )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server not listening on {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def daphne_environment(redis_url: str, prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mutualaid.settings",
        "DATABASE_URL": database_url_of_the_test_database(),
        "REDIS_URL": redis_url,
        "CHANNEL_PREFIX": f"{prefix}-{uuid.uuid4().hex}",
        "MATCHING_WORKER": "external",
        "GEOCODER": "offline",
        "DEBUG": "1",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }


def http_call(worker: DaphneWorker, method: str, path: str, cookie: str, form: dict | None = None):
    """One HTTP request to daphne as a browser would send it (session and CSRF cookies)."""
    from urllib.parse import urlencode

    body = urlencode(form or {}, doseq=True)
    headers = {"Cookie": f"{cookie}; csrftoken={CSRF_TOKEN}", "X-CSRFToken": CSRF_TOKEN}
    if method == "POST":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection_ = http.client.HTTPConnection("127.0.0.1", worker.port, timeout=15)
    try:
        connection_.request(method, path, body=body if method == "POST" else None, headers=headers)
        response = connection_.getresponse()
        return response.status, response.getheader("Location", ""), response.read().decode(errors="replace")
    finally:
        connection_.close()


async def next_event(websocket, wanted, what: str, seconds: float = EVENT_SECONDS) -> dict:
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = json.loads(await websocket.recv())
                if wanted(message):
                    return message
    except TimeoutError:
        raise AssertionError(f"{what}: nothing within {seconds} s") from None


async def open_socket(worker: DaphneWorker, cookie: str):
    return await connect(
        worker.socket_url, origin=worker.origin, additional_headers={"Cookie": cookie}, open_timeout=5
    )


async def reconnect_like_the_page(worker: DaphneWorker, cookie: str):
    """What static/js/live.js does: try again (backing off) until the socket opens."""
    deadline = time.monotonic() + RECONNECT_SECONDS
    delay = 0.2
    while True:
        try:
            return await open_socket(worker, cookie)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2)


async def server_closes(websocket, seconds: float) -> bool:
    """True if the server closes the socket within `seconds` (events may still arrive)."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                await websocket.recv()
    except TimeoutError:
        return False
    except Exception:  # websockets.ConnectionClosed
        return True


def status_on_the_page(worker, cookie: str, help_request: HelpRequest) -> str:
    status, _location, body = http_call(worker, "GET", f"/requests/{help_request.pk}/", cookie)
    assert status == 200, status
    found = re.search(r"data-request-status>([^<]+)<", body)
    assert found, "the request page shows no status"
    return found.group(1)


def test_a_redis_restart_loses_no_state_and_reconnecting_sockets_resync(
    citizen, volunteer, community, shopping, tmp_path
):
    needs_postgres_and_redis()
    help_request = post_request(citizen, community, shopping)
    assignment = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    citizen_cookie, volunteer_cookie = session_cookie(citizen), session_cookie(volunteer)
    redis = OwnRedis(tmp_path)
    redis.start()
    worker = DaphneWorker("redis-restart", daphne_environment(redis.url, "faults-redis"), tmp_path)
    passed = False
    try:
        wait_until_listening([worker])

        async def scenario() -> dict:
            outcome = {}
            old_socket = await open_socket(worker, citizen_cookie)
            # Before the fault: the volunteer accepts; the citizen's socket hears it.
            outcome["accept"] = http_call(
                worker, "POST", f"/volunteer/tasks/{assignment.pk}/accept/", volunteer_cookie
            )
            await next_event(
                old_socket, lambda m: m.get("change") == "accepted", "the accept before the fault"
            )

            redis.stop()
            # During the outage: the volunteer marks the task done and the citizen asks again.
            done = http_call(
                worker,
                "POST",
                f"/volunteer/tasks/{assignment.pk}/done/",
                volunteer_cookie,
                {"hours_spent": "2"},
            )
            outcome["done"] = done
            outcome["post while down"] = http_call(
                worker,
                "POST",
                "/requests/new/",
                citizen_cookie,
                {
                    "category": shopping.pk,
                    "description": "Posted while Redis was down.",
                    "urgency": 2,
                    "address": "Naamsestraat 12, 3000 Leuven",
                    "any_time": "on",
                },
            )
            outcome["old socket closed"] = await server_closes(old_socket, seconds=8)
            await old_socket.close()

            redis.start()
            new_socket = await reconnect_like_the_page(worker, citizen_cookie)
            # After the restart: the page (the truth) shows what happened meanwhile ...
            outcome["page after restart"] = await asyncio.to_thread(
                status_on_the_page, worker, citizen_cookie, help_request
            )
            # ... and the new socket hears what happens next.
            outcome["post after restart"] = http_call(
                worker,
                "POST",
                "/requests/new/",
                citizen_cookie,
                {
                    "category": shopping.pk,
                    "description": "Posted after the restart.",
                    "urgency": 2,
                    "address": "Naamsestraat 12, 3000 Leuven",
                    "any_time": "on",
                },
            )
            outcome["event after restart"] = await next_event(
                new_socket, lambda m: m.get("change") == "created", "the new socket, after the restart"
            )
            await new_socket.close()
            return outcome

        outcome = asyncio.run(scenario())
        help_request.refresh_from_db()
        assignment.refresh_from_db()
        assert outcome["accept"][0] == 302
        # The change made while Redis was down is committed, with its history ...
        assert outcome["done"][0] == 302, outcome["done"]
        assert (help_request.status, assignment.status, assignment.hours_spent) == ("done", "done", 2)
        assert StatusChange.objects.filter(help_request=help_request, to_status="done").count() == 2
        # ... and shows on the page a reconnecting client fetches.
        assert outcome["page after restart"] == "Done"
        # The socket that lost its channel layer was closed, so live.js reconnects and resyncs.
        assert outcome["old socket closed"], "the server kept a socket open that can no longer hear events"
        assert outcome["post after restart"][0] == 302
        created_after = HelpRequest.objects.get(description="Posted after the restart.")
        assert outcome["event after restart"]["request"] == created_after.pk
        # A citizen asking for help while Redis is down: saved, or a clear refusal (never a 500).
        status, _location, body = outcome["post while down"]
        saved = HelpRequest.objects.filter(description="Posted while Redis was down.").exists()
        refused_clearly = status in (429, 503) and not saved and 'role="alert"' in body
        assert (status == 302 and saved) or refused_clearly, (
            f"posting a request while Redis was down: {status}, saved: {saved}"
        )
        passed = True
    finally:
        worker.stop()
        redis.stop()
        if not passed:
            print(f"--- daphne output ---\n{worker.output()}")
            print(f"--- redis output ---\n{redis.log.read_text(errors='replace')}")


# daphne killed mid-request

# When to SIGKILL: once this many of the batch's accepts are committed (seen from another
# database connection), after this many seconds; from "before any" to "half the batch".
# The last round kills after all are committed, once answers had time to leave.
ROUNDS = ((0, 0.0), (1, 0.0), (1, 0.002), (5, 0.0), (15, 0.0), (30, 0.3))
ACCEPTS_PER_ROUND = 30


async def send_accepts_then_kill(
    worker: DaphneWorker, accepts: list[tuple[int, str]], commits_before_kill: int, delay: float
) -> dict[int, str]:
    """Send every accept at once over raw HTTP; SIGKILL daphne once `commits_before_kill` of
    them are committed and `delay` passed. Returns the status lines heard, by assignment."""

    async def accept(assignment_id: int, cookie: str):
        reader, writer = await asyncio.open_connection("127.0.0.1", worker.port)
        writer.write(
            (
                f"POST /volunteer/tasks/{assignment_id}/accept/ HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{worker.port}\r\n"
                f"Cookie: {cookie}; csrftoken={CSRF_TOKEN}\r\n"
                f"X-CSRFToken: {CSRF_TOKEN}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                "Content-Length: 0\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        return reader, writer

    answers: dict[int, str] = {}

    async def read_answer(assignment_id: int, reader) -> None:
        with contextlib.suppress(Exception):
            line = await reader.readline()
            if line:
                answers[assignment_id] = line.decode(errors="replace").strip()

    ids = [assignment_id for assignment_id, _cookie in accepts]
    accepted = f"SELECT count(*) FROM {Assignment._meta.db_table} WHERE id = ANY(%s) AND status = 'accepted'"
    async with await psycopg.AsyncConnection.connect(
        database_url_of_the_test_database(), autocommit=True
    ) as db:
        connections = await asyncio.gather(
            *(accept(assignment_id, cookie) for assignment_id, cookie in accepts)
        )
        readers = [
            asyncio.create_task(read_answer(assignment_id, reader))
            for assignment_id, (reader, _writer) in zip(ids, connections, strict=True)
        ]
        deadline = time.monotonic() + 30
        while commits_before_kill and time.monotonic() < deadline:
            cursor = await db.execute(accepted, [ids])
            if (await cursor.fetchone())[0] >= commits_before_kill:
                break
        await asyncio.sleep(delay)
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait(timeout=5)
    await asyncio.wait(readers, timeout=2)
    for task in readers:
        task.cancel()
    for _reader, writer in connections:
        writer.close()
    return answers


def test_sockets_whose_groups_redis_lost_are_closed_to_join_again_and_then_hear_again(
    citizen, volunteer, community, shopping, tmp_path
):
    """Redis restarted faster than the client's retries (redis-py retries a failed command,
    so no socket sees an error): the open sockets' group memberships went with the old data,
    and they would hear nothing until their next renewal, minutes later. The loss is made
    here by emptying the test's own redis-server, as a restart without persistence does.
    Each daphne notices it (LayerDataWatch) and closes its sockets with 4012; they join again."""
    needs_postgres_and_redis()
    citizen_cookie = session_cookie(citizen)
    redis = OwnRedis(tmp_path)
    redis.start()
    redis_client = redis_py.Redis.from_url(redis.url)  # the test's own server, never the shared one
    environment = {**daphne_environment(redis.url, "faults-lost"), "LIVE_LAYER_CHECK_SECONDS": "0.5"}
    worker = DaphneWorker("redis-lost-groups", environment, tmp_path)
    try:
        wait_until_listening([worker])

        async def scenario() -> dict:
            outcome = {}
            old_sockets = [await open_socket(worker, citizen_cookie) for _ in range(6)]
            await asyncio.sleep(1.5)  # the watch has read the data's epoch
            redis_client.flushall()
            closed = await asyncio.gather(*(server_closes(socket, seconds=10) for socket in old_sockets))
            outcome["old sockets closed"] = sum(closed)
            outcome["close codes"] = sorted({socket.close_code for socket in old_sockets})
            new_socket = await reconnect_like_the_page(worker, citizen_cookie)
            outcome["post"] = http_call(
                worker,
                "POST",
                "/requests/new/",
                citizen_cookie,
                {
                    "category": shopping.pk,
                    "description": "Posted after the groups were lost.",
                    "urgency": 2,
                    "address": "Naamsestraat 12, 3000 Leuven",
                    "any_time": "on",
                },
            )
            outcome["event"] = await next_event(
                new_socket, lambda m: m.get("change") == "created", "the socket joined again"
            )
            await new_socket.close()
            return outcome

        outcome = asyncio.run(scenario())
        assert outcome["old sockets closed"] == 6, "sockets that lost their groups stayed open, deaf"
        assert outcome["close codes"] == [4012]
        assert outcome["post"][0] == 302
        created = HelpRequest.objects.get(description="Posted after the groups were lost.")
        assert outcome["event"]["request"] == created.pk
    finally:
        worker.stop()
        redis.stop()


def test_killing_daphne_mid_request_leaves_the_database_consistent(community, shopping, tmp_path):
    needs_postgres_and_redis()
    redis = OwnRedis(tmp_path)
    redis.start()
    environment = daphne_environment(redis.url, "faults-kill")
    citizen = make_user("kill-citizen", community)
    acknowledged, committed, untouched, workers, split_rounds = 0, 0, 0, [], 0
    try:
        for round_number, (commits_before_kill, delay) in enumerate(ROUNDS):
            accepts = []
            for index in range(ACCEPTS_PER_ROUND):
                volunteer = make_volunteer(
                    f"kill-{round_number}-{index}", community, [shopping], LADEUZEPLEIN, availability=ALL_WEEK
                )
                help_request = post_request(citizen, community, shopping)
                assignment = services.assignment_propose(
                    help_request=help_request, volunteer=volunteer, km=0.5
                )
                accepts.append((assignment.pk, session_cookie(volunteer)))
            worker = DaphneWorker(f"kill-{round_number}", environment, tmp_path)
            workers.append(worker)
            wait_until_listening([worker])
            assert http_call(worker, "GET", "/", "")[0] == 200  # warm: Django loaded, templates compiled
            answers = asyncio.run(send_accepts_then_kill(worker, accepts, commits_before_kill, delay))
            time.sleep(0.5)  # PostgreSQL notices the dead connections and rolls their transactions back
            committed_before = committed
            for assignment_id, _cookie in accepts:
                assignment = Assignment.objects.select_related("help_request").get(pk=assignment_id)
                help_request = assignment.help_request
                changes = StatusChange.objects.filter(help_request=help_request, to_status="accepted")
                if assignment.status == "accepted":
                    committed += 1
                    # Both changed, each with its StatusChange.
                    assert help_request.status == "accepted", f"assignment {assignment_id} half-way"
                    assert sorted(changes.values_list("subject", flat=True)) == ["assignment", "request"]
                else:
                    untouched += 1
                    assert (assignment.status, help_request.status) == ("proposed", "proposed"), assignment_id
                    assert not changes.exists(), f"assignment {assignment_id}: history of an accept not made"
                if answers.get(assignment_id, "").startswith("HTTP/1.1 302"):
                    acknowledged += 1
                    assert assignment.status == "accepted", f"acknowledged accept {assignment_id} lost"
            if 0 < committed - committed_before < len(accepts):
                split_rounds += 1  # killed while this batch was being handled
        for help_request in HelpRequest.objects.all():
            live = help_request.assignments.filter(status__in=LIVE_ASSIGNMENT_STATUSES).count()
            assert live <= 1, f"request {help_request.pk} has {live} live assignments"
        # At least one kill fell inside a batch: some of its accepts made it, some did not.
        assert split_rounds, f"no kill fell mid-batch ({committed} committed, {untouched} not)"
        print(
            f"\nfaults: daphne killed {len(ROUNDS)} times ({split_rounds} mid-batch); {committed} accepts "
            f"committed ({acknowledged} acknowledged), {untouched} rolled back or not begun; all consistent"
        )
    finally:
        for worker in workers:
            worker.stop()
        redis.stop()
