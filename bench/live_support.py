"""One layer of the live-update benchmark, in its own process (see bench/live.py).

Django reads its settings from the environment once, so each channel layer runs in a
fresh process: `python bench/live_support.py --layer memory|redis ...` prints one JSON
line with the measurements on stdout and its progress on stderr.

What it does, bounded in count (--sockets) and time (--time-limit), on loopback only:
a fresh database, N volunteers (one category each, so matching gives request i to
volunteer i), a session per volunteer, ONE daphne process, N authenticated sockets, then
matching runs that propose a batch of requests each until every connected volunteer was
proposed one. Latency = receipt on the volunteer's socket - commit of the matching run,
both `time.time()` on this machine. The Redis layer's matching runs in a process of its
own (MatchingProcess), as `manage.py matching_worker` does; the memory layer's in daphne.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import http.client
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

HOST = "127.0.0.1"  # loopback only
LEUVEN = (50.8790, 4.7050)
DAPHNE_START_SECONDS = 30
ROUND_SECONDS = 15  # how long a batch's events may take before they count as missing
HOLD_SECONDS = 2  # sockets stay open this long after the last event, then are counted


STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[live +{time.monotonic() - STARTED:5.1f} s] {message}", file=sys.stderr, flush=True)


# --- environment, database, daphne ---------------------------------------------------


def layer_environment(layer: str, database_url: str, redis_url: str) -> dict[str, str]:
    """The variables daphne, `migrate` and this process share for one layer."""
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "CHANNEL_PREFIX"}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "mutualaid.settings",
            "DATABASE_URL": database_url,
            # Production-like: DEBUG off (no query log growing in daphne), plain HTTP on loopback.
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": HOST,
            "GEOCODER": "offline",
            "MATCHING_DEBOUNCE_SECONDS": "0",
            "LOG_LEVEL": "INFO",
        }
    )
    if layer == "redis":
        env.update(
            REDIS_URL=redis_url,
            CHANNEL_PREFIX=f"bench-{secrets.token_hex(6)}",
            # This process runs the matching (as `manage.py matching_worker` would).
            MATCHING_WORKER="external",
        )
    else:
        # Only code inside daphne reaches its in-memory layer: matching runs in daphne.
        env["MATCHING_WORKER"] = "in-process"
    return env


class Database:
    """A fresh database: a SQLite file in a temporary directory, or a new PostgreSQL one."""

    def __init__(self, directory: Path, server_url: str | None) -> None:
        self.server_url = server_url
        if server_url:
            parts = urlsplit(server_url)
            self.name = f"mutualaid_bench_{os.getpid()}_{secrets.token_hex(3)}"
            self.url = urlunsplit(parts._replace(path="/" + self.name))
            self._admin("CREATE DATABASE {}")
        else:
            self.name = str(directory / "bench.sqlite3")
            self.url = f"sqlite:///{self.name}"

    def _admin(self, statement: str) -> None:
        import psycopg
        from psycopg import sql

        parts = urlsplit(self.server_url)
        with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as connection:
            connection.execute(sql.SQL(statement).format(sql.Identifier(self.name)))

    def drop(self) -> None:
        if self.server_url:
            with contextlib.suppress(Exception):
                self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")

    @property
    def label(self) -> str:
        return "PostgreSQL" if self.server_url else "SQLite"


def stop_with_parent() -> None:
    # Linux: if this process is killed without its finally, daphne is stopped too.
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class Daphne:
    """One daphne process on a loopback port, its output in a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        with log_path.open("wb") as output:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    HOST,
                    "-p",
                    str(self.port),
                    "mutualaid.asgi:application",
                ],
                cwd=PROJECT_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=stop_with_parent,
            )

    def wait_until_listening(self) -> None:
        deadline = time.monotonic() + DAPHNE_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.process.returncode}:\n{self.tail()}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), timeout=0.2):
                return
            time.sleep(0.1)
        raise RuntimeError(f"daphne not listening after {DAPHNE_START_SECONDS} s:\n{self.tail()}")

    def rss_mb(self) -> float | None:
        """Resident memory of the daphne process (VmRSS), in MB."""
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        """The last lines of daphne's output, without its access log."""
        with contextlib.suppress(OSError):
            output = self.log_path.read_text(errors="replace").splitlines()
            return "\n".join([line for line in output if '"WS' not in line][-lines:])
        return ""


def delete_own_redis_keys(redis_url: str, prefix: str) -> None:
    """The run's groups and queues (its own prefix only: the Redis is shared). Daphne is
    stopped before it has discarded every socket's groups, which would stay a day."""
    with contextlib.suppress(Exception):
        import redis

        client = redis.Redis.from_url(redis_url, socket_timeout=10)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for first in range(0, len(keys), 500):
            client.delete(*keys[first : first + 500])
        client.close()


def raise_open_file_limit(sockets: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sockets * 2 + 512  # ours, plus daphne's (inherited) ends of the sockets
    if soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
        if new_soft < wanted:
            log(f"open-file limit {new_soft} < {wanted}: some connections may fail")


# --- people and requests (Django ORM, in this process) ------------------------------


@dataclass
class Volunteer:
    user_id: int
    category_id: int
    session_key: str
    socket: object = None
    connect_error: str = ""
    dropped: str = ""  # how and when the server closed a socket we did not close
    request_id: int | None = None
    assignment_id: int | None = None
    # (request id, change) -> time.time() at arrival; the socket's action results
    received: dict[tuple[int, str], float] = field(default_factory=dict)
    results: list[dict] = field(default_factory=list)

    def has(self, change: str) -> bool:
        return (self.request_id, change) in self.received


def seed(count: int) -> tuple[int, int, str, list[Volunteer]]:
    """Community, coordinator, `count` volunteers with offers and sessions, in bulk."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import transaction
    from django.utils import timezone
    from django.utils.crypto import get_random_string
    from django_otp import DEVICE_ID_SESSION_KEY

    from mutualaid.accounts.models import User
    from mutualaid.accounts.two_factor import known_secret_device, random_hex_key
    from mutualaid.aid.models import Category, Community, VolunteerOffer

    backend = "django.contrib.auth.backends.ModelBackend"
    with transaction.atomic():
        community = Community.objects.create(
            name="Bench", slug="bench", latitude=LEUVEN[0], longitude=LEUVEN[1]
        )
        coordinator = User.objects.create(
            username="bench-coordinator",
            community=community,
            is_coordinator=True,
            is_staff=True,
            password=make_password(None),
        )
        categories = Category.objects.bulk_create(
            Category(community=community, slug=f"task-{index}", name=f"Task {index}")
            for index in range(count)
        )
        # E-mail off: the bench measures sockets, not the outbox.
        users = User.objects.bulk_create(
            User(
                username=f"bench-volunteer-{index}",
                community=community,
                email_notifications=False,
                password=make_password(None),
            )
            for index in range(count)
        )
        offers = VolunteerOffer.objects.bulk_create(
            VolunteerOffer(
                volunteer=user,
                community=community,
                latitude=LEUVEN[0],
                longitude=LEUVEN[1],
                neighbourhood="Leuven centrum",
                max_km=5,
                availability=list(range(21)),
                capacity=1,
            )
            for user in users
        )
        VolunteerOffer.skills.through.objects.bulk_create(
            VolunteerOffer.skills.through(volunteeroffer_id=offer.pk, category_id=category.pk)
            for offer, category in zip(offers, categories, strict=True)
        )
        # Signed-in sessions made as `django.contrib.auth.login` would, without a password check;
        # the coordinator's past the second step too, as `django_otp.login` records it.
        device = known_secret_device(coordinator, random_hex_key())
        second_step = {coordinator.pk: {DEVICE_ID_SESSION_KEY: device.persistent_id}}
        expire = timezone.now() + dt.timedelta(days=1)
        keys = [get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(count + 1)]
        store = SessionStore()
        Session.objects.bulk_create(
            Session(
                session_key=key,
                session_data=store.encode(
                    {
                        SESSION_KEY: str(user.pk),
                        BACKEND_SESSION_KEY: backend,
                        HASH_SESSION_KEY: user.get_session_auth_hash(),
                        **second_step.get(user.pk, {}),
                    }
                ),
                expire_date=expire,
            )
            for key, user in zip(keys, [coordinator, *users], strict=True)
        )
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    volunteers = [
        Volunteer(user.pk, category.pk, key)
        for user, category, key in zip(users, categories, keys[1:], strict=True)
    ]
    return community.pk, coordinator.pk, keys[0], volunteers


def create_requests(community_id: int, coordinator_id: int, category_ids: list[int]) -> list[int]:
    """Open requests, one per category, filed by the coordinator (no requester account)."""
    from mutualaid.aid.models import HelpRequest

    created = HelpRequest.objects.bulk_create(
        HelpRequest(
            community_id=community_id,
            created_by_id=coordinator_id,
            category_id=category_id,
            description="Bench request",
            any_time=True,
            latitude=LEUVEN[0] - 0.001,
            longitude=LEUVEN[1],
            neighbourhood="Leuven centrum",
        )
        for category_id in category_ids
    )
    return [help_request.pk for help_request in created]


def match_now_here(community_id: int) -> tuple[float, float, int]:
    """Redis layer, in the matching process: run matching; the time of its commit, how long
    handing its events to Redis took, and how many it proposed."""
    from django.db import transaction

    from matching.services import propose_assignments
    from mutualaid.aid.models import Community

    committed: list[float] = []
    with transaction.atomic():
        # Registered first, so it runs right after COMMIT, before the events are sent;
        # the last one runs when every event has been handed to Redis.
        transaction.on_commit(lambda: committed.append(time.time()))
        outcome = propose_assignments(community=Community.objects.get(pk=community_id))
        transaction.on_commit(lambda: committed.append(time.time()))
    return committed[0], committed[1] - committed[0], outcome.proposed


def match_now_in_daphne(port: int, coordinator_session: str) -> None:
    """Memory layer: the coordinator's "match now" button; daphne's worker runs at once."""
    from django.conf import settings
    from django.utils.crypto import get_random_string

    token = get_random_string(32)
    cookies = f"{settings.SESSION_COOKIE_NAME}={coordinator_session}; {settings.CSRF_COOKIE_NAME}={token}"
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        connection.request(
            "POST",
            "/coordinator/match/",
            body="",
            headers={
                "Cookie": cookies,
                "X-CSRFToken": token,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        response = connection.getresponse()
        response.read()
        location = response.getheader("Location", "")
        if response.status != 302 or "login" in location:
            raise RuntimeError(f"POST /coordinator/match/ answered {response.status} {location}")
    finally:
        connection.close()


def commit_times_from_database(request_ids: list[int]) -> tuple[dict[int, float], int]:
    """Memory layer: each proposal's matching run ended with inserting its MatchingRun row,
    right before COMMIT; that insert time stands for the commit (a slight over-estimate
    of the latency). Returns {request id: time}, and how many requests got a proposal."""
    from matching.models import MatchingRun
    from mutualaid.aid.models import Assignment

    runs = sorted(MatchingRun.objects.filter(proposed__gt=0).values_list("started_at", flat=True))
    times = {}
    proposals = Assignment.objects.filter(help_request_id__in=request_ids).values_list(
        "help_request_id", "proposed_at"
    )
    for request_id, proposed_at in proposals:
        ended = next((run for run in runs if run >= proposed_at), None)
        if ended is not None:
            times[request_id] = ended.timestamp()
    return times, len(proposals)


def assignment_ids(request_ids: list[int]) -> dict[int, int]:
    from mutualaid.aid.models import Assignment

    return dict(
        Assignment.objects.filter(help_request_id__in=request_ids).values_list("help_request_id", "pk")
    )


def acceptance_times(request_ids: list[int]) -> dict[int, float]:
    """When each acceptance was recorded inside daphne: the request's StatusChange to
    "accepted", inserted just before COMMIT (a slight over-estimate of the latency)."""
    from mutualaid.aid.models import StatusChange

    changes = StatusChange.objects.filter(
        help_request_id__in=request_ids, subject=StatusChange.Subject.REQUEST, to_status="accepted"
    ).values_list("help_request_id", "at")
    return {request_id: at.timestamp() for request_id, at in changes}


class MatchingProcess:
    """Redis layer: matching runs in a process of their own, as `manage.py matching_worker`
    runs beside daphne in production. (Run in the bench process, the publishing competed for
    its one interpreter lock with the 2,000 sockets receiving the same burst.)

    One run per line written to its stdin (a community id); one JSON line back per run.
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--matching-process"],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=stop_with_parent,
        )

    def match_now(self, community_id: int) -> tuple[float, float, int]:
        """Blocking: one matching run, as match_now_here returns it."""
        self.process.stdin.write(f"{community_id}\n")
        self.process.stdin.flush()
        for line in self.process.stdout:
            if line.startswith("["):
                committed, publishing, proposed = json.loads(line)
                return committed, publishing, proposed
        raise RuntimeError(f"the matching process exited with {self.process.wait()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def serve_matching_runs() -> None:
    """`--matching-process`: the other end of MatchingProcess. Like `manage.py matching_worker`,
    runs go through `database_sync_to_async` from an event loop, so their events are sent on
    that loop and its Redis connections are kept from one run to the next."""
    import django

    django.setup()
    from channels.db import database_sync_to_async

    import matching.services  # noqa: F401  (loaded before freezing, as the worker command does)

    gc.freeze()  # as `manage.py matching_worker` does

    async def serve() -> None:
        for line in sys.stdin:
            outcome = await database_sync_to_async(match_now_here, thread_sensitive=False)(int(line))
            print(json.dumps(outcome), flush=True)

    asyncio.run(serve())


class DjangoThread:
    """Runs the ORM (sync) off the sockets' event loop, in one thread with its own loop:
    seeding requests and reading times back. Nothing published from here (matching runs
    in daphne or in MatchingProcess)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="django", daemon=True)
        self.thread.start()

    async def call(self, function, *args):
        from asgiref.sync import sync_to_async

        future = asyncio.run_coroutine_threadsafe(
            sync_to_async(function, thread_sensitive=False)(*args), self.loop
        )
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


# --- sockets ---------------------------------------------------------------------------


async def hold_socket(volunteer: Volunteer, port: int, opened: asyncio.Semaphore, stopping: asyncio.Event):
    from django.conf import settings
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async with opened:
        try:
            volunteer.socket = await connect(
                f"ws://{HOST}:{port}/ws/updates/",
                origin=f"http://{HOST}:{port}",
                additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={volunteer.session_key}"},
                open_timeout=10,
                ping_interval=None,  # daphne pings the clients; browsers do not ping
                close_timeout=2,
            )
        except Exception as error:
            volunteer.connect_error = f"{type(error).__name__}: {error}"[:200]
            return
    try:
        async for message in volunteer.socket:
            arrived = time.time()
            event = json.loads(message)
            if event.get("type") == "task.changed":
                volunteer.received.setdefault((event["request"], event["change"]), arrived)
            elif event.get("type") == "action.result":
                volunteer.results.append(event)
    except ConnectionClosed:
        pass
    if not stopping.is_set():
        close = volunteer.socket.close_code, volunteer.socket.close_reason
        when = time.monotonic() - STARTED
        volunteer.dropped = f"at +{when:.0f} s: code {close[0]} {close[1] or ''}".strip()


async def wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        await asyncio.sleep(0.005)


def latencies(volunteers: list[Volunteer], change: str, commit_times: dict[int, float]) -> list[float]:
    return [
        1000 * (v.received[(v.request_id, change)] - commit_times[v.request_id])
        for v in volunteers
        if v.has(change) and v.request_id in commit_times
    ]


async def connect_all(args, daphne: Daphne, volunteers, holders, stopping, deadline) -> float:
    opened = asyncio.Semaphore(args.concurrency)
    started = time.monotonic()
    holders += [asyncio.create_task(hold_socket(v, daphne.port, opened, stopping)) for v in volunteers]
    while any(v.socket is None and not v.connect_error for v in volunteers) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def propose_to_everyone(
    args, daphne, django, matching, ids, connected, deadline, result
) -> dict[int, float]:
    """Phase 1: matching runs of --batch proposals until every connected volunteer has one."""
    community_id, coordinator_id, coordinator_session = ids
    commit_times: dict[int, float] = {}
    for first in range(0, len(connected), args.batch):
        if time.monotonic() > deadline:
            result["timed_out"] = True
            break
        batch = connected[first : first + args.batch]
        request_ids = await django.call(
            create_requests, community_id, coordinator_id, [v.category_id for v in batch]
        )
        for volunteer, request_id in zip(batch, request_ids, strict=True):
            volunteer.request_id = request_id
        if args.layer == "redis":
            committed, publishing, _proposed = await asyncio.to_thread(matching.match_now, community_id)
            commit_times.update(dict.fromkeys(request_ids, committed))
            result["publish_ms"].append(round(1000 * publishing, 1))
        else:
            await django.call(match_now_in_daphne, daphne.port, coordinator_session)
        seconds = min(ROUND_SECONDS, deadline - time.monotonic())
        await wait_for(lambda batch=batch: all(v.has("proposed") or v.dropped for v in batch), seconds)
        result["rounds"] += 1
    asked = [v.request_id for v in connected if v.request_id is not None]
    if args.layer == "memory":
        commit_times, _proposed = await django.call(commit_times_from_database, asked)
    found = await django.call(assignment_ids, asked)
    for volunteer in connected:
        volunteer.assignment_id = found.get(volunteer.request_id)
    result["not_proposed"] = len(asked) - len(found)
    return commit_times


async def accept_one_at_a_time(args, django, connected, deadline, result) -> tuple[list, dict[int, float]]:
    """Phase 2: a sample of volunteers accept over their own socket, one after the other."""
    sample = [v for v in connected if v.assignment_id and v.has("proposed") and not v.dropped][: args.singles]
    asked = []
    for volunteer in sample:
        if time.monotonic() > deadline:
            result["timed_out"] = True
            break
        asked.append(volunteer)
        await volunteer.socket.send(json.dumps({"action": "accept", "assignment": volunteer.assignment_id}))
        await wait_for(
            lambda v=volunteer: v.has("accepted") and v.results, min(5, deadline - time.monotonic())
        )
        if not (volunteer.results and volunteer.results[-1].get("ok")):
            result["failed_accepts"] += 1
    return asked, await django.call(acceptance_times, [v.request_id for v in asked])


async def measure(args, daphne: Daphne, matching: MatchingProcess | None, ids, volunteers) -> dict:
    deadline = time.monotonic() + args.time_limit
    stopping = asyncio.Event()
    django = DjangoThread()
    holders: list[asyncio.Task] = []
    result: dict = {"rss_idle_mb": daphne.rss_mb(), "rounds": 0, "timed_out": False, "publish_ms": []}
    result["failed_accepts"] = 0
    log(f"connecting {len(volunteers)} sockets, {args.concurrency} at a time")
    try:
        result["connect_seconds"] = await connect_all(args, daphne, volunteers, holders, stopping, deadline)
        connected = [v for v in volunteers if v.socket is not None]
        # The client's own full garbage collections (100-150 ms with 2,000 sockets, measured)
        # would stamp receipts late: what is connected now stays, so keep it out of them.
        gc.freeze()
        result["rss_connected_mb"] = daphne.rss_mb()
        seconds, rss = result["connect_seconds"], result["rss_connected_mb"]
        log(f"{len(connected)} connected in {seconds:.1f} s; daphne RSS {rss:.0f} MB")
        proposal_times = await propose_to_everyone(
            args, daphne, django, matching, ids, connected, deadline, result
        )
        log(f"proposals: {result['rounds']} matching runs of up to {args.batch}")
        sample, acceptance = await accept_one_at_a_time(args, django, connected, deadline, result)
        log(f"acceptances: {len(sample)} one at a time")
        await asyncio.sleep(HOLD_SECONDS)
        result["rss_end_mb"] = daphne.rss_mb()
        expected = [v for v in connected if v.request_id is not None]
        result.update(
            {
                "sockets": len(volunteers),
                "connected": len(connected),
                "held_at_end": sum(1 for v in connected if not v.dropped and v.socket.state.name == "OPEN"),
                "connect_errors": sum(1 for v in volunteers if v.connect_error),
                "connect_error_kinds": sorted({v.connect_error for v in volunteers if v.connect_error})[:5],
                "dropped": sum(1 for v in connected if v.dropped),
                "dropped_kinds": sorted({v.dropped for v in connected if v.dropped})[:5],
                "proposals_expected": len(expected),
                "proposals_received": sum(1 for v in expected if v.has("proposed")),
                "proposal_latency_ms": summarise(latencies(connected, "proposed", proposal_times)),
                "slowest_per_run_ms": slowest_per_run(connected, proposal_times),
                "singles_asked": len(sample),
                "singles_received": sum(1 for v in sample if v.has("accepted")),
                "single_latency_ms": summarise(latencies(connected, "accepted", acceptance)),
            }
        )
        result["missing_events"] = (
            result["proposals_expected"] - result["proposals_received"]
            + result["singles_asked"] - result["singles_received"]
        )  # fmt: skip
    finally:
        stopping.set()
        sockets = [v.socket for v in volunteers if v.socket is not None]
        with contextlib.suppress(Exception):
            async with asyncio.timeout(20):
                await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
        for holder in holders:
            holder.cancel()
        await asyncio.gather(*holders, return_exceptions=True)
        django.close()
    return result


def slowest_per_run(volunteers: list[Volunteer], commit_times: dict[int, float]) -> list[float]:
    """Each matching run's slowest proposal event, in run order: shows whether a high p99
    is one slow burst or all of them."""
    slowest: dict[float, float] = {}
    for volunteer in volunteers:
        committed = commit_times.get(volunteer.request_id)
        if committed is not None and volunteer.has("proposed"):
            latency = 1000 * (volunteer.received[(volunteer.request_id, "proposed")] - committed)
            slowest[committed] = max(latency, slowest.get(committed, latency))
    return [round(slowest[committed], 1) for committed in sorted(slowest)]


def summarise(latencies: list[float]) -> dict:
    if not latencies:
        return {"count": 0}
    ordered = sorted(latencies)

    def percentile(p: float) -> float:
        # nearest rank: the smallest value with at least p% of the values at or below it
        return ordered[max(0, min(len(ordered) - 1, int(-(-p * len(ordered) // 100)) - 1))]

    return {
        "count": len(ordered),
        "min": ordered[0],
        "p50": percentile(50),
        "p95": percentile(95),
        "p99": percentile(99),
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


# --- one layer, start to finish ------------------------------------------------------


def run_layer(args) -> dict:
    directory = Path(tempfile.mkdtemp(prefix=f"mutualaid-live-{args.layer}-"))
    database = daphne = matching = None
    try:
        database = Database(directory, args.database_url if args.layer == "redis" else None)
        env = layer_environment(args.layer, database.url, args.redis_url)
        os.environ.update(env)
        if args.layer != "redis":
            os.environ.pop("REDIS_URL", None)
        log(f"{args.layer}: migrating a fresh {database.label} database")
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=PROJECT_ROOT,
            env=env,
            check=True,
            timeout=120,
        )
        import django

        django.setup()
        log(f"creating {args.sockets} volunteers with offers and sessions")
        community_id, coordinator_id, coordinator_session, volunteers = seed(args.sockets)
        raise_open_file_limit(args.sockets)
        daphne = Daphne(env, directory / "daphne.log")
        daphne.wait_until_listening()
        log(f"daphne pid {daphne.process.pid} on {HOST}:{daphne.port}")
        ids = (community_id, coordinator_id, coordinator_session)
        if args.layer == "redis":
            matching = MatchingProcess(env)
        result = asyncio.run(measure(args, daphne, matching, ids, volunteers))
        result.update(
            {
                "layer": args.layer,
                "database": database.label,
                "batch": args.batch,
                "singles": args.singles,
                "concurrency": args.concurrency,
                "daphne_alive": daphne.process.poll() is None,
            }
        )
        problems = ("dropped", "connect_errors", "missing_events", "not_proposed", "failed_accepts")
        if any(result[problem] for problem in problems) or not result["daphne_alive"]:
            log("daphne's last lines:\n" + daphne.tail())
        return result
    finally:
        if matching is not None:
            matching.stop()
        if daphne is not None:
            daphne.stop()
        if args.layer == "redis" and os.environ.get("CHANNEL_PREFIX", "").startswith("bench-"):
            delete_own_redis_keys(args.redis_url, os.environ["CHANNEL_PREFIX"])
        if database is not None:
            from django.db import connections

            connections.close_all()
            database.drop()
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    if sys.argv[1:] == ["--matching-process"]:
        serve_matching_runs()  # started by MatchingProcess, with the layer's environment
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", choices=["memory", "redis"], required=True)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--singles", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--time-limit", type=float, default=180)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    def stop(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    print(json.dumps(run_layer(args)), flush=True)


if __name__ == "__main__":
    main()
