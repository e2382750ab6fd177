"""Faults of the socket side of a real deployment: daphne stopped with SIGTERM while requests
and sockets are open, and 500 sockets reconnecting at once after a restart.

Each test starts its own `redis-server` and the daphne that production starts (`deploy/run.sh
daphne N`, with the test database as DATABASE_URL), as `test_faults.py` does. Runs only on
PostgreSQL + Redis (CI's second pass).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from mutualaid.aid import services
from mutualaid.aid.models import Assignment, StatusChange
from mutualaid.operations.serve import refuse_while_draining
from notifications.events import community_change, community_group, event_text
from notifications.layers import BatchingRedisChannelLayer
from tests.conftest import ALL_WEEK, LADEUZEPLEIN, make_user, make_volunteer, post_request
from tests.notifications.test_faults import (
    CSRF_TOKEN,
    OwnRedis,
    daphne_environment,
    needs_postgres_and_redis,
)
from tests.notifications.test_two_workers import (
    PROJECT_ROOT,
    DaphneWorker,
    database_url_of_the_test_database,
    free_port,
    session_cookie,
    stop_with_parent,
    wait_until_listening,
)

EXIT_SECONDS = 30
ON_POSTGRES_AND_REDIS = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def on_postgres_and_redis(test):
    for mark in ON_POSTGRES_AND_REDIS:
        test = mark(test)
    return test


class ProductionDaphne(DaphneWorker):
    """The daphne `deploy/run.sh daphne 1` starts (what systemd runs), on a free port."""

    def __init__(self, name: str, env: dict[str, str], log_directory: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log = log_directory / f"daphne-{name}.log"
        env = {**env, "DAPHNE_BASE_PORT": str(self.port - 1), "PYTHON": sys.executable}
        env.pop("MUTUALAID_ENV_FILE", None)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                ["bash", str(PROJECT_ROOT / "deploy" / "run.sh"), "daphne", "1"],
                cwd=PROJECT_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=stop_with_parent,
            )


async def open_socket(worker: DaphneWorker, cookie: str, path: str = ""):
    return await connect(
        worker.socket_url + path,
        origin=worker.origin,
        additional_headers={"Cookie": cookie},
        open_timeout=60,  # as daphne's handshake timeout in run.sh (a browser waits longer)
        ping_interval=None,
    )


async def close_code_heard(websocket, seconds: float) -> int | None:
    """The close code the server's close frame carried (None: no close frame, 1006)."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                await websocket.recv()
    except ConnectionClosed:
        return websocket.close_code if websocket.close_code != 1006 else None
    except TimeoutError:
        return None


async def start_accept(worker: DaphneWorker, assignment_id: int, cookie: str):
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


async def status_line(reader) -> str:
    with contextlib.suppress(Exception):
        return (await reader.readline()).decode(errors="replace").strip()
    return ""


@on_postgres_and_redis
def test_sigterm_lets_running_requests_answer_closes_every_socket_with_1001_and_exits(
    community, shopping, tmp_path
):
    needs_postgres_and_redis()
    redis_server = OwnRedis(tmp_path)
    redis_server.start()
    citizen = make_user("sigterm-citizen", community)
    accepts = []
    for index in range(40):
        volunteer = make_volunteer(
            f"sigterm-{index}", community, [shopping], LADEUZEPLEIN, availability=ALL_WEEK
        )
        help_request = post_request(citizen, community, shopping)
        assignment = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.5)
        accepts.append((assignment.pk, session_cookie(volunteer)))
    citizen_cookie = session_cookie(citizen)
    worker = ProductionDaphne("sigterm", daphne_environment(redis_server.url, "faults-sigterm"), tmp_path)
    passed = False
    try:
        wait_until_listening([worker])

        async def scenario() -> dict:
            # 50 sockets: one per volunteer, ten of the citizen's.
            cookies = [cookie for _id, cookie in accepts] + [citizen_cookie] * 10
            sockets = await asyncio.gather(*(open_socket(worker, cookie) for cookie in cookies))
            closes = [asyncio.create_task(close_code_heard(socket_, EXIT_SECONDS)) for socket_ in sockets]
            ids = [assignment_id for assignment_id, _cookie in accepts]
            accepted = (
                f"SELECT count(*) FROM {Assignment._meta.db_table} WHERE id = ANY(%s) AND status = 'accepted'"
            )
            async with await psycopg.AsyncConnection.connect(
                database_url_of_the_test_database(), autocommit=True
            ) as db:
                connections = await asyncio.gather(
                    *(start_accept(worker, assignment_id, cookie) for assignment_id, cookie in accepts)
                )
                answers = [asyncio.create_task(status_line(reader)) for reader, _writer in connections]
                # SIGTERM while the batch is being handled: once the first accept is committed.
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    cursor = await db.execute(accepted, [ids])
                    if (await cursor.fetchone())[0] >= 1:
                        break
                committed_at_signal = (await (await db.execute(accepted, [ids])).fetchone())[0]
            signalled = time.monotonic()
            worker.process.send_signal(signal.SIGTERM)
            exit_code = await asyncio.to_thread(worker.process.wait, EXIT_SECONDS + 5)
            exit_seconds = time.monotonic() - signalled
            heard = await asyncio.gather(*answers)
            codes = await asyncio.gather(*closes)
            for _reader, writer in connections:
                writer.close()
            return {
                "answers": dict(zip(ids, heard, strict=True)),
                "close codes": codes,
                "exit code": exit_code,
                "exit seconds": exit_seconds,
                "committed at signal": committed_at_signal,
            }

        outcome = asyncio.run(scenario())
        answered, refused = 0, 0
        for assignment_id, line in outcome["answers"].items():
            assignment = Assignment.objects.select_related("help_request").get(pk=assignment_id)
            if line.startswith("HTTP/1.1 302"):
                answered += 1
                assert assignment.status == "accepted", f"acknowledged accept {assignment_id} not saved"
            elif line.startswith("HTTP/1.1 503"):
                refused += 1
                assert assignment.status == "proposed", f"refused accept {assignment_id} was saved"
            else:
                raise AssertionError(
                    f"accept {assignment_id}: no answer ({line!r}), saved: {assignment.status}"
                )
            accepted_changes = StatusChange.objects.filter(
                help_request=assignment.help_request, to_status="accepted"
            ).count()
            assert accepted_changes == (2 if assignment.status == "accepted" else 0)
        codes = outcome["close codes"]
        assert codes == [1001] * 50, f"close codes heard: {codes}"
        assert outcome["exit code"] == 0, worker.output()
        assert outcome["exit seconds"] < EXIT_SECONDS
        # Every member left its groups on the way out: nothing stale stays in Redis.
        leftover = redis.Redis.from_url(redis_server.url).keys("*groups*")
        assert leftover == [], leftover
        print(
            f"\nsigterm: {outcome['committed at signal']} of 40 accepts committed at the signal; "
            f"{answered} answered 302, {refused} refused 503, 0 unanswered; 50 of 50 sockets "
            f"closed with 1001; exited {outcome['exit code']} after {outcome['exit seconds']:.2f} s"
        )
        passed = True
    finally:
        worker.stop()
        redis_server.stop()
        if not passed:
            print(f"--- daphne output ---\n{worker.output()}")


def test_a_request_arriving_while_draining_is_answered_503_with_retry_after():
    sent = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    asyncio.run(refuse_while_draining({"type": "http"}, receive, send))
    assert sent[0]["status"] == 503
    assert (b"retry-after", b"5") in sent[0]["headers"]
    assert b"restarting" in sent[1]["body"]
    sent.clear()
    asyncio.run(refuse_while_draining({"type": "websocket"}, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1001}]


# Mass reconnect

COORDINATORS = 50
SOCKETS_EACH = 10  # LIVE_SOCKETS_PER_PERSON's default: 500 sockets in all
GROUP_EXPIRY_SECONDS = 6


async def publish_community_change(redis_url: str, environment: dict[str, str], community_id: int) -> None:
    """What a service's commit sends, through a layer like the daphnes' (their Redis, prefix)."""
    layer = BatchingRedisChannelLayer(
        hosts=[redis_url],
        prefix=environment["CHANNEL_PREFIX"] + environment.get("PYTEST_XDIST_WORKER", ""),
        group_expiry=GROUP_EXPIRY_SECONDS,
    )
    groups, event = community_change(community_id=community_id, change="test")
    try:
        for group in groups:
            await layer.group_send(group, {**event, "text": event_text(event)})
    finally:
        await layer.close_pools()


def community_group_size(redis_url: str, community_id: int) -> int:
    client = redis.Redis.from_url(redis_url)
    keys = client.keys(f"*:group:{community_group(community_id)}")
    return sum(client.zcard(key) for key in keys)


async def open_many(worker: DaphneWorker, cookies: list[str]) -> tuple[list, list[str]]:
    """Open a socket per cookie, all at once; returns the open ones and the first errors."""
    results = await asyncio.gather(
        *(open_socket(worker, cookie) for cookie in cookies), return_exceptions=True
    )
    sockets = [result for result in results if not isinstance(result, BaseException)]
    errors = [repr(result) for result in results if isinstance(result, BaseException)]
    return sockets, errors[:3] + ([f"... {len(errors)} in all"] if len(errors) > 3 else [])


async def count_hearing(sockets: list, seconds: float) -> int:
    async def hears(websocket) -> bool:
        try:
            async with asyncio.timeout(seconds):
                while True:
                    if '"community.changed"' in await websocket.recv():
                        return True
        except (TimeoutError, ConnectionClosed):
            return False

    return sum(await asyncio.gather(*(hears(websocket) for websocket in sockets)))


@on_postgres_and_redis
def test_500_sockets_reconnecting_at_once_all_open_and_dead_memberships_expire(community, tmp_path):
    needs_postgres_and_redis()
    redis_server = OwnRedis(tmp_path)
    redis_server.start()
    coordinators = [
        make_user(f"mass-{index}", community, is_coordinator=True, is_staff=True)
        for index in range(COORDINATORS)
    ]
    cookies = [session_cookie(coordinator) for coordinator in coordinators] * SOCKETS_EACH
    environment = {
        **daphne_environment(redis_server.url, "faults-mass"),
        "LIVE_GROUP_EXPIRY_SECONDS": str(GROUP_EXPIRY_SECONDS),
    }
    first = ProductionDaphne("mass-first", environment, tmp_path)
    workers, figures, passed = [first], {}, False
    try:
        wait_until_listening([first])

        async def scenario() -> None:
            started = time.monotonic()
            sockets, errors = await open_many(first, cookies)
            figures["first"] = (len(sockets), errors, time.monotonic() - started)
            figures["members while open"] = community_group_size(redis_server.url, community.pk)
            # A crash: no socket says goodbye, every membership stays behind.
            first.process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(first.process.wait, 10)
            for websocket in sockets:
                websocket.transport.abort()
            figures["members after the crash"] = community_group_size(redis_server.url, community.pk)

            second = ProductionDaphne("mass-second", environment, tmp_path)
            workers.append(second)
            await asyncio.to_thread(wait_until_listening, [second])
            started = time.monotonic()
            sockets, errors = await open_many(second, cookies)
            figures["reconnect"] = (len(sockets), errors, time.monotonic() - started)
            figures["members after reconnecting"] = community_group_size(redis_server.url, community.pk)
            # Past the expiry: the dead members are gone once anything is sent to the group,
            # the living renewed theirs and every one of them hears it.
            await asyncio.sleep(GROUP_EXPIRY_SECONDS + 1)
            hearing = asyncio.ensure_future(count_hearing(sockets, 10))
            await publish_community_change(redis_server.url, environment, community.pk)
            figures["hearing the broadcast"] = await hearing
            figures["members after the expiry"] = community_group_size(redis_server.url, community.pk)
            # A graceful stop: every socket leaves its groups.
            second.process.send_signal(signal.SIGTERM)
            figures["second exit code"] = await asyncio.to_thread(second.process.wait, EXIT_SECONDS)
            figures["members after a graceful stop"] = community_group_size(redis_server.url, community.pk)
            for websocket in sockets:
                websocket.transport.abort()

        asyncio.run(scenario())
        opened, errors, seconds = figures["first"]
        assert (opened, errors) == (500, []), errors
        assert figures["members while open"] == 500
        assert figures["members after the crash"] == 500  # what expiry is for
        opened, errors, reconnect_seconds = figures["reconnect"]
        assert (opened, errors) == (500, []), errors
        # The dead and the living side by side (the dead whose key expired meanwhile gone).
        assert 500 <= figures["members after reconnecting"] <= 1000
        assert figures["hearing the broadcast"] == 500
        assert figures["members after the expiry"] == 500
        assert figures["second exit code"] == 0
        assert figures["members after a graceful stop"] == 0
        for worker in workers:
            assert "Too many connections" not in worker.output()
            assert "Exception inside application" not in worker.output()
        print(
            f"\nmass reconnect: 500 of 500 opened in {seconds:.1f} s, 500 of 500 reconnected in "
            f"{reconnect_seconds:.1f} s, 0 errors; community group: {figures['members while open']} open, "
            f"{figures['members after the crash']} after SIGKILL, {figures['members after reconnecting']} "
            f"after reconnecting, {figures['members after the expiry']} after {GROUP_EXPIRY_SECONDS} s "
            f"(broadcast heard by {figures['hearing the broadcast']}), "
            f"{figures['members after a graceful stop']} after SIGTERM"
        )
        passed = True
    finally:
        for worker in workers:
            worker.stop()
        redis_server.stop()
        if not passed:
            print(figures)
            for worker in workers:
                print(f"--- daphne {worker.name} output ---\n{worker.output()[-5000:]}")
