"""Two real daphne processes sharing Redis and PostgreSQL: an event caused on one worker
reaches a socket held by the other.

The test process writes the people and the proposal to the test database (committed, so
the daphne subprocesses see them), starts two `daphne` processes on loopback ports with
the same REDIS_URL and DATABASE_URL, and talks to them with the `websockets` client, as a
browser would. Runs only on PostgreSQL + Redis (CI's second pass).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from websockets.asyncio.client import connect

from mutualaid.aid import services
from tests.conftest import post_request, sign_in

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
APPLICATION = "mutualaid.asgi:application"
START_SECONDS = 20
STOP_SECONDS = 5
EVENT_SECONDS = 5


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url_of_the_test_database() -> str:
    """The URL of the database pytest-django created (test_<name>), for the subprocesses."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "postgres", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    address = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{credentials}@{address}/{quote(db['NAME'], safe='')}"


def stop_with_parent() -> None:
    # Linux: if the test process dies without its finally (SIGKILL), daphne goes too.
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class DaphneWorker:
    """One `daphne` subprocess on a loopback port; its output goes to a temporary file."""

    def __init__(self, name: str, env: dict[str, str], log_directory: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log = log_directory / f"daphne-{name}.log"
        with self.log.open("wb") as log:  # the child keeps its own copy of the file
            self.process = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), APPLICATION],
                cwd=PROJECT_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=stop_with_parent,
            )

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/updates/"

    def is_listening(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
            return True
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_SECONDS)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_until_listening(workers: list[DaphneWorker]) -> None:
    deadline = time.monotonic() + START_SECONDS
    waiting = list(workers)
    while waiting and time.monotonic() < deadline:
        for worker in list(waiting):
            if worker.process.poll() is not None:
                raise RuntimeError(f"daphne {worker.name} exited with {worker.process.returncode}")
            if worker.is_listening():
                waiting.remove(worker)
        time.sleep(0.1)
    if waiting:
        raise RuntimeError(f"daphne {', '.join(w.name for w in waiting)} not listening in {START_SECONDS} s")


def session_cookie(user) -> str:
    client = Client()
    sign_in(client, user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def next_message(websocket, wanted, what: str) -> dict:
    """The first JSON message for which `wanted` is true, within EVENT_SECONDS."""
    try:
        async with asyncio.timeout(EVENT_SECONDS):
            while True:
                message = json.loads(await websocket.recv())
                if wanted(message):
                    return message
    except TimeoutError:
        raise AssertionError(f"{what}: nothing within {EVENT_SECONDS} s") from None


async def accept_on_b_and_hear_it_on_a(a, b, citizen_cookie, volunteer_cookie, assignment_id) -> tuple:
    async with (
        connect(
            a.socket_url, origin=a.origin, additional_headers={"Cookie": citizen_cookie}, open_timeout=5
        ) as citizen_socket,
        connect(
            b.socket_url, origin=b.origin, additional_headers={"Cookie": volunteer_cookie}, open_timeout=5
        ) as volunteer_socket,
    ):
        # The consumer joins its groups before accepting, so both are listening now.
        await volunteer_socket.send(json.dumps({"action": "accept", "assignment": assignment_id}))
        result = await next_message(
            volunteer_socket, lambda m: m["type"] == "action.result", "the volunteer's answer from worker B"
        )
        heard = await next_message(
            citizen_socket,
            lambda m: m["type"] == "task.changed" and m["change"] == "accepted",
            "the citizen's event on worker A",
        )
        return result, heard


def test_an_event_caused_on_one_daphne_worker_reaches_a_socket_held_by_another(
    citizen, volunteer, community, shopping, tmp_path
):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip(
            "needs PostgreSQL and Redis: set DATABASE_URL=postgres://... and REDIS_URL (CI's second run)"
        )
    help_request = post_request(citizen, community, shopping)
    assignment = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    citizen_cookie, volunteer_cookie = session_cookie(citizen), session_cookie(volunteer)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mutualaid.settings",
        "DATABASE_URL": database_url_of_the_test_database(),
        "REDIS_URL": settings.REDIS_URL,
        # Our own channel and group names: parallel runs on one Redis never mix.
        "CHANNEL_PREFIX": f"two-workers-{uuid.uuid4().hex}",
        "MATCHING_WORKER": "external",
        "DEBUG": "1",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }
    workers = [DaphneWorker("A", env, tmp_path), DaphneWorker("B", env, tmp_path)]
    a, b = workers
    passed = False
    try:
        wait_until_listening(workers)
        result, heard = asyncio.run(
            accept_on_b_and_hear_it_on_a(a, b, citizen_cookie, volunteer_cookie, assignment.pk)
        )
        assert result == {
            "type": "action.result",
            "ok": True,
            "message": "",
            "action": "accept",
            "assignment": assignment.pk,
        }
        assert heard == {
            "type": "task.changed",
            "request": help_request.pk,
            "status": "accepted",
            "change": "accepted",
        }
        assignment.refresh_from_db()
        help_request.refresh_from_db()
        assert (assignment.status, help_request.status) == ("accepted", "accepted")
        passed = True
    finally:
        for worker in workers:
            worker.stop()
        if not passed:
            for worker in workers:
                print(f"--- daphne {worker.name} (port {worker.port}) output ---\n{worker.output()}")
