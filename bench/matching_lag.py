"""Post -> proposal: how long a new request waits for matching, through the real worker.

    .venv/bin/python bench/matching_lag.py [--quick]

The embedded default (SQLite, the worker's loop in this process, as inside daphne): a
community of volunteers, requests filed through `help_request_create` at a steady rate,
the worker (`worker.loop.run_worker`) matching them; the lag is from a request's commit
to its status turning "proposed" (polled every 5 ms). Scenarios: posts far apart (each
after a quiet spell: the leading edge), and steady streams faster than the debounce.
Printed as one markdown table, with the matching runs' own time split into phases.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))


def configure(directory: Path) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "mutualaid.settings",
            "DATABASE_URL": f"sqlite:///{directory / 'lag.sqlite3'}",
            "GEOCODER": "offline",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run_scenario(name: str, posts: int, per_second: float, first_category: int) -> dict:
    from django.db import close_old_connections

    from matching.models import MatchingRun
    from mutualaid.accounts.models import User
    from mutualaid.aid import services
    from mutualaid.aid.models import Category, Community, HelpRequest
    from mutualaid.aid.places import Location
    from worker.loop import run_worker

    community = Community.objects.get(slug="bench")
    coordinator = User.objects.get(username="bench-coordinator")
    categories = list(Category.objects.filter(community=community).order_by("pk"))
    runs_before = MatchingRun.objects.count()
    committed: dict[int, float] = {}
    proposed: dict[int, float] = {}
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    worker = threading.Thread(target=loop.run_until_complete, args=(run_worker(stop),), daemon=True)
    worker.start()
    time.sleep(1.0)  # the worker's first look at the queue is over: a quiet spell

    def post(index: int) -> None:
        help_request = services.help_request_create(
            community=community,
            requester=None,
            created_by=coordinator,
            category=categories[first_category + index],  # a volunteer of its own
            description="Bench",
            urgency=1,
            location=Location(50.8798, 4.7005, "Bench 1, 3000 Leuven", "Leuven centrum"),
            any_time=True,
            contact_name="Bench caller",
            contact_phone="016 00 00 00",
        )
        committed[help_request.pk] = time.monotonic()

    def watch() -> None:
        deadline = time.monotonic() + posts / per_second + 30
        while time.monotonic() < deadline and len(proposed) < posts:
            waiting = [pk for pk in committed if pk not in proposed]
            for pk in HelpRequest.objects.filter(pk__in=waiting, status="proposed").values_list(
                "pk", flat=True
            ):
                proposed[pk] = time.monotonic()
            time.sleep(0.005)
        close_old_connections()

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    for index in range(posts):
        time.sleep(max(0.0, started + index / per_second - time.monotonic()))
        post(index)
    watcher.join()
    loop.call_soon_threadsafe(stop.set)
    worker.join(timeout=30)
    lags = [proposed[pk] - committed[pk] for pk in committed if pk in proposed]
    runs = list(MatchingRun.objects.order_by("pk")[runs_before:])
    return {
        "name": name,
        "posts": posts,
        "rate": per_second,
        "proposed": len(lags),
        "p50": percentile(lags, 0.5) if lags else float("nan"),
        "p95": percentile(lags, 0.95) if lags else float("nan"),
        "max": max(lags) if lags else float("nan"),
        "runs": len(runs),
        "run_ms": statistics.median(run.seconds for run in runs) * 1000 if runs else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer posts")
    args = parser.parse_args()
    scale = 0.25 if args.quick else 1.0
    with tempfile.TemporaryDirectory(prefix="matching-lag-") as directory:
        configure(Path(directory))
        from django.conf import settings

        from bench.live_support import seed

        seed(400)  # 400 volunteers, one category each: every request has someone to go to
        scenarios = [
            ("apart (1 post every 3 s)", int(20 * scale) or 4, 1 / 3),
            ("steady 2 posts/s", int(60 * scale), 2.0),
            ("steady 10 posts/s", int(200 * scale), 10.0),
        ]
        rows, first_category = [], 0
        for name, posts, rate in scenarios:
            rows.append(run_scenario(name, posts, rate, first_category))
            first_category += posts
        print(
            f"\nPost -> proposal through the worker, embedded default (SQLite), "
            f"MATCHING_DEBOUNCE_SECONDS={settings.MATCHING_DEBOUNCE_SECONDS:g}; "
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"load average {os.getloadavg()[0]:.2f} at the end\n"
        )
        print(
            "| scenario | posts | proposed | lag p50 (s) | lag p95 (s) | lag max (s) "
            "| matching runs | run, median (ms) |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for row in rows:
            print(
                f"| {row['name']} | {row['posts']} | {row['proposed']} | {row['p50']:.3f} | {row['p95']:.3f} "
                f"| {row['max']:.3f} | {row['runs']} | {row['run_ms']:.0f} |"
            )


if __name__ == "__main__":
    main()
