"""The whole service under a crisis surge: the production deployment on this machine, real
HTTP and WebSockets (not a timed test).

    .venv/bin/python bench/service.py [--daphnes 1,2,4] [--duration 20] [--rate 50]
                                      [--volunteers 200] [--faults] [--quick] [--json FILE]

What it stands up, for each number of daphnes: a fresh PostgreSQL database (a copy of one
migrated and seeded once, so every configuration starts from the same rows; all dropped at
the end), its OWN redis-server on a free loopback port, N daphnes started by
`deploy/run.sh daphne N` and one worker by `deploy/run.sh worker`, with the production
settings of deploy/mutualaid.env.example (DEBUG=0, the pool, the default debounce). No
nginx: the clients spread their requests over the daphnes themselves (round robin), and
retry a refused connection on the next daphne as nginx's `proxy_next_upstream` would.

What it drives, stage by stage, through real HTTP (aiohttp) and sockets (websockets):

- `empty view`: GET /healthz as fast as --concurrency clients can (answered before any
  middleware): the baseline of what a daphne can answer at all;
- `posts (max)`: signed-in citizens post requests through the request form as fast as they
  can; the volunteers, each with a socket open, hear the proposal, load their inbox, accept
  over the socket and mark the task done (which gives their capacity back);
- `logins (max)`, `sign-ups (max)`: the login and sign-up forms (GET for the CSRF cookie,
  then POST), as fast as they can: bound by password hashing;
- `crisis mix`: posts at a steady rate, a tenth of that in sign-ups and in logins,
  coordinators with their dashboards open (socket + a page load every 5 s), volunteers as
  above; once at half the configuration's measured maximum (what it can carry) and once at
  --rate;
- with --faults, the crisis mix at half the maximum again on the largest configuration
  while its redis-server is restarted and then one daphne (SIGTERM, started again): clients
  retry as a browser would, sockets reconnect and reload the inbox as static/js/live.js
  does; which proposals after the Redis restart still reached a socket is counted.

For each: requests/s asked and achieved per action, p50/p95/p99 answer time, errors (a
final failure or an unexpected answer after retries), post -> proposal lag (the post's
answer to the proposal event on the volunteer's socket), socket event latency (the matching
run's commit to the event's receipt), CPU seconds per component (/proc: the daphnes, the
worker, this database's PostgreSQL backends, the redis-server, the bench's own client), and
the issue's targets marked met or missed. The rate limits are raised through their
documented settings (RATE_LIMIT_*), since every client comes from loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.live_support import free_port, raise_open_file_limit, stop_with_parent, summarise  # noqa: E402

HOST = "127.0.0.1"  # loopback only
LEUVEN = (50.8790, 4.7050)
PASSWORD = "a-long-bench-password-for-everyone-42"
START_SECONDS = 60
TRIES = 5
POOL_MAX_SIZE = 10  # DATABASE_POOL_MAX_SIZE's default, which the deployment keeps
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
HIGH_LIMIT = "1000000/m"  # every client comes from 127.0.0.1: one address for all
TARGETS = {
    "posts": (200.0, ">= 200 request posts/s sustained, 0 errors"),
    "lag_p95": (1.0, "post -> proposal p95 <= 1 s at 50 posts/s"),
    "logins": (20.0, ">= 20 logins/s"),
    "live_p99": (100.0, "socket event p99 <= 100 ms, the whole service running"),
}
STARTED = time.monotonic()


# What the services' logs say went wrong (counted per configuration).
LOG_FINDINGS = {
    "answered 503": r'"message": "Service Unavailable',
    "PostgreSQL refused a connection (too many clients)": r"too many clients already",
    "exceptions inside daphne": r"Exception inside application",
    "worker jobs failed": r"Worker job \w+ failed",
    "live events not published": r"Could not publish",
}


def log(message: str) -> None:
    print(f"[service +{time.monotonic() - STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


# --- processes and their CPU ---------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Service:
    """One process of the deployment (a daphne, the worker, redis-server), output to a file."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        log_path: Path,
        port: int | None,
        root: Path = PROJECT_ROOT,
    ):
        self.name, self.command, self.env, self.log_path, self.port = name, command, env, log_path, port
        self.root = root
        self.process: subprocess.Popen | None = None
        self.cpu_before_restarts = 0.0
        self.start()

    def start(self) -> None:
        with self.log_path.open("ab") as output:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=stop_with_parent,
            )

    def wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), timeout=0.2):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not listening after {START_SECONDS} s:\n{self.tail()}")

    def cpu(self) -> float:
        return self.cpu_before_restarts + (cpu_seconds(self.process.pid) if self.process else 0.0)

    def stop(self, seconds: float = 20) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.cpu_before_restarts += cpu_seconds(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()
        if self.port:
            self.wait_until_listening()

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def log_count(self, pattern: str) -> int:
        with contextlib.suppress(OSError):
            return len(re.findall(pattern, self.log_path.read_text(errors="replace")))
        return 0


# --- the database ----------------------------------------------------------------------


class Databases:
    """A template database migrated and seeded once; one copy per configuration."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.prefix = f"mutualaid_bench_{os.getpid()}"
        self.names: list[str] = []

    def url(self, name: str) -> str:
        return urlunsplit(urlsplit(self.server_url)._replace(path="/" + name))

    def admin(self, statement: str, *names: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(sql.SQL(statement).format(*(sql.Identifier(name) for name in names)))

    def create(self, name: str, template: str | None = None) -> str:
        if template:
            self.admin("CREATE DATABASE {} TEMPLATE {}", name, template)
        else:
            self.admin("CREATE DATABASE {}", name)
        self.names.append(name)
        return self.url(name)

    def drop(self, name: str) -> None:
        with contextlib.suppress(Exception):
            self.admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    def drop_all(self) -> None:
        for name in reversed(self.names):
            self.drop(name)

    def query(self, name: str, statement: str, parameters=()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(name), autocommit=True) as connection:
            return connection.execute(statement, parameters).fetchall()

    def connections(self, name: str) -> tuple[int, int, int]:
        """Connections to this database now, to the whole server, and max_connections."""
        rows = self.query(
            "postgres",
            "SELECT count(*) FILTER (WHERE datname = %s), count(*), current_setting('max_connections')::int "
            "FROM pg_stat_activity",
            (name,),
        )
        return rows[0]

    def server_connections(self) -> tuple[int, int]:
        """Connections on the whole server now (it may be shared with other work), and its max."""
        rows = self.query(
            "postgres", "SELECT count(*), current_setting('max_connections')::int FROM pg_stat_activity"
        )
        return rows[0]

    def backend_cpu(self, name: str) -> dict[int, float]:
        """CPU so far of each PostgreSQL backend connected to this database (the server is
        shared: only this database's backends are counted, not the server's own processes)."""
        pids = self.query(
            name, "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,)
        )
        return {pid: cpu_seconds(pid) for (pid,) in pids}


@dataclass
class People:
    community_id: int
    category_ids: list[int]
    volunteers: list[tuple[int, str]]  # (user id, session key)
    citizens: list[str]  # session keys of signed-in citizens who post
    coordinators: list[str]  # session keys
    login_names: list[str]  # accounts that log in (password PASSWORD)


def seed(volunteers: int, citizens: int, coordinators: int, logins: int) -> People:
    """The community: volunteers with offers (capacity 10, every category) and sessions,
    signed-in citizens, coordinators, and accounts to log in. Every password is PASSWORD,
    hashed once with the production hasher (a login checks the same hash)."""
    import datetime as dt

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

    password = make_password(PASSWORD)
    backend = "django.contrib.auth.backends.ModelBackend"
    with transaction.atomic():
        community = Community.objects.create(
            name="Bench", slug="bench", latitude=LEUVEN[0], longitude=LEUVEN[1]
        )
        categories = Category.objects.bulk_create(
            Category(community=community, slug=f"task-{index}", name=f"Task {index}") for index in range(5)
        )

        def users(kind: str, count: int, **fields) -> list[User]:
            return User.objects.bulk_create(
                User(
                    username=f"bench-{kind}-{index}",
                    email=f"bench-{kind}-{index}@example.org",
                    community=community,
                    password=password,
                    preferred_language="en",
                    **fields,
                )
                for index in range(count)
            )

        volunteer_users = users("volunteer", volunteers)
        citizen_users = users("citizen", citizens)
        coordinator_users = users("coordinator", coordinators, is_coordinator=True)
        login_users = users("login", logins)
        offers = VolunteerOffer.objects.bulk_create(
            VolunteerOffer(
                volunteer=user,
                community=community,
                latitude=LEUVEN[0] + 0.0001 * (index % 50),
                longitude=LEUVEN[1],
                neighbourhood="Leuven centrum",
                max_km=10,
                availability=list(range(21)),
                capacity=10,
            )
            for index, user in enumerate(volunteer_users)
        )
        VolunteerOffer.skills.through.objects.bulk_create(
            VolunteerOffer.skills.through(volunteeroffer_id=offer.pk, category_id=category.pk)
            for offer in offers
            for category in categories
        )
        # Signed-in sessions as `django.contrib.auth.login` makes them (the login stage
        # measures logins; the other stages start signed in).
        expire = timezone.now() + dt.timedelta(days=1)
        signed_in = [*volunteer_users, *citizen_users, *coordinator_users]
        keys = [get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789") for _ in signed_in]
        sessions = []
        for key, user in zip(keys, signed_in, strict=True):
            data = {
                SESSION_KEY: str(user.pk),
                BACKEND_SESSION_KEY: backend,
                HASH_SESSION_KEY: user.get_session_auth_hash(),
            }
            if user.is_coordinator:  # past the second step, as `django_otp.login` records it
                data[DEVICE_ID_SESSION_KEY] = known_secret_device(user, random_hex_key()).persistent_id
            sessions.append(
                Session(session_key=key, session_data=SessionStore().encode(data), expire_date=expire)
            )
        Session.objects.bulk_create(sessions)
    count_v, count_c = len(volunteer_users), len(citizen_users)
    return People(
        community_id=community.pk,
        category_ids=[category.pk for category in categories],
        volunteers=[(user.pk, key) for user, key in zip(volunteer_users, keys[:count_v], strict=True)],
        citizens=keys[count_v : count_v + count_c],
        coordinators=keys[count_v + count_c :],
        login_names=[user.username for user in login_users],
    )


# --- measuring -------------------------------------------------------------------------


@dataclass
class Action:
    """One kind of request in one stage: answer times of the good ones, the failures."""

    asked_per_second: float | None = None
    seconds: list[float] = field(default_factory=list)
    errors: int = 0
    retries: int = 0
    error_kinds: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped: int = 0  # open loop: too many of this client's own requests still waiting

    def failed(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind[:120]] += 1


class Stage:
    def __init__(self, name: str) -> None:
        self.name = name
        self.actions: dict[str, Action] = defaultdict(Action)
        self.posted: dict[int, float] = {}  # request id -> when the post's answer came
        self.started = self.ended = 0.0
        self.cpu: dict[str, float] = {}
        self.events: dict[str, int] = defaultdict(int)
        self.notes: list[str] = []
        self.postgres_backends = 0
        self.redis_restarted_at: float | None = None
        self.daphne_restart_at = float("inf")
        self.peak_connections = (0, 0, 0)  # this database's, the server's, max_connections
        self.connections_by_process: dict[str, int] = {}
        self.server_connections = (0, 0)
        self.waited: list[int] = []  # posted, no proposal event on any socket

    @property
    def duration(self) -> float:
        return max(self.ended - self.started, 1e-9)


class NoDaphne(Exception):
    pass


class Bench:
    """The clients: one aiohttp session for every HTTP request, cookies kept by hand (the
    session cookie is Secure with DEBUG off and this is plain HTTP on loopback)."""

    def __init__(self, ports: list[int], people: People, args, socket_ports: list[int] | None = None) -> None:
        self.ports = ports
        # Daphnes of their own for the sockets (nginx's /ws/ upstream), or the same ones.
        self.socket_ports = socket_ports or ports
        self.socket_round_robin = itertools.count()
        self.people = people
        self.args = args
        self.round_robin = itertools.count()
        self.stage: Stage | None = None
        self.proposal_seen: dict[int, float] = {}  # request id -> first proposal event on a socket
        self.found_in_inbox: dict[int, float] = {}
        self.http = None
        self.signups = itertools.count()
        self.last_sent_at: dict[int, float] = {}  # a client's (its cookies') last answered request
        self.volunteers: dict[int, Volunteer] = {}
        self.redis_restarted_at: float | None = None

    async def __aenter__(self):
        import aiohttp

        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(),
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
            timeout=aiohttp.ClientTimeout(total=30),
        )
        return self

    async def __aexit__(self, *exc) -> None:
        await self.http.close()

    def next_socket_port(self) -> int:
        return self.socket_ports[next(self.socket_round_robin) % len(self.socket_ports)]

    def next_port(self) -> int:
        return self.ports[next(self.round_robin) % len(self.ports)]

    async def request(
        self, action: str, method: str, path: str, cookies: dict[str, str], form: dict | None = None
    ) -> tuple[int, dict, str] | None:
        """One request as a browser behind nginx makes it: a refused or dropped connection
        is retried on the next daphne (nginx's proxy_next_upstream), a 503 after its
        Retry-After (capped at 4 s) as a person reloads; at most TRIES tries, about 10 s in
        all. Returns (status, headers, text), or None after recording the failure."""
        import aiohttp

        record = self.stage.actions[action]
        kind = ""
        for attempt in range(TRIES):
            port = self.next_port()
            headers = {"Origin": f"http://{HOST}:{port}"}
            if cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
            body = None
            if form is not None:
                body = urlencode(form | {"csrfmiddlewaretoken": cookies.get("csrftoken", "")}, doseq=True)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            started, sent_at = time.monotonic(), time.time()
            try:
                async with self.http.request(
                    method, f"http://{HOST}:{port}{path}", data=body, headers=headers, allow_redirects=False
                ) as response:
                    text = await response.text(errors="replace")
                    status = response.status
                    for header in response.headers.getall("Set-Cookie", []):
                        name, _, rest = header.partition("=")
                        cookies[name.strip()] = rest.split(";", 1)[0]
                    answer_headers = dict(response.headers)
            except (aiohttp.ClientConnectionError, TimeoutError) as error:
                kind = f"{type(error).__name__}"
                record.retries += attempt < TRIES - 1
                await asyncio.sleep(min(4.0, 0.5 * 2**attempt))
                continue
            if status == 503:
                kind = "503"
                record.retries += attempt < TRIES - 1
                await asyncio.sleep(min(4.0, float(answer_headers.get("Retry-After", "1") or 1)))
                continue
            record.seconds.append(time.monotonic() - started)
            self.last_sent_at[id(cookies)] = sent_at
            return status, answer_headers, text
        record.failed(kind)
        return None

    def expect(self, action: str, answer, statuses: tuple[int, ...], location: str | None = None) -> bool:
        if answer is None:
            return False
        status, headers, _text = answer
        where = headers.get("Location", "")
        if status in statuses and (location is None or re.search(location, where)):
            return True
        record = self.stage.actions[action]
        record.seconds.pop()  # answered, but not what a working service answers
        record.failed(f"{status} {where}"[:80])
        return False

    # --- the actions -------------------------------------------------------------------

    async def empty_view(self) -> None:
        self.expect("empty view", await self.request("empty view", "GET", "/healthz", {}), (200,))

    async def post_request(self, cookies: dict[str, str]) -> None:
        # The form, once per citizen (a browser's first visit): the CSRF cookie.
        if "csrftoken" not in cookies and not self.expect(
            "request form", await self.request("request form", "GET", "/requests/new/", cookies), (200,)
        ):
            return
        form = {
            "category": secrets.choice(self.people.category_ids),
            "description": "Groceries and medicine for the week, please.",
            "urgency": "1",
            "latitude": f"{LEUVEN[0] - 0.002:.6f}",
            "longitude": f"{LEUVEN[1] + 0.001:.6f}",
            "address": "Naamsestraat 12, 3000 Leuven",
            "any_time": "on",
            "idempotency_key": uuid.uuid4().hex,
        }
        answer = await self.request("post", "POST", "/requests/new/", cookies, form)
        if self.expect("post", answer, (302,), r"/requests/\d+/"):
            location = answer[1]["Location"]
            request_id = int(re.search(r"/requests/(\d+)/", location).group(1))
            # From the moment the post that worked was sent: the person's click.
            self.stage.posted[request_id] = self.last_sent_at.pop(id(cookies))
            # The browser follows the redirect to the request's page, which shows (and so
            # consumes) "Your request is posted": without it the messages cookie would grow
            # with every post, as no browser's does.
            self.expect(
                "request page",
                await self.request("request page", "GET", urlsplit(location).path, cookies),
                (200,),
            )

    async def log_in(self) -> None:
        cookies: dict[str, str] = {}
        if not self.expect(
            "login page", await self.request("login page", "GET", "/accounts/login/", cookies), (200,)
        ):
            return
        name = secrets.choice(self.people.login_names)
        answer = await self.request(
            "login", "POST", "/accounts/login/", cookies, {"username": name, "password": PASSWORD}
        )
        self.expect("login", answer, (302,))

    async def sign_up(self) -> None:
        cookies: dict[str, str] = {}
        if not self.expect(
            "sign-up page", await self.request("sign-up page", "GET", "/accounts/signup/", cookies), (200,)
        ):
            return
        number = f"{os.getpid()}-{next(self.signups)}"
        form = {
            "username": f"bench-new-{number}",
            "first_name": "New",
            "last_name": "Neighbour",
            "email": f"bench-new-{number}@example.org",
            "community": str(self.people.community_id),
            "preferred_language": "en",
            "password1": PASSWORD,
            "password2": PASSWORD,
        }
        answer = await self.request("sign-up", "POST", "/accounts/signup/", cookies, form)
        self.expect("sign-up", answer, (302,))

    async def dashboard(self, cookies: dict[str, str]) -> None:
        self.expect("dashboard", await self.request("dashboard", "GET", "/coordinator/", cookies), (200,))


# --- sockets: volunteers and coordinators -------------------------------------------------


class Volunteer:
    """A volunteer with their inbox open: a socket (reconnecting as static/js/live.js does),
    the inbox reloaded on each event, each new proposal accepted over the socket and then
    marked done over HTTP (their capacity comes back)."""

    def __init__(self, bench: Bench, user_id: int, session_key: str) -> None:
        from django.conf import settings

        self.bench = bench
        self.user_id = user_id
        self.cookies = {settings.SESSION_COOKIE_NAME: session_key}
        self.socket = None
        self.connected = asyncio.Event()
        self.tried: set[int] = set()
        self.waiting: dict[int, tuple[asyncio.Future, float]] = {}
        self.inbox_again = asyncio.Event()
        self.stopping = False
        self.reconnects = 0
        self.connect_errors = 0
        self.connected_at: list[float] = []

    async def hold(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        first = True
        while not self.stopping:
            port = self.bench.next_socket_port()
            try:
                self.socket = await connect(
                    f"ws://{HOST}:{port}/ws/updates/",
                    origin=f"http://{HOST}:{port}",
                    additional_headers={"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())},
                    open_timeout=60,
                    ping_interval=None,  # daphne pings; browsers do not
                    close_timeout=2,
                )
            except Exception:
                self.connect_errors += 1
                await asyncio.sleep(1.0)
                continue
            self.connected.set()
            self.connected_at.append(time.time())
            if not first:
                self.reconnects += 1
                self.inbox_again.set()  # a reconnected page reloads what it shows
            first = False
            try:
                async for message in self.socket:
                    arrived = time.time()
                    event = json.loads(message)
                    if event.get("type") == "task.changed" and event.get("change") == "proposed":
                        self.bench.proposal_seen.setdefault(event["request"], arrived)
                        if self.bench.stage:
                            self.bench.stage.events["proposal events"] += 1
                        self.inbox_again.set()
                    elif event.get("type") == "action.result":
                        waiting = self.waiting.pop(event.get("assignment"), None)
                        if waiting:
                            waiting[0].set_result((event.get("ok"), time.monotonic() - waiting[1], event))
            except ConnectionClosed:
                pass
            self.socket = None
            if not self.stopping:
                if self.bench.stage:
                    self.bench.stage.events["sockets dropped"] += 1
                await asyncio.sleep(1.0)

    async def work(self) -> None:
        """Reload the inbox when told, accept what is new, mark it done."""
        while not self.stopping:
            await self.inbox_again.wait()
            self.inbox_again.clear()
            if self.stopping or self.bench.stage is None:
                continue
            answer = await self.bench.request("inbox", "GET", "/volunteer/inbox/", self.cookies)
            if not self.bench.expect("inbox", answer, (200,)):
                continue
            page = answer[2]
            for assignment_id in map(int, re.findall(r"/volunteer/tasks/(\d+)/accept/", page)):
                if assignment_id not in self.tried:
                    self.tried.add(assignment_id)
                    await self.accept(assignment_id)
            for assignment_id in map(int, re.findall(r"/volunteer/tasks/(\d+)/done/", page)):
                if -assignment_id not in self.tried:
                    self.tried.add(-assignment_id)
                    answer = await self.bench.request(
                        "done",
                        "POST",
                        f"/volunteer/tasks/{assignment_id}/done/",
                        self.cookies,
                        {"hours_spent": ""},
                    )
                    self.bench.expect("done", answer, (302,))

    async def accept(self, assignment_id: int) -> None:
        stage = self.bench.stage
        record = stage.actions["accept (socket)"]
        if self.socket is None:
            # Between a drop and the reconnect the page's own form does it (a plain POST).
            answer = await self.bench.request(
                "accept (form)", "POST", f"/volunteer/tasks/{assignment_id}/accept/", self.cookies, {}
            )
            self.bench.expect("accept (form)", answer, (302,))
            self.inbox_again.set()
            return
        future = asyncio.get_running_loop().create_future()
        self.waiting[assignment_id] = (future, time.monotonic())
        try:
            await self.socket.send(json.dumps({"action": "accept", "assignment": assignment_id}))
            ok, seconds, event = await asyncio.wait_for(future, 30)
        except Exception as error:
            self.waiting.pop(assignment_id, None)
            record.failed(type(error).__name__)
            return
        if ok:
            record.seconds.append(seconds)
        else:
            record.failed(str(event.get("message", "refused"))[:80])
        self.inbox_again.set()  # the accepted task is now to be marked done

    async def close(self) -> None:
        self.stopping = True
        self.inbox_again.set()
        if self.socket is not None:
            with contextlib.suppress(Exception):
                await self.socket.close()


class Coordinator:
    """A coordinator with the dashboard open: its socket hears every change in the
    community; the page itself is loaded every 5 s (a dashboard refetches on events)."""

    def __init__(self, bench: Bench, session_key: str) -> None:
        from django.conf import settings

        self.bench = bench
        self.cookies = {settings.SESSION_COOKIE_NAME: session_key}
        self.socket = None
        self.stopping = False
        self.connected = asyncio.Event()

    async def hold(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        while not self.stopping:
            port = self.bench.next_socket_port()
            try:
                self.socket = await connect(
                    f"ws://{HOST}:{port}/ws/updates/",
                    origin=f"http://{HOST}:{port}",
                    additional_headers={"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())},
                    open_timeout=60,
                    ping_interval=None,
                    close_timeout=2,
                )
                self.connected.set()
                async for _message in self.socket:
                    if self.bench.stage:
                        self.bench.stage.events["dashboard events"] += 1
            except (ConnectionClosed, OSError, TimeoutError):
                pass
            except Exception:
                pass
            self.socket = None
            if not self.stopping:
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        self.stopping = True
        if self.socket is not None:
            with contextlib.suppress(Exception):
                await self.socket.close()


# --- load shapes -----------------------------------------------------------------------


async def closed_loop(action, clients: int, seconds: float) -> None:
    """`clients` clients, each sending its next request when its last one was answered."""
    deadline = time.monotonic() + seconds

    async def client(index: int) -> None:
        while time.monotonic() < deadline:
            await action(index)

    await asyncio.gather(*(client(index) for index in range(clients)))


async def open_loop(
    action, per_second: float, seconds: float, record: Action, in_flight_at_most: int
) -> None:
    """Requests at a steady rate whatever the answers take (people do not wait for each
    other), at most `in_flight_at_most` waiting at once (beyond that the bench counts a
    skip: the service is not keeping up)."""
    if per_second <= 0:
        return
    record.asked_per_second = per_second
    started = time.monotonic()
    tasks: set[asyncio.Task] = set()
    for index in itertools.count():
        due = started + index / per_second
        if due - started >= seconds:
            break
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        if len(tasks) >= in_flight_at_most:
            record.skipped += 1
            continue
        task = asyncio.create_task(action(index))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=60)


# --- one configuration -----------------------------------------------------------------


class Deployment:
    """Database copy, redis-server, N daphnes and the worker for one configuration."""

    def __init__(
        self,
        args,
        databases: Databases,
        template: str,
        work: Path,
        daphnes: int,
        people: People,
        code: str = "this",
        root: Path = PROJECT_ROOT,
    ):
        self.args, self.databases, self.daphne_count, self.people = args, databases, daphnes, people
        self.database = f"{databases.prefix}_{code}_{daphnes}d"
        self.work = work / f"{code}-{daphnes}-daphnes"
        self.work.mkdir()
        self.services: list[Service] = []
        url = databases.create(self.database, template)
        redis_port = free_port()
        self.redis = Service(
            "redis-server",
            ["redis-server", "--port", str(redis_port), "--bind", HOST, "--save", "", "--appendonly", "no"],
            dict(os.environ),
            self.work / "redis.log",
            redis_port,
        )
        self.services.append(self.redis)
        self.redis.wait_until_listening()
        base = daphne_base_port(daphnes + args.socket_daphnes)
        self.env = production_environment(args, url, f"redis://{HOST}:{redis_port}/0", base, work)
        self.daphnes = [
            Service(
                f"daphne {number}",
                ["bash", "deploy/run.sh", "daphne", str(number)],
                self.env,
                self.work / f"daphne-{number}.log",
                base + number,
                root,
            )
            for number in range(1, daphnes + args.socket_daphnes + 1)
        ]
        self.services += self.daphnes
        self.worker = Service(
            "worker", ["bash", "deploy/run.sh", "worker"], self.env, self.work / "worker.log", None, root
        )
        self.services.append(self.worker)
        for daphne in self.daphnes:
            daphne.wait_until_listening()

    def cpu(self) -> dict[str, float]:
        return {
            "daphnes": sum(daphne.cpu() for daphne in self.daphnes),
            "worker": self.worker.cpu(),
            "redis": self.redis.cpu(),
            "client": sum(os.times()[:2]),
        }

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.databases.drop(self.database)


def daphne_base_port(count: int) -> int:
    """A DAPHNE_BASE_PORT with base+1 .. base+count all free (run.sh numbers them so)."""
    import random

    for _ in range(200):
        base = random.randrange(20000, 60000)
        try:
            probes = [socket.create_server((HOST, base + number)) for number in range(1, count + 1)]
        except OSError:
            continue
        for probe in probes:
            probe.close()
        return base
    raise RuntimeError("no free ports for the daphnes")


def production_environment(
    args, database_url: str, redis_url: str, base_port: int, work: Path
) -> dict[str, str]:
    """deploy/mutualaid.env.example's production settings, on this machine's loopback."""
    # The pool's settings keep their defaults (this process turns its own pool off).
    inherited = {
        "REDIS_URL",
        "CHANNEL_PREFIX",
        *(name for name in os.environ if name.startswith("DATABASE_")),
    }
    env = {key: value for key, value in os.environ.items() if key not in inherited}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "mutualaid.settings",
            "PYTHON": sys.executable,
            "DEBUG": "0",
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": HOST,
            "SITE_URL": f"http://{HOST}",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CHANNEL_PREFIX": f"bench{os.getpid()}",
            "STATIC_ROOT": str(work / "static"),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "GEOCODER": "offline",
            "MAP_TILE_URL": "",
            "SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback; no nginx in front
            "DAPHNE_BASE_PORT": str(base_port),
            "DAPHNE_BIND": HOST,
            # The worker sends the outbox into memory (as deploy/ci_smoke.sh): no mail server here.
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "MATCHING_WORKER": "external",
            # Every client comes from 127.0.0.1: the documented limits, raised.
            "RATE_LIMIT_SIGNUP": HIGH_LIMIT,
            "RATE_LIMIT_LOGIN": HIGH_LIMIT,
            "RATE_LIMIT_POST_REQUEST": HIGH_LIMIT,
            "RATE_LIMIT_SOCKET_MESSAGE": HIGH_LIMIT,
        }
    )
    if args.debounce is not None:
        env["MATCHING_DEBOUNCE_SECONDS"] = str(args.debounce)
    return env


SECRET_KEY = secrets.token_urlsafe(50)


async def watch_connections(deployment: Deployment, stage: Stage) -> None:
    """The most PostgreSQL connections seen during the stage, every 0.5 s: this deployment's
    own, and the whole server's (shared with other work on this machine)."""
    pool_bound = (deployment.daphne_count + 1) * POOL_MAX_SIZE
    while True:
        with contextlib.suppress(Exception):
            ours, everyone, most = await asyncio.to_thread(
                deployment.databases.connections, deployment.database
            )
            if ours > pool_bound and ours > stage.peak_connections[0]:
                # More than the pools allow: which process holds them (ss names each socket's owner).
                stage.connections_by_process = await asyncio.to_thread(connections_by_process, deployment)
            stage.peak_connections = (
                max(stage.peak_connections[0], ours),
                max(stage.peak_connections[1], everyone),
                most,
            )
        await asyncio.sleep(0.5)


def connections_by_process(deployment: Deployment) -> dict[str, int]:
    """PostgreSQL client sockets (to port 5432) per process of this deployment, from `ss -tnp`."""
    names = {service.process.pid: service.name for service in deployment.services if service.process}
    names[os.getpid()] = "bench client"
    counts: dict[str, int] = defaultdict(int)
    with contextlib.suppress(Exception):
        listing = subprocess.run(["ss", "-tnp"], capture_output=True, text=True, timeout=10).stdout
        for line in listing.splitlines():
            fields = line.split()
            if len(fields) >= 6 and fields[4].endswith(":5432"):
                found = re.search(r"pid=(\d+)", line)
                if found and int(found.group(1)) in names:
                    counts[names[int(found.group(1))]] += 1
    return dict(counts)


async def run_stage(name: str, deployment: Deployment, bench: Bench, load) -> Stage:
    """One stage: CPU before and after, the load, then a grace period for proposals."""
    stage = Stage(name)
    bench.stage = stage
    database = deployment.database
    cpu_before = deployment.cpu()
    postgres_before = deployment.databases.backend_cpu(database)
    stage.started = time.monotonic()
    log(f"{deployment.daphne_count} daphne(s): {name} for {deployment.args.duration:g} s")
    watching = asyncio.create_task(watch_connections(deployment, stage))
    try:
        await load(stage)
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
    stage.ended = time.monotonic()
    cpu_after = deployment.cpu()
    postgres_after = deployment.databases.backend_cpu(database)
    stage.cpu = {component: cpu_after[component] - cpu_before[component] for component in cpu_after}
    stage.cpu["postgres"] = sum(cpu - postgres_before.get(pid, 0.0) for pid, cpu in postgres_after.items())
    stage.postgres_backends = len(postgres_after)
    stage.server_connections = deployment.databases.server_connections()
    if stage.posted:
        # Proposals still on their way count: wait for them (at most 15 s), outside the CPU window.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(r not in bench.proposal_seen for r in stage.posted):
            await asyncio.sleep(0.1)
        stage.waited = [r for r in stage.posted if r not in bench.proposal_seen]
    summary = ", ".join(
        f"{action} {len(record.seconds) / stage.duration:.1f}/s ({record.errors} errors)"
        for action, record in stage.actions.items()
    )
    log(f"  {summary}")
    bench.stage = None
    return stage


def proposal_commit_times(deployment: Deployment, request_ids: list[int]) -> dict[int, float]:
    """When each request's proposal was committed: its matching run inserts its row right
    before COMMIT, so the first run row at or after the proposal stands for the commit (a
    slight over-estimate of the socket latency, as in bench/live_support.py)."""
    if not request_ids:
        return {}
    from matching.models import MatchingRun
    from mutualaid.aid.models import Assignment

    runs = sorted(
        row[0].timestamp()
        for row in deployment.databases.query(
            deployment.database, f"SELECT started_at FROM {MatchingRun._meta.db_table} WHERE proposed > 0"
        )
    )
    proposals = deployment.databases.query(
        deployment.database,
        f"SELECT help_request_id, proposed_at FROM {Assignment._meta.db_table} "
        "WHERE help_request_id = ANY(%s)",
        (request_ids,),
    )
    import bisect

    commits = {}
    for request_id, proposed_at in proposals:
        index = bisect.bisect_left(runs, proposed_at.timestamp())
        if index < len(runs) and request_id not in commits:
            commits[request_id] = runs[index]
    return commits


def stage_summary(stage: Stage, deployment: Deployment, bench: Bench) -> dict:
    actions = {}
    for action, record in stage.actions.items():
        actions[action] = {
            "asked_per_second": record.asked_per_second,
            "answered": len(record.seconds),
            "per_second": len(record.seconds) / stage.duration,
            "errors": record.errors,
            "error_kinds": dict(record.error_kinds),
            "retries": record.retries,
            "skipped": record.skipped,
            "answer_ms": summarise([1000 * s for s in record.seconds]),
        }
    result = {"stage": stage.name, "seconds": stage.duration, "actions": actions, "cpu": stage.cpu}
    result["events"] = dict(stage.events)
    result["postgres_backends"] = stage.postgres_backends
    result["server_connections"] = stage.server_connections
    result["peak_connections"] = stage.peak_connections
    if stage.connections_by_process:
        result["connections_by_process"] = stage.connections_by_process
        stage.notes.append(
            f"more PostgreSQL connections than the pools allow ({POOL_MAX_SIZE} per process): "
            + ", ".join(f"{name} {count}" for name, count in sorted(stage.connections_by_process.items()))
        )
    result["notes"] = stage.notes
    if stage.posted:
        lags = [bench.proposal_seen[r] - t for r, t in stage.posted.items() if r in bench.proposal_seen]
        from mutualaid.aid.models import HelpRequest

        commits = proposal_commit_times(deployment, list(stage.posted))
        live = [1000 * (bench.proposal_seen[r] - c) for r, c in commits.items() if r in bench.proposal_seen]
        status_rows = deployment.databases.query(
            deployment.database,
            f"SELECT status, count(*) FROM {HelpRequest._meta.db_table} WHERE id = ANY(%s) GROUP BY status",
            (list(stage.posted),),
        )
        result.update(
            {
                "posted": len(stage.posted),
                "lag_seconds": summarise(lags),
                "socket_event_ms": summarise(live),
                "no_proposal_event": len(stage.waited),
                "request_statuses": dict(status_rows),
            }
        )
        if stage.redis_restarted_at is not None:
            result["after_redis_restart"] = deliveries_after_restart(stage, deployment, bench, commits)
            stage.notes.append(
                "proposals committed after the Redis restart, heard on the volunteer's socket: "
                + "; ".join(f"{k}: {v[0]} of {v[1]}" for k, v in result["after_redis_restart"].items())
            )
    return result


def deliveries_after_restart(stage: Stage, deployment: Deployment, bench: Bench, commits: dict) -> dict:
    """Proposals committed after the Redis restart, by the socket the volunteer had open at
    that moment: one opened before the restart (it lived through it; daphne 1's are closed
    by its own restart later) or after (reconnected): which of them still hear events."""
    from mutualaid.aid.models import Assignment

    rows = deployment.databases.query(
        deployment.database,
        f"SELECT help_request_id, volunteer_id FROM {Assignment._meta.db_table} "
        "WHERE help_request_id = ANY(%s)",
        (list(stage.posted),),
    )
    buckets = {"socket opened before the restart": [0, 0], "socket opened after it": [0, 0]}
    for request_id, volunteer_id in rows:
        committed, volunteer = commits.get(request_id), bench.volunteers.get(volunteer_id)
        if committed is None or volunteer is None or committed < stage.redis_restarted_at:
            continue
        opened = [at for at in volunteer.connected_at if at <= committed]
        if not opened:
            continue
        bucket = buckets[
            "socket opened before the restart"
            if opened[-1] < stage.redis_restarted_at
            else "socket opened after it"
        ]
        bucket[0] += request_id in bench.proposal_seen
        bucket[1] += 1
    return buckets


async def drive(deployment: Deployment, args) -> list[dict]:
    people = deployment.people
    pages = deployment.daphnes[: deployment.daphne_count]
    sockets = deployment.daphnes[deployment.daphne_count :]
    results = []
    async with Bench([d.port for d in pages], people, args, [d.port for d in sockets]) as bench:
        volunteers = [Volunteer(bench, user_id, key) for user_id, key in people.volunteers]
        bench.volunteers = {volunteer.user_id: volunteer for volunteer in volunteers}
        coordinators = [Coordinator(bench, key) for key in people.coordinators]
        tasks = [asyncio.create_task(v.hold()) for v in volunteers] + [
            asyncio.create_task(v.work()) for v in volunteers
        ]
        tasks += [asyncio.create_task(c.hold()) for c in coordinators]
        started = time.monotonic()
        everyone = [*volunteers, *coordinators]
        while time.monotonic() - started < 120 and not all(p.connected.is_set() for p in everyone):
            await asyncio.sleep(0.1)
        connected = sum(p.connected.is_set() for p in everyone)
        log(f"{connected} of {len(everyone)} sockets open in {time.monotonic() - started:.1f} s")
        from django.conf import settings

        citizens = [{settings.SESSION_COOKIE_NAME: key} for key in people.citizens]
        seconds = args.duration

        async def empty_view(stage):
            await closed_loop(lambda i: bench.empty_view(), args.concurrency, seconds)

        async def posts_max(stage):
            await closed_loop(
                lambda i: bench.post_request(citizens[i % len(citizens)]), args.concurrency, seconds
            )

        async def logins_max(stage):
            await closed_loop(lambda i: bench.log_in(), args.concurrency, seconds)

        async def signups_max(stage):
            await closed_loop(lambda i: bench.sign_up(), args.concurrency, seconds)

        def crisis_mix(rate: float, faults: bool):
            async def load(stage):
                dashboards = [
                    open_loop(
                        lambda i, c=c: bench.dashboard(c.cookies), 0.2, seconds, stage.actions["dashboard"], 2
                    )
                    for c in coordinators
                ]
                streams = [
                    open_loop(
                        lambda i: bench.post_request(citizens[i % len(citizens)]),
                        rate,
                        seconds,
                        stage.actions["post"],
                        4 * args.concurrency,
                    ),
                    open_loop(
                        lambda i: bench.sign_up(),
                        rate / 10,
                        seconds,
                        stage.actions["sign-up"],
                        args.concurrency,
                    ),
                    open_loop(
                        lambda i: bench.log_in(), rate / 10, seconds, stage.actions["login"], args.concurrency
                    ),
                    *dashboards,
                ]
                if faults:
                    streams.append(inject_faults(deployment, stage, seconds))
                await asyncio.gather(*streams)

            return load

        stages = [
            ("empty view (max)", empty_view),
            ("posts (max)", posts_max),
            ("logins (max)", logins_max),
            ("sign-ups (max)", signups_max),
        ]

        async def run(name, load) -> None:
            stage = await run_stage(name, deployment, bench, load)
            results.append(stage_summary(stage, deployment, bench))
            results[-1]["sockets_open_at_start"] = connected
            results[-1]["reconnects"] = sum(v.reconnects for v in volunteers)
            await asyncio.sleep(1.0)  # the tail of one stage out of the next

        try:
            for name, load in stages:
                await run(name, load)
            # A rate this configuration can carry (half its measured max), so that the lag and
            # the socket latency are seen without a backlog; then the asked --rate.
            most = rate(results, "posts", "post") or 0.0
            sustainable = min(args.rate, max(1.0, round(most / 2, 1)))
            await run(f"crisis mix at {sustainable:g} posts/s (half the max)", crisis_mix(sustainable, False))
            if args.rate > sustainable:
                await run(f"crisis mix at {args.rate:g} posts/s", crisis_mix(args.rate, False))
            if args.faults and deployment.daphne_count == max(args.daphnes):
                name = f"crisis mix at {sustainable:g} posts/s, Redis and a daphne restarted"
                await run(name, crisis_mix(sustainable, True))
        finally:
            for person in everyone:
                await person.close()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return results


async def inject_faults(deployment: Deployment, stage: Stage, seconds: float) -> None:
    """A third of the way in, restart redis-server; at two thirds, SIGTERM daphne 1 (it
    drains) and start it again on its port."""
    await asyncio.sleep(seconds / 3)
    started = time.monotonic()
    await asyncio.to_thread(deployment.redis.restart)
    down = time.monotonic() - started
    stage.notes.append(f"redis-server restarted at +{started - stage.started:.1f} s ({down:.1f} s down)")
    stage.redis_restarted_at = time.time()
    log(f"  {stage.notes[-1]}")
    await asyncio.sleep(seconds / 3 - (time.monotonic() - started))
    started = time.monotonic()
    stage.daphne_restart_at = time.time()
    await asyncio.to_thread(deployment.daphnes[0].restart)
    stage.notes.append(
        f"daphne 1 restarted at +{started - stage.started:.1f} s ({time.monotonic() - started:.1f} s down)"
    )
    log(f"  {stage.notes[-1]}")


# --- output ----------------------------------------------------------------------------


def fmt(value, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def percentiles(summary: dict, keys=("p50", "p95", "p99"), digits: int = 0) -> list[str]:
    return [fmt(summary.get(key), digits) for key in keys]


MAIN_ACTIONS = ("empty view", "post", "login", "sign-up", "accept (socket)", "inbox", "done", "dashboard")


SECOND_HEADER = [
    "stage",
    "posted",
    "post -> proposal p50 / p95 / max (s)",
    "socket event p50 / p95 / p99 (ms)",
    "no proposal event",
    "requests' status at the end",
    "sockets dropped / reconnects",
    "CPU s: daphnes / worker / PostgreSQL / Redis / bench client",
    "CPU ms (service) per post",
]
SCALING_HEADER = [
    "daphnes",
    "empty view/s",
    "posts/s (max)",
    "x 1 daphne",
    "posts / empty view",
    "logins/s (max)",
    "x 1 daphne",
    "sign-ups/s (max)",
    "CPU ms per post (max stage)",
    "CPU ms per login",
]


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def configuration_table(daphnes: int, stages: list[dict]) -> str:
    header = [
        "stage",
        "action",
        "asked/s",
        "achieved/s",
        "answered",
        "errors",
        "retries",
        "p50 ms",
        "p95 ms",
        "p99 ms",
    ]
    rows = [
        f"**{daphnes} daphne{'s' if daphnes > 1 else ''}**",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for stage in stages:
        actions = stage["actions"]
        for action in sorted(actions, key=lambda a: MAIN_ACTIONS.index(a) if a in MAIN_ACTIONS else 99):
            figures = actions[action]
            errors = str(figures["errors"])
            if figures["error_kinds"]:
                errors += " (" + ", ".join(f"{k}: {v}" for k, v in figures["error_kinds"].items()) + ")"
            if figures["skipped"]:
                errors += f"; {figures['skipped']} not sent (client backlog full)"
            rows.append(
                "| "
                + " | ".join(
                    [
                        stage["stage"],
                        action,
                        fmt(figures["asked_per_second"], 1),
                        fmt(figures["per_second"], 1),
                        str(figures["answered"]),
                        errors,
                        str(figures["retries"]),
                        *percentiles(figures["answer_ms"]),
                    ]
                )
                + " |"
            )
    rows += [
        "",
        row(SECOND_HEADER),
        "|" + "---|" * len(SECOND_HEADER),
    ]
    for stage in stages:
        cpu = stage["cpu"]
        service_cpu = cpu["daphnes"] + cpu["worker"] + cpu["postgres"] + cpu["redis"]
        posted = stage.get("posted", 0)
        main = main_action(stage)
        answered = stage["actions"].get(main, {}).get("answered", 0)
        per_post = fmt(1000 * service_cpu / posted) if posted else "-"
        cells = [
            stage["stage"],
            str(posted) if posted else "-",
            " / ".join(percentiles(stage.get("lag_seconds", {}), ("p50", "p95", "max"), 2))
            if posted
            else "-",
            " / ".join(percentiles(stage.get("socket_event_ms", {}), ("p50", "p95", "p99")))
            if posted
            else "-",
            str(stage.get("no_proposal_event", "-")),
            ", ".join(f"{k} {v}" for k, v in stage.get("request_statuses", {}).items()) or "-",
            f"{stage['events'].get('sockets dropped', 0)} / {stage.get('reconnects', 0)}",
            " / ".join(fmt(cpu[k], 2) for k in ("daphnes", "worker", "postgres", "redis", "client"))
            + " (PostgreSQL connections at most: {} ours, {} on the server of max_connections {})".format(
                *stage["peak_connections"]
            ),
            per_post
            if posted
            else (f"{fmt(1000 * service_cpu / answered, 1)} per {main}" if answered else "-"),
        ]
        rows.append("| " + " | ".join(cells) + " |")
        for note in stage["notes"]:
            rows.append(f"| ↳ {note} |" + " |" * 8)
    return "\n".join(rows)


def main_action(stage: dict) -> str:
    """The action a stage is about (its CPU is divided by that action's count)."""
    for prefix, action in (("empty", "empty view"), ("logins", "login"), ("sign-ups", "sign-up")):
        if stage["stage"].startswith(prefix):
            return action
    return "post"


def rate(stages: list[dict], stage_prefix: str, action: str) -> float | None:
    for stage in stages:
        if stage["stage"].startswith(stage_prefix) and action in stage["actions"]:
            return stage["actions"][action]["per_second"]
    return None


def scaling_table(results: dict[int, list[dict]]) -> str:
    rows = [
        row(SCALING_HEADER),
        "|" + "---|" * len(SCALING_HEADER),
    ]
    one = results.get(min(results))
    base_posts = rate(one, "posts", "post") if one else None
    base_logins = rate(one, "logins", "login") if one else None
    for daphnes, stages in results.items():
        empty = rate(stages, "empty", "empty view")
        posts = rate(stages, "posts", "post")
        logins = rate(stages, "logins", "login")
        signups = rate(stages, "sign-ups", "sign-up")

        def cpu_per(prefix: str, action: str, stages=stages) -> str:
            return fmt(service_cpu_ms(stages, prefix, action), 1)

        rows.append(
            "| "
            + " | ".join(
                [
                    str(daphnes),
                    fmt(empty, 1),
                    fmt(posts, 1),
                    fmt(posts / base_posts, 2) if posts and base_posts else "-",
                    fmt(posts / empty, 3) if posts and empty else "-",
                    fmt(logins, 1),
                    fmt(logins / base_logins, 2) if logins and base_logins else "-",
                    fmt(signups, 1),
                    cpu_per("posts", "post"),
                    cpu_per("logins", "login"),
                ]
            )
            + " |"
        )
    return "\n".join(rows)


def service_cpu_ms(stages: list[dict], stage_prefix: str, action: str) -> float | None:
    """Service CPU (daphnes, worker, PostgreSQL, Redis) per answered `action` in the stage."""
    for stage in stages:
        if stage["stage"].startswith(stage_prefix):
            cpu = stage["cpu"]
            answered = stage["actions"].get(action, {}).get("answered", 0)
            total = cpu["daphnes"] + cpu["worker"] + cpu["postgres"] + cpu["redis"]
            return 1000 * total / answered if answered else None
    return None


def comparison_table(earlier: dict[int, list[dict]], this: dict[int, list[dict]]) -> str:
    header = [
        "daphnes",
        "code",
        "posts/s (max)",
        "CPU ms per post",
        "logins/s (max)",
        "CPU ms per login",
        "half-max mix: posts/s",
        "post -> proposal p50 / p95 s",
        "socket event p50 / p99 ms",
    ]
    rows = [row(header), "|" + "---|" * len(header)]
    for daphnes in sorted(set(earlier) & set(this)):
        for code, stages in (("earlier", earlier[daphnes]), ("this", this[daphnes])):
            mix = next((stage for stage in stages if stage["stage"].endswith("(half the max)")), None)
            lag = mix.get("lag_seconds", {}) if mix else {}
            live = mix.get("socket_event_ms", {}) if mix else {}
            rows.append(
                row(
                    [
                        str(daphnes),
                        code,
                        fmt(rate(stages, "posts", "post"), 1),
                        fmt(service_cpu_ms(stages, "posts", "post"), 1),
                        fmt(rate(stages, "logins", "login"), 1),
                        fmt(service_cpu_ms(stages, "logins", "login"), 1),
                        fmt(mix["actions"]["post"]["per_second"], 1) if mix else "-",
                        f"{fmt(lag.get('p50'), 2)} / {fmt(lag.get('p95'), 2)}",
                        f"{fmt(live.get('p50'))} / {fmt(live.get('p99'))}",
                    ]
                )
            )
    return "\n".join(rows)


def targets_table(results: dict[int, list[dict]], args) -> str:
    rows = ["| target | best measured | where | met? |", "|---|---|---|---|"]

    def stages_named(prefix):
        return [(d, s) for d, stages in results.items() for s in stages if s["stage"].startswith(prefix)]

    best = max(
        (
            (s["actions"]["post"]["per_second"], d, s["actions"]["post"]["errors"])
            for d, s in stages_named("posts")
            if "post" in s["actions"]
        ),
        default=None,
    )
    if best:
        ok = best[0] >= TARGETS["posts"][0] and best[2] == 0
        figure, where = f"{best[0]:.1f}/s, {best[2]} errors", f"posts (max), {best[1]} daphne(s)"
        rows.append(row([TARGETS["posts"][1], figure, where, met(ok)]))
    mixes = [
        (d, s)
        for d, s in stages_named("crisis mix")
        if "Redis" not in s["stage"] and s.get("lag_seconds", {}).get("count")
    ]
    at_50 = [(d, s) for d, s in mixes if (s["actions"]["post"]["asked_per_second"] or 0) >= 50]
    if at_50:
        d, s = min(at_50, key=lambda item: item[1]["lag_seconds"]["p95"])
        p95, achieved = s["lag_seconds"]["p95"], s["actions"]["post"]["per_second"]
        figure = f"{p95:.2f} s ({achieved:.1f} posts/s achieved)"
        ok = p95 <= TARGETS["lag_p95"][0] and achieved >= 0.95 * 50
        rows.append(row([TARGETS["lag_p95"][1], figure, f"{s['stage']}, {d} daphne(s)", met(ok)]))
    else:
        rows.append(row([TARGETS["lag_p95"][1], "not run at 50 posts/s (--rate)", "-", "-"]))
    for d, s in mixes:
        if s not in (item[1] for item in at_50):
            figure = f"{s['lag_seconds']['p95']:.2f} s"
            rows.append(
                row(["(information) post -> proposal p95", figure, f"{s['stage']}, {d} daphne(s)", "-"])
            )
    logins = max(
        (
            (s["actions"]["login"]["per_second"], d)
            for d, s in stages_named("logins")
            if "login" in s["actions"]
        ),
        default=None,
    )
    if logins:
        where = f"logins (max), {logins[1]} daphne(s)"
        rows.append(
            row([TARGETS["logins"][1], f"{logins[0]:.1f}/s", where, met(logins[0] >= TARGETS["logins"][0])])
        )
    live = [(d, s) for d, s in mixes if s.get("socket_event_ms", {}).get("count")]
    if live:
        d, s = min(live, key=lambda item: item[1]["socket_event_ms"]["p99"])
        p99 = s["socket_event_ms"]["p99"]
        where = f"{s['stage']}, {d} daphne(s)"
        rows.append(row([TARGETS["live_p99"][1], f"{p99:.0f} ms", where, met(p99 <= TARGETS["live_p99"][0])]))
    return "\n".join(rows)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


# --- main ------------------------------------------------------------------------------


def prepare(args, databases: Databases, work: Path) -> tuple[str, People]:
    """The template database: migrated, static files collected, people seeded."""
    template = f"{databases.prefix}_template"
    url = databases.create(template)
    env = production_environment(args, url, "redis://127.0.0.1:1/0", 8000, work)
    log(f"migrating a fresh PostgreSQL database {template}; collecting static files")
    for command in (["migrate"], ["collectstatic"]):
        subprocess.run(
            ["bash", "deploy/run.sh", *command],
            cwd=PROJECT_ROOT,
            env=env,
            check=True,
            timeout=300,
            stdout=subprocess.DEVNULL,
        )
    os.environ.update(env)
    os.environ["DATABASE_POOL_MAX_SIZE"] = "0"  # this process: one plain connection
    os.environ.pop("REDIS_URL", None)  # nothing is published from here
    import django

    django.setup()
    from django.db import connections

    citizens = 4 * args.concurrency  # the crisis mix's posts come from up to this many at once
    log(f"seeding {args.volunteers} volunteers, {citizens} citizens, {args.coordinators} coordinators")
    people = seed(args.volunteers, citizens, args.coordinators, 200)
    connections.close_all()
    return template, people


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--daphnes", default="1,2,4", help="configurations: daphnes, comma separated (default 1,2,4)"
    )
    parser.add_argument("--duration", type=float, default=20, help="seconds per stage (default 20)")
    parser.add_argument("--rate", type=float, default=50, help="posts/s in the crisis mix (default 50)")
    parser.add_argument("--concurrency", type=int, default=32, help="clients in the max stages (default 32)")
    parser.add_argument(
        "--volunteers", type=int, default=200, help="volunteers with sockets open (default 200)"
    )
    parser.add_argument(
        "--coordinators", type=int, default=4, help="coordinators with a dashboard open (default 4)"
    )
    parser.add_argument(
        "--faults", action="store_true", help="a crisis mix with Redis and a daphne restarted"
    )
    parser.add_argument(
        "--debounce", type=float, default=None, help="MATCHING_DEBOUNCE_SECONDS (default: production's)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="about a minute: 1 daphne, 3 s stages, 20 volunteers, 10 posts/s, faults",
    )
    parser.add_argument(
        "--socket-daphnes",
        type=int,
        default=0,
        help="daphnes of their own for the live sockets, besides --daphnes for pages (as nginx's "
        "SOCKET_DAPHNES upstream does; default 0: sockets share the page daphnes)",
    )
    parser.add_argument(
        "--compare-with",
        type=Path,
        default=None,
        metavar="CHECKOUT",
        help="also run each configuration on the code of another checkout (e.g. a git worktree of an "
        "earlier commit), alternating with this one, and print both side by side",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()
    if args.compare_with is not None and not (args.compare_with / "deploy" / "run.sh").is_file():
        parser.error(f"--compare-with: {args.compare_with} is not a checkout of this project")
    if args.quick:
        args.daphnes, args.duration, args.rate, args.volunteers, args.concurrency = "1", 3.0, 10.0, 20, 8
        args.coordinators, args.faults = 1, True
    args.daphnes = sorted({int(n) for n in args.daphnes.split(",")})
    if not all(1 <= n <= 16 for n in args.daphnes):
        parser.error("--daphnes: 1 to 16 each")
    if not 1 <= args.volunteers <= 5000 or not 1 <= args.concurrency <= 500 or not 1 <= args.duration <= 600:
        parser.error("--volunteers 1-5000, --concurrency 1-500, --duration 1-600")
    for program in ("redis-server",):
        if shutil.which(program) is None:
            parser.error(f"{program} is needed")
    raise_open_file_limit(args.volunteers + args.coordinators + 4 * args.concurrency + 100)

    def stop(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    work = Path(tempfile.mkdtemp(prefix=f"mutualaid-service-bench-{os.getpid()}-"))
    databases = Databases(args.database_url)
    results: dict[int, list[dict]] = {}
    earlier_results: dict[int, list[dict]] = {}
    findings: dict[int, dict[str, int]] = {}
    load_before = os.getloadavg()
    # The other checkout first, then this one, per configuration: both see the same machine.
    codes = [("earlier", args.compare_with, earlier_results)] if args.compare_with else []
    codes.append(("this", PROJECT_ROOT, results))
    try:
        template, people = prepare(args, databases, work)
        for daphnes in args.daphnes:
            for code, root, into in codes:
                log(
                    f"--- {daphnes} daphne(s), {code} code ({root}): a copy of the database, redis-server, "
                    "daphnes, the worker"
                )
                deployment = Deployment(args, databases, template, work, daphnes, people, code, root)
                try:
                    into[daphnes] = asyncio.run(drive(deployment, args))
                    if code != "this":
                        continue
                    findings[daphnes] = {
                        what: sum(service.log_count(pattern) for service in deployment.services)
                        for what, pattern in LOG_FINDINGS.items()
                    }
                    if any(findings[daphnes].values()):
                        log(f"  in the services' logs: {findings[daphnes]}; last lines of each:")
                        for service in deployment.services:
                            log(f"--- {service.name}\n{service.tail(5)}")
                finally:
                    deployment.stop()
    finally:
        from django.db import connections

        with contextlib.suppress(Exception):
            connections.close_all()
        databases.drop_all()
        shutil.rmtree(work, ignore_errors=True)
    print()
    for daphnes, stages in results.items():
        print(configuration_table(daphnes, stages))
        print()
        if daphnes in findings:
            print(
                "In the services' logs: " + ", ".join(f"{what}: {n}" for what, n in findings[daphnes].items())
            )
            print()
    if earlier_results:
        for daphnes, stages in earlier_results.items():
            print(f"The code of {args.compare_with}, {daphnes} daphne(s):\n")
            print(configuration_table(daphnes, stages))
            print()
        print(f"This code against the code of {args.compare_with}, same run (each configuration ran")
        print("on the earlier code first, then on this one):\n")
        print(comparison_table(earlier_results, results))
        print()
    print("Scaling (ratios against 1 daphne and against the empty view, same run):\n")
    print(scaling_table(results))
    print()
    print("Targets (issue 13), checked against the best configuration:\n")
    print(targets_table(results, args))
    print()
    print(
        f"Rate limits raised for the bench (every client is 127.0.0.1): RATE_LIMIT_SIGNUP, _LOGIN, "
        f"_POST_REQUEST, _SOCKET_MESSAGE = {HIGH_LIMIT}. Production settings otherwise (DEBUG=0, pool of "
        f"10 per process (the default), debounce "
        f"{args.debounce if args.debounce is not None else 'the default of each code'}); no nginx (the "
        "clients spread requests over the daphnes"
        + (f"; {args.socket_daphnes} more daphne(s) for the sockets only" if args.socket_daphnes else "")
        + "). CPU: the daphnes, the worker, this database's PostgreSQL backends, "
        "the bench's redis-server, and this client (which shares the machine)."
    )
    print(
        f"Machine: {os.cpu_count()} cores, {cpu_model()}, {platform.platform()}; load average "
        f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print(f"Command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    if args.json:
        figures = {"results": {str(k): v for k, v in results.items()}}
        if earlier_results:
            figures["earlier"] = {str(k): v for k, v in earlier_results.items()}
            figures["earlier_checkout"] = str(args.compare_with)
        args.json.write_text(json.dumps(figures, default=str, indent=1))


if __name__ == "__main__":
    main()
