"""Faults under the database and the worker, on a real deployment: every pooled connection
busy, PostgreSQL ending the connections, the worker SIGKILLed mid-run, Redis restarted
under the worker.

Each test starts its own `redis-server` on a free loopback port, its own daphne and its own
`manage.py worker` (as `deploy/run.sh worker` starts it), all on the test database: the
machine's shared servers are never restarted, and the connections ended are only the test
database's. Runs only on PostgreSQL + Redis (CI's second pass).
"""

from __future__ import annotations

import asyncio
import http.client
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from matching.models import MatchingRun
from matching.scheduling import ADVISORY_LOCK_NAMESPACE
from mutualaid.aid.models import Assignment, HelpRequest
from mutualaid.partners.services import TOKEN_MARK
from tests.conftest import post_request
from tests.notifications.test_faults import OwnRedis, daphne_environment, http_call, needs_postgres_and_redis
from tests.notifications.test_two_workers import (
    PROJECT_ROOT,
    DaphneWorker,
    database_url_of_the_test_database,
    session_cookie,
    stop_with_parent,
    wait_until_listening,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

STOP_SECONDS = 15


class WorkerProcess:
    """`deploy/run.sh worker` (which execs `manage.py worker`): SIGKILL hits the worker itself."""

    def __init__(self, name: str, env: dict[str, str], log_directory: Path) -> None:
        self.log = log_directory / f"worker-{name}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                ["bash", "deploy/run.sh", "worker"],
                cwd=PROJECT_ROOT,
                env={**env, "PYTHON": sys.executable},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=stop_with_parent,
            )

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=STOP_SECONDS)

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def own_connection() -> psycopg.Connection:
    """A connection of the test's own to the test database, outside Django (autocommit)."""
    return psycopg.connect(database_url_of_the_test_database().replace("postgres://", "postgresql://"))


def wait_for(condition, seconds: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {seconds} s")


def request_status(help_request_id: int) -> str:
    return HelpRequest.objects.values_list("status", flat=True).get(pk=help_request_id)


def post_by_form(daphne: DaphneWorker, cookie: str, shopping, description: str) -> int:
    """The citizen's form, as a browser posts it; the new request's id."""
    status, location, body = http_call(
        daphne,
        "POST",
        "/requests/new/",
        cookie,
        {
            "category": shopping.pk,
            "description": description,
            "urgency": 2,
            "address": "Naamsestraat 12, 3000 Leuven",
            "any_time": "on",
        },
    )
    assert status == 302, (status, body[:500])
    return int(location.rstrip("/").rsplit("/", 1)[1])


def get(daphne: DaphneWorker, path: str, headers: dict | None = None) -> tuple[int, dict, str]:
    client = http.client.HTTPConnection("127.0.0.1", daphne.port, timeout=15)
    try:
        client.request("GET", path, headers=headers or {})
        response = client.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        client.close()


def api_get(daphne: DaphneWorker, path: str) -> tuple[int, dict, str]:
    """GET with an API key to look up (any key: the lookup needs a connection first)."""
    return get(daphne, path, {"Authorization": f"Bearer {TOKEN_MARK}some-key"})


def print_outputs(*processes) -> None:
    for process in processes:
        print(f"--- {process.log.name} ---\n{process.output()}")


def test_every_pooled_connection_busy_answers_503_with_retry_after_never_500_and_the_pool_recovers(
    community, shopping, tmp_path
):
    needs_postgres_and_redis()
    redis = OwnRedis(tmp_path)
    redis.start()
    env = {
        **daphne_environment(redis.url, "faults-pool"),
        "DATABASE_POOL_MAX_SIZE": "2",
        "DATABASE_POOL_MIN_SIZE": "0",
        "DATABASE_POOL_TIMEOUT_SECONDS": "1",
    }
    daphne = DaphneWorker("pool", env, tmp_path)
    locker = own_connection()
    passed = False
    try:
        wait_until_listening([daphne])
        assert http_call(daphne, "GET", "/", "")[0] == 200
        # Slow requests: the home page reads the communities, which the test locks; the two
        # requests that get the pool's two connections hold them while they wait.
        locker.autocommit = False
        locker.execute("LOCK TABLE aid_community IN ACCESS EXCLUSIVE MODE")

        async def scenario():
            slow = [
                asyncio.create_task(asyncio.to_thread(http_call, daphne, "GET", "/", "")) for _ in range(2)
            ]
            await asyncio.to_thread(
                wait_for,
                lambda: waiting_on_the_lock() >= 2,
                30,  # a loaded machine may be slow to start daphne's threads; no longer than needed
                "two requests holding the pool's connections",
            )
            started = time.monotonic()
            refused = await asyncio.gather(
                *(
                    asyncio.to_thread(call)
                    for call in [
                        lambda: get(daphne, "/"),
                        lambda: get(daphne, "/"),
                        lambda: api_get(daphne, "/api/v1/requests"),
                        lambda: api_get(daphne, "/open311/v2/requests.json"),
                    ]
                )
            )
            refused_seconds = time.monotonic() - started
            locker.commit()  # the slow ones go on
            return refused, refused_seconds, await asyncio.gather(*slow)

        def waiting_on_the_lock() -> int:
            return locker.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                "WHERE NOT l.granted AND a.datname = current_database()"
            ).fetchone()[0]

        refused, refused_seconds, slow = asyncio.run(scenario())
        print(f"4 requests over a pool of 2 busy connections refused in {refused_seconds:.2f} s")
        for status, headers, body in refused:
            assert status == 503, (status, body[:300])
            assert headers["Retry-After"] == "5"
        assert refused[0][1]["Content-Type"].startswith("text/html")
        assert refused[2][1]["Content-Type"].startswith("application/json")
        assert refused[2][2].startswith('{"error": "unavailable"')
        assert refused[3][2].startswith('[{"code": 503')
        assert [status for status, _headers, _body in slow] == [200, 200]
        assert http_call(daphne, "GET", "/", "")[0] == 200  # the pool serves again
        assert "Internal Server Error" not in daphne.output()
        passed = True
    finally:
        locker.close()
        daphne.stop()
        redis.stop()
        if not passed:
            print_outputs(daphne)


def test_postgresql_ending_every_connection_of_the_database_loses_no_request_and_matching_goes_on(
    citizen, volunteer, second_volunteer, community, shopping, tmp_path
):
    needs_postgres_and_redis()
    cookie = session_cookie(citizen)
    redis = OwnRedis(tmp_path)
    redis.start()
    env = daphne_environment(redis.url, "faults-terminate")
    daphne = DaphneWorker("terminate", env, tmp_path)
    worker = WorkerProcess("terminate", env, tmp_path)
    admin = own_connection()
    admin.autocommit = True
    passed = False
    try:
        wait_until_listening([daphne])
        first = post_by_form(daphne, cookie, shopping, "Before the connections go.")
        wait_for(lambda: request_status(first) == "proposed", 15, "the first request proposed")

        with connection.cursor() as cursor:  # the test's own Django connection stays
            cursor.execute("SELECT pg_backend_pid()")
            test_pid = cursor.fetchone()[0]
        ended = admin.execute(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> %s) AS ended",
            [test_pid],
        ).fetchone()[0]
        print(f"{ended} connections of the test database ended (the daphne's and the worker's)")
        assert ended >= 2

        statuses = [http_call(daphne, "GET", f"/requests/{first}/", cookie)[0] for _ in range(3)]
        posted = time.monotonic()
        second = post_by_form(daphne, cookie, shopping, "After the connections went.")
        wait_for(lambda: request_status(second) == "proposed", 15, "the second request proposed")
        proposed_after = time.monotonic() - posted
        print(f"after the connections ended: pages {statuses}, proposed {proposed_after:.2f} s after posting")
        assert statuses == [200, 200, 200]
        assert worker.alive()
        assert Assignment.objects.filter(help_request_id__in=[first, second]).count() == 2
        assert "Internal Server Error" not in daphne.output()
        passed = True
    finally:
        admin.close()
        worker.stop()
        daphne.stop()
        redis.stop()
        if not passed:
            print_outputs(daphne, worker)


def test_a_worker_sigkilled_mid_run_leaves_the_run_to_the_next_worker_and_no_proposal_is_lost_or_doubled(
    citizen, volunteer, community, shopping, tmp_path
):
    needs_postgres_and_redis()
    redis = OwnRedis(tmp_path)
    redis.start()
    env = {
        **daphne_environment(redis.url, "faults-kill"),
        "MATCHING_CLAIM_SECONDS": "3",
        "MATCHING_TICK_SECONDS": "1",
    }
    # The test holds the community's matching lock: the worker claims the run and waits in it.
    locker = own_connection()
    locker.autocommit = True
    locker.execute("SELECT pg_advisory_lock(%s, %s)", [ADVISORY_LOCK_NAMESPACE, community.pk])
    help_request = post_request(citizen, community, shopping)
    first = WorkerProcess("first", env, tmp_path)
    second = None
    passed = False
    try:

        def run_waiting_for_the_lock() -> bool:
            return locker.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                "WHERE l.locktype = 'advisory' AND NOT l.granted AND a.datname = current_database()"
            ).fetchone()[0]

        wait_for(run_waiting_for_the_lock, 20, "the first worker's run in progress")
        first.kill()
        killed = time.monotonic()
        locker.execute("SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_LOCK_NAMESPACE, community.pk])
        assert request_status(help_request.pk) == "open"  # the killed run's transaction rolled back

        second = WorkerProcess("second", env, tmp_path)
        wait_for(lambda: request_status(help_request.pk) == "proposed", 30, "the second worker's run")
        print(f"proposed by the second worker {time.monotonic() - killed:.2f} s after the first was killed")
        time.sleep(2)  # any second run would happen now
        assert Assignment.objects.filter(help_request=help_request).count() == 1
        assert MatchingRun.objects.filter(community=community, proposed=1).count() == 1
        passed = True
    finally:
        locker.close()
        for worker in (first, second):
            if worker is not None:
                worker.stop()
        redis.stop()
        if not passed:
            print_outputs(*(worker for worker in (first, second) if worker is not None))


def test_a_redis_restart_under_the_worker_it_recovers_by_itself_and_matching_resumes_within_10_s(
    citizen, volunteer, second_volunteer, community, shopping, tmp_path
):
    needs_postgres_and_redis()
    cookie = session_cookie(citizen)
    redis = OwnRedis(tmp_path)
    redis.start()
    env = daphne_environment(redis.url, "faults-redis-worker")  # the default 30 s tick: wake-ups only
    daphne = DaphneWorker("redis-worker", env, tmp_path)
    worker = WorkerProcess("redis", env, tmp_path)
    passed = False
    try:
        wait_until_listening([daphne])
        first = post_by_form(daphne, cookie, shopping, "Before Redis restarts.")
        wait_for(lambda: request_status(first) == "proposed", 15, "the first request proposed")

        redis.stop()
        time.sleep(3)  # the worker notices: its listening fails
        redis.start()
        back = time.monotonic()
        second = post_by_form(daphne, cookie, shopping, "After Redis came back.")
        wait_for(lambda: request_status(second) == "proposed", 10, "matching after Redis came back", 0.05)
        resumed = time.monotonic() - back
        print(f"matching resumed {resumed:.2f} s after Redis came back")
        assert worker.alive()
        assert "cannot hear wake-ups" in worker.output()
        passed = True
    finally:
        worker.stop()
        daphne.stop()
        redis.stop()
        if not passed:
            print_outputs(daphne, worker)


def test_a_worker_sigkilled_while_sending_a_mail_leaves_it_to_the_next_worker_who_sends_it_once(
    citizen, community, tmp_path
):
    needs_postgres_and_redis()
    from notifications.models import OutgoingMessage
    from notifications.outbox import queue_messages

    subject = "Your request: a volunteer is coming (fault test)"
    queue_messages(
        [OutgoingMessage(recipient=citizen, to_address="citizen@example.org", subject=subject, body="..")]
    )
    message = OutgoingMessage.objects.get()
    redis = OwnRedis(tmp_path)
    redis.start()
    env = {
        **daphne_environment(redis.url, "faults-outbox"),
        "OUTBOX_CLAIM_SECONDS": "3",
        "MATCHING_TICK_SECONDS": "1",
    }
    silent = socket.socket()  # a mail server that takes the connection and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    silent.settimeout(20)
    first = WorkerProcess(
        "sending",
        {
            **env,
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(silent.getsockname()[1]),
            "EMAIL_TIMEOUT": "60",
        },
        tmp_path,
    )
    second = None
    passed = False
    try:
        sending, _address = silent.accept()  # the first worker is in the middle of the send
        first.kill()
        killed = time.monotonic()
        sending.close()
        message.refresh_from_db()
        assert (message.status, message.attempts, message.sent_at) == ("pending", 0, None)

        second = WorkerProcess(
            "after", {**env, "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}, tmp_path
        )
        wait_for(
            lambda: OutgoingMessage.objects.filter(pk=message.pk, status="sent").exists(), 30, "the mail sent"
        )
        print(f"the mail went out {time.monotonic() - killed:.2f} s after the sending worker was killed")
        time.sleep(1.5)  # a second send would show now
        message.refresh_from_db()
        assert message.attempts == 1
        assert second.output().count(f"Subject: {subject}") == 1
        passed = True
    finally:
        silent.close()
        for worker in (first, second):
            if worker is not None:
                worker.stop()
        redis.stop()
        if not passed:
            print_outputs(*(worker for worker in (first, second) if worker is not None))
