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
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from mutualaid.aid.models import HelpRequest
from mutualaid.partners.services import TOKEN_MARK
from tests.notifications.test_faults import OwnRedis, daphne_environment, http_call, needs_postgres_and_redis
from tests.notifications.test_two_workers import (
    PROJECT_ROOT,
    DaphneWorker,
    database_url_of_the_test_database,
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
                10,
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
