"""The coordinators' dashboard at crisis size: queries and response times, as a markdown table.

    DATABASE_URL=sqlite:///crisis.sqlite3 .venv/bin/python manage.py migrate
    DATABASE_URL=sqlite:///crisis.sqlite3 .venv/bin/python manage.py load_crisis_demo
    DATABASE_URL=sqlite:///crisis.sqlite3 .venv/bin/python bench/dashboard.py [--runs 30]

Signs in as the community's first coordinator with Django's test Client (no network, no
browser: the server's own time, rendering included) and fetches each dashboard address
`--runs` times after one warm-up, counting the queries of the last fetch. Wall-clock
times include waiting for a busy machine's CPU; CPU times (this process's, client and
server together, SQLite included) do not, and compare better across machines and loads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mutualaid.settings")

ADDRESSES = {
    "dashboard (default)": "",
    "page 20": "?page=20",
    "search by name": "?q=Peeters",
    "search by phone": "?q=0470",
    "filter: urgent, Heverlee, waiting > 24 h": "?urgency=3&neighbourhood=Heverlee&waiting=24h",
    "sort by urgency": "?sort=urgency",
}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--only", default="", help="only the addresses whose name contains this")
    arguments = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.urls import reverse
    from django_otp import DEVICE_ID_SESSION_KEY

    from mutualaid.accounts.models import User
    from mutualaid.accounts.two_factor import authenticator, known_secret_device, random_hex_key
    from mutualaid.aid.models import HelpRequest, VolunteerOffer

    setup_test_environment()  # the test Client's host and a template-rendering signal
    settings.ALLOWED_HOSTS = ["testserver"]
    coordinator = User.objects.filter(is_coordinator=True).order_by("pk").first()
    if coordinator is None:
        sys.exit("No coordinator: load a data set first (manage.py load_crisis_demo).")
    client = Client()
    client.force_login(coordinator)
    # The second step of signing in, as django_otp.login records it (the demo's coordinator
    # is enrolled; another gets a fresh authenticator nobody needs to read).
    device = authenticator(coordinator) or known_secret_device(coordinator, random_hex_key())
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    community = coordinator.community
    open_requests = HelpRequest.objects.filter(community=community, status="open").count()
    volunteers = VolunteerOffer.objects.filter(community=community).count()
    print(
        f"{community.slug}: {open_requests} open requests, {volunteers} volunteers, "
        f"{connection.vendor}, {arguments.runs} runs each\n"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at the start: {load:.1f} on {os.cpu_count()} CPUs\n")
    print("| address | status | queries | p50 ms | p95 ms | max ms | CPU p50 ms | CPU p95 ms | bytes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, query in ADDRESSES.items():
        if arguments.only and arguments.only not in name:
            continue
        url = reverse("dashboard") + query
        client.get(url)  # warm-up: templates compiled, caches filled
        times, cpu_times = [], []
        for _ in range(arguments.runs):
            start, cpu_start = time.perf_counter(), time.process_time()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            cpu_times.append((time.process_time() - cpu_start) * 1000)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        print(
            f"| {name} (`{query or '/'}`) | {response.status_code} | {len(queries)} | "
            f"{statistics.median(times):.0f} | {percentile(times, 0.95):.0f} | {max(times):.0f} | "
            f"{statistics.median(cpu_times):.0f} | {percentile(cpu_times, 0.95):.0f} | "
            f"{len(response.content)} |"
        )


if __name__ == "__main__":
    main()
