"""Benchmark of the matching engine against anchors, printed as one markdown table.

    .venv/bin/python bench/engine.py [--quick] [--runs N]

Cases come from the instance generator kept in tests/matching/data/make_instance.py.
Every measurement runs in its own child process, so peak memory (ru_maxrss and
tracemalloc's peak) of one case does not leak into the next. Anchors, run
in the same invocation: dense scipy linear_sum_assignment where the matrix fits in
memory, and greedy nearest-feasible (pairs in increasing km).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CASES = {
    # name: (requests, volunteers, engine runs)
    "balanced 5k x 5k": (5_000, 5_000, 5),
    "normal 2k x 20k": (2_000, 20_000, 5),
    "crisis 20k x 5k": (20_000, 5_000, 3),
    "large 100k x 100k": (100_000, 100_000, 3),
}
QUICK = {
    "balanced 1k x 1k": (1_000, 1_000, 3),
    "normal 400 x 4k": (400, 4_000, 3),
    "crisis 4k x 1k": (4_000, 1_000, 3),
    "large 20k x 20k": (20_000, 20_000, 3),
}
DENSE_LIMIT_BYTES = 4 * 2**30  # skip dense LSA above this matrix size (plus its copies)
SEED = 1
SPREAD_KM = 2.5


def load_make():
    path = ROOT / "tests" / "matching" / "data" / "make_instance.py"
    spec = importlib.util.spec_from_file_location("make_instance", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make, path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- children
def child_engine(n: int, m: int, runs: int) -> dict:
    from matching.engine import parse_instance, solve

    make, _ = load_make()
    data = make(n, m, SEED, SPREAD_KM)
    baseline = peak_rss_mb()
    solve_times, solve_cpu_times, parse_times = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        instance = parse_instance(data)
        parsed = time.perf_counter()
        parsed_cpu = time.process_time()  # CPU time: less noisy than wall on a shared machine
        result = solve(instance)
        solve_cpu_times.append(time.process_time() - parsed_cpu)
        solve_times.append(time.perf_counter() - parsed)
        parse_times.append(parsed - started)
    rss = peak_rss_mb()
    tracemalloc.start()
    solve(parse_instance(data))
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {
        "solve_s": statistics.median(solve_times),
        "solve_cpu_s": statistics.median(solve_cpu_times),
        "cold_solve": result.certificate["cold_solve"],
        "parse_s": statistics.median(parse_times),
        "traced_mb": traced,
        "rss_mb": rss,
        "baseline_rss_mb": baseline,
        "matched": result.matched,
        "total_priority": result.total_priority,
        "total_km": result.total_km,
        "optimal": result.certificate["optimal"],
        "rounds": result.certificate["rounds"],
        "edges": result.certificate["candidate_edges"],
    }


def child_dense(n: int, m: int) -> dict:
    """Dense LSA on requests x (capacity copies + one 'unassigned' column per request)."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    from matching.engine import parse_instance
    from matching.engine.candidates import feasible_pairs
    from matching.engine.geometry import pair_km
    from matching.engine.solver import make_scale

    make, _ = load_make()
    instance = parse_instance(make(n, m, SEED, SPREAD_KM))
    baseline = peak_rss_mb()
    started = time.perf_counter()
    copies = np.repeat(np.arange(m), np.minimum(instance.volunteer_capacity, n))
    scale = make_scale(instance)
    # float64 costs (what LSA takes): priority rank first, km second, exact enough here.
    weight = float(scale.big) / scale.per_km
    cost = np.zeros((n, len(copies) + n))
    keys = instance.excluded_keys()
    for row in range(n):
        requests = np.full(len(copies), row)
        km = pair_km(instance.request_xyz[requests], instance.volunteer_xyz[copies])
        ok, km = feasible_pairs(instance, requests, copies, km, keys)
        cost[row, : len(copies)] = np.where(ok, km - scale.ranks[row] * weight, 1.0)
    built = time.perf_counter()
    rows, columns = linear_sum_assignment(cost)
    elapsed = time.perf_counter() - started
    lsa_only = time.perf_counter() - built
    real = columns < len(copies)
    km = pair_km(instance.request_xyz[rows[real]], instance.volunteer_xyz[copies[columns[real]]])
    return {
        "seconds": elapsed,
        "lsa_only_s": lsa_only,
        "rss_mb": peak_rss_mb(),
        "baseline_rss_mb": baseline,
        "matched": int(real.sum()),
        "total_priority": int(instance.request_priority[rows[real]].sum()),
        "total_km": float(km.sum()),
    }


def child_greedy(n: int, m: int) -> dict:
    """Greedy nearest-feasible: feasible pairs (64 nearest per request) by increasing km."""
    import numpy as np

    from matching.engine import parse_instance
    from matching.engine.candidates import CandidateSearch

    make, _ = load_make()
    instance = parse_instance(make(n, m, SEED, SPREAD_KM))
    started = time.perf_counter()
    search = CandidateSearch(instance)
    requests = np.arange(n)
    edges = search.search(requests, np.zeros(n, dtype=np.int64), np.full(n, 64))
    order = np.argsort(edges.km, kind="stable")
    left = instance.volunteer_capacity.copy()
    taken = np.zeros(n, dtype=bool)
    total_km, total_priority, matched = 0.0, 0, 0
    for r, v, km in zip(
        edges.request[order].tolist(), edges.volunteer[order].tolist(), edges.km[order].tolist(), strict=True
    ):
        if not taken[r] and left[v] > 0:
            taken[r] = True
            left[v] -= 1
            total_km += km
            total_priority += int(instance.request_priority[r])
            matched += 1
    return {
        "seconds": time.perf_counter() - started,
        "matched": matched,
        "total_priority": total_priority,
        "total_km": total_km,
    }


def run_child(kind: str, n: int, m: int, runs: int) -> dict | None:
    command = [sys.executable, __file__, "--child", kind, str(n), str(m), str(runs)]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if completed.returncode != 0:
        print(f"  {kind} {n}x{m} failed: {completed.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(completed.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- report
def machine() -> str:
    import numpy
    import scipy

    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores, {model}; Python {platform.python_version()}, "
        f"NumPy {numpy.__version__}, SciPy {scipy.__version__}, {platform.system()} {platform.machine()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller instances, for a smoke run")
    parser.add_argument("--runs", type=int, help="engine runs per case (median reported)")
    parser.add_argument("--only", help="run only the cases whose name contains this text")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        kind, n, m, runs = arguments.child
        n, m, runs = int(n), int(m), int(runs)
        output = {"engine": lambda: child_engine(n, m, runs), "dense": lambda: child_dense(n, m)}.get(
            kind, lambda: child_greedy(n, m)
        )()
        print(json.dumps(output))
        return

    _, source = load_make()
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine: {machine()}")
    print(f"instances: make({'{requests}, {volunteers}'}, seed={SEED}, spread_km={SPREAD_KM}) from {source}")
    print()
    header = (
        "| case | engine solve s | engine CPU s | graph solve | parse s | traced peak MB | max RSS MB "
        "| matched | total priority | total km "
        "| certified | dense LSA s (matrix + LSA) | LSA max RSS MB | speed-up vs dense pipeline "
        "| speed-up vs LSA call alone | greedy s "
        "| greedy matched "
        "| greedy priority | greedy extra km % |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, (n, m, runs) in (QUICK if arguments.quick else CASES).items():
        if arguments.only and arguments.only not in name:
            continue
        runs = arguments.runs or runs
        engine = run_child("engine", n, m, runs)
        columns = [name]
        if engine is None:
            print(f"| {name} | failed |")
            continue
        columns += [
            f"{engine['solve_s']:.2f}",
            f"{engine['solve_cpu_s']:.2f}",
            engine["cold_solve"],
            f"{engine['parse_s']:.2f}",
            f"{engine['traced_mb']:.0f}",
            f"{engine['rss_mb']:.0f}",
            str(engine["matched"]),
            str(engine["total_priority"]),
            f"{engine['total_km']:.3f}",
            "yes" if engine["optimal"] else "NO",
        ]
        columns_estimate = n + 2 * m  # one per request + capacity copies (make_instance: mean 1.5)
        fits = n * columns_estimate * 8 * 2 <= DENSE_LIMIT_BYTES
        dense = run_child("dense", n, m, 1) if fits else None
        if dense:
            same = dense["total_priority"] == engine["total_priority"]
            columns += [
                f"{dense['seconds']:.2f} ({dense['lsa_only_s']:.2f} LSA)"
                + ("" if same else " (priority differs!)"),
                f"{dense['rss_mb']:.0f}",
                f"{dense['seconds'] / engine['solve_s']:.1f}x",
                f"{dense['lsa_only_s'] / engine['solve_s']:.1f}x",
            ]
        else:
            columns += ["skipped: matrix does not fit", "-", "-", "-"]
        greedy = run_child("greedy", n, m, 1)
        if greedy:
            extra = 100 * (greedy["total_km"] - engine["total_km"]) / max(engine["total_km"], 1e-12)
            columns += [
                f"{greedy['seconds']:.2f}",
                str(greedy["matched"]),
                str(greedy["total_priority"]),
                f"{extra:+.1f}",
            ]
        else:
            columns += ["-", "-", "-", "-"]
        print("| " + " | ".join(columns) + " |", flush=True)
    print()
    print(
        "solve s: median engine wall time after parsing (candidates, graph solve, certificate, reasons), "
        "CPU s the median process time of the same runs; speed-ups are wall against wall; "
        "max RSS includes the Python instance dict and interpreter."
    )


if __name__ == "__main__":
    main()
