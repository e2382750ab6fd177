"""Benchmark of live updates (not a timed test): N authenticated sockets on ONE daphne.

    .venv/bin/python bench/live.py [--sockets 2000] [--layers memory,redis] [--quick]
                                   [--batch 100] [--database-url postgres://...]

For each channel layer, in its own process (bench/live_support.py): a fresh database,
N volunteers with offers and sessions, one daphne on a loopback port, N sockets held by
the `websockets` client, then matching runs proposing --batch requests each until every
connected volunteer has received one proposal event. Prints a markdown table: sockets
held, event latency from commit to receipt (p50/p95/p99), errors (failed connects,
dropped sockets, missing events) and daphne's resident memory; then the machine and
versions. Target: 2,000 sockets on one daphne, 0 errors, p99 <= 100 ms.

Bounded: at most --sockets sockets, --time-limit seconds per layer, loopback only;
daphne is always stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LAYER_SCRIPT = Path(__file__).resolve().with_name("live_support.py")
TARGET = "target: 2,000 sockets held by one daphne process, 0 errors, p99 <= 100 ms"


def run_layer(layer: str, args) -> dict:
    command = [
        sys.executable,
        str(LAYER_SCRIPT),
        "--layer",
        layer,
        "--sockets",
        str(args.sockets),
        "--batch",
        str(args.batch),
        "--singles",
        str(args.singles),
        "--concurrency",
        str(args.concurrency),
        "--time-limit",
        str(args.time_limit),
        "--redis-url",
        args.redis_url,
    ]
    if args.database_url:
        command += ["--database-url", args.database_url]
    # Progress goes to our stderr; the measurements come back as the last line of stdout.
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        # Setup (migrate, people) and teardown come on top of the measured time limit.
        stdout, _ = process.communicate(timeout=args.time_limit + 180)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)  # its finally stops daphne and removes the files
        try:
            stdout, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, _ = process.communicate()
    lines = [line for line in (stdout or "").splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        return {"layer": layer, "failed": f"exit code {process.returncode}"}
    return json.loads(lines[-1])


def fmt(value, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def latency(summary: dict) -> str:
    return " | ".join(f"{fmt(summary.get(p), 1)}" for p in ("p50", "p95", "p99"))


def table(results: list[dict], batch: int) -> str:
    header = [
        "layer",
        "database",
        "sockets held / asked",
        "connect time (s)",
        f"proposal events (runs of {batch})",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "single events (accepts)",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors: connect / dropped / missing",
        "daphne RSS MB: idle / connected / end",
    ]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for result in results:
        if "failed" in result:
            rows.append(f"| {result['layer']} | failed: {result['failed']} |" + " |" * (len(header) - 2))
            continue
        errors = result["connect_errors"] + result["dropped"] + result["missing_events"]
        notes = []
        if result["not_proposed"]:
            notes.append(f"{result['not_proposed']} not proposed")
        if result["failed_accepts"]:
            notes.append(f"{result['failed_accepts']} accepts refused")
        if result["timed_out"]:
            notes.append("time limit hit")
        cells = [
            result["layer"],
            result["database"],
            f"{result['held_at_end']:,} / {result['sockets']:,}",
            fmt(result["connect_seconds"], 1),
            f"{result['proposals_received']:,} / {result['proposals_expected']:,}",
            latency(result["proposal_latency_ms"]),
            f"{result['singles_received']:,} / {result['singles_asked']:,}",
            latency(result["single_latency_ms"]),
            f"**{errors + result['not_proposed'] + result['failed_accepts']}**: "
            f"{result['connect_errors']} / {result['dropped']} / {result['missing_events']}"
            + (f" ({', '.join(notes)})" if notes else ""),
            " / ".join(fmt(result[key]) for key in ("rss_idle_mb", "rss_connected_mb", "rss_end_mb")),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def redis_version(url: str) -> str:
    with contextlib.suppress(Exception):
        import redis

        return redis.Redis.from_url(url, socket_timeout=2).info("server")["redis_version"]
    return "unreachable"


def versions(args, layers: list[str]) -> str:
    import sqlite3

    packages = ["Django", "channels", "daphne", "channels-redis", "websockets", "Twisted"]
    parts = [f"Python {platform.python_version()}"] + [f"{name} {version(name)}" for name in packages]
    parts.append(f"SQLite {sqlite3.sqlite_version}")
    if "redis" in layers:
        parts.append(f"Redis server {redis_version(args.redis_url)}")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description="Live-update benchmark: sockets, latency, memory.")
    parser.add_argument("--sockets", type=int, default=2000, help="volunteers' sockets (default 2000)")
    parser.add_argument("--layers", default="memory,redis", help="memory, redis or both (default)")
    parser.add_argument("--quick", action="store_true", help="200 sockets")
    parser.add_argument("--batch", type=int, default=100, help="proposals per matching run (default 100)")
    parser.add_argument("--singles", type=int, default=200, help="accepts sent one at a time (default 200)")
    parser.add_argument("--concurrency", type=int, default=50, help="connections opened at once")
    parser.add_argument("--time-limit", type=float, default=180, help="seconds per layer for the sockets")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server for the redis layer (a fresh database is created and dropped); "
        "default: a temporary SQLite file",
    )
    args = parser.parse_args()
    if args.quick:
        args.sockets = 200
    if not 1 <= args.sockets <= 10_000:
        parser.error("--sockets must be between 1 and 10,000")
    layers = [layer.strip() for layer in args.layers.split(",") if layer.strip()]
    if not layers or set(layers) - {"memory", "redis"}:
        parser.error("--layers takes memory, redis or memory,redis")
    results = [run_layer(layer, args) for layer in layers]
    print()
    print(table(results, args.batch))
    print()
    print(
        f"{TARGET}. Proposal events: matching runs proposing {args.batch} requests each (one per "
        "volunteer), latency from the run's commit. Single events: volunteers accept over their own "
        f"socket one at a time (up to {args.singles}), latency from the acceptance's insert."
    )
    for result in results:
        if result.get("slowest_per_run_ms"):
            runs = ", ".join(f"{ms:.0f}" for ms in result["slowest_per_run_ms"])
            print(f"Slowest proposal event of each matching run, {result['layer']} (ms): {runs}")
    print(f"Machine: {os.cpu_count()} cores, {cpu_model()}, {platform.platform()}")
    print(f"Versions: {versions(args, layers)}")
    print(f"Command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print("Raw: " + json.dumps(results))


if __name__ == "__main__":
    main()
