"""Benchmark of the matching engine against anchors, printed as one markdown table.

    .venv/bin/python bench/engine.py [--quick] [--runs N] [--only TEXT]

Cases come from the instance generator kept in tests/matching/data/make_instance.py.
Every measurement runs in its own child process, so peak memory (ru_maxrss and
tracemalloc's peak) of one case does not leak into the next. Anchors, run in the same
invocation: a vectorised dense cost matrix + scipy linear_sum_assignment where it fits in
memory (version 1 objective), OR-tools min-cost flow (optional: pip install '.[bench]')
and a priority-first greedy, both on the same candidate graph (64 nearest feasible pairs
per request plus the preferred pairs). Variants: the generator's version 2 mix, points
snapped to 0.01 degree, everyone at one point.
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
    # name: (requests, volunteers, engine runs, variant); variants: "v1" (generator as is),
    # "v2" (--v2), "snap" (--round-degrees 0.01), "one-point" (everyone at Leuven centre).
    "balanced 5k x 5k": (5_000, 5_000, 5, "v1"),
    "normal 2k x 20k": (2_000, 20_000, 5, "v1"),
    "crisis 5k x 1.25k": (5_000, 1_250, 5, "v1"),
    "crisis 20k x 5k": (20_000, 5_000, 3, "v1"),
    "large 100k x 100k": (100_000, 100_000, 3, "v1"),
    "v2 5k x 5k": (5_000, 5_000, 3, "v2"),
    "v2 100k x 100k": (100_000, 100_000, 1, "v2"),
    "snapped 20k x 20k": (20_000, 20_000, 3, "snap"),
    "one point 20k x 2k": (20_000, 2_000, 1, "one-point"),
    "one point 20k x 20k": (20_000, 20_000, 1, "one-point"),
}
QUICK = {
    "balanced 1k x 1k": (1_000, 1_000, 3, "v1"),
    "crisis 4k x 1k": (4_000, 1_000, 3, "v1"),
    "large 20k x 20k": (20_000, 20_000, 3, "v1"),
    "v2 1k x 1k": (1_000, 1_000, 3, "v2"),
    "v2 5k x 5k": (5_000, 5_000, 3, "v2"),
    "snapped 5k x 5k": (5_000, 5_000, 3, "snap"),
    "one point 2k x 500": (2_000, 500, 3, "one-point"),
}
DENSE_LIMIT_BYTES = 4 * 2**30  # skip dense LSA above this matrix size (plus its copies)
SEED = 1
SPREAD_KM = 2.5
ORTOOLS_NEIGHBOURS = 64  # the anchors' candidate graph: 64 nearest feasible + preferred pairs


def load_make():
    path = ROOT / "tests" / "matching" / "data" / "make_instance.py"
    spec = importlib.util.spec_from_file_location("make_instance", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path


def make_data(n: int, m: int, variant: str) -> dict:
    module, _ = load_make()
    data = module.make(n, m, SEED, SPREAD_KM)
    if variant == "v2":
        data = module.add_version_2(data, SEED)
    elif variant == "snap":
        data = module.snap(data, 0.01)
    elif variant == "one-point":
        for person in data["requests"] + data["volunteers"]:
            person["lat"], person["lon"] = 50.8798, 4.7005
    return data


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- children
def child_engine(n: int, m: int, runs: int, variant: str) -> dict:
    from matching.engine import parse_instance, solve

    data = make_data(n, m, variant)
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
        "total_cost": result.to_json()["total_cost"],
        "optimal": result.certificate["optimal"],
        "rounds": result.certificate["rounds"],
        "edges": result.certificate["candidate_edges"],
    }


def child_dense(n: int, m: int, runs: int, variant: str) -> dict:
    """Dense LSA on requests x (capacity copies + one 'unassigned' column per request), the
    cost matrix built vectorised (version 1 objective; `needs` has no dense LSA form)."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    from matching.engine import parse_instance
    from matching.engine.candidates import feasible_pairs
    from matching.engine.geometry import pair_km
    from matching.engine.solver import make_scale

    instance = parse_instance(make_data(n, m, variant))
    baseline = peak_rss_mb()
    started = time.perf_counter()
    copies = np.repeat(np.arange(m), np.minimum(instance.volunteer_capacity, n))
    scale = make_scale(instance)
    # float64 costs (what LSA takes): priority rank first, cost second.
    weight = float(scale.big) / scale.per_km
    cost = np.zeros((n, len(copies) + n))
    keys = instance.excluded_keys()
    rows_per_block = max(1, (1 << 22) // max(len(copies), 1))
    for first in range(0, n, rows_per_block):
        block = np.arange(first, min(n, first + rows_per_block))
        requests = np.repeat(block, len(copies))
        volunteers = np.tile(copies, len(block))
        km = pair_km(instance.request_xyz[requests], instance.volunteer_xyz[volunteers])
        ok, km = feasible_pairs(instance, requests, volunteers, km, keys)
        pair_cost = scale.cost_km(requests, volunteers, km) - scale.ranks[requests] * weight
        cost[block, : len(copies)] = np.where(ok, pair_cost, 1.0).reshape(len(block), len(copies))
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


def anchor_graph(instance):
    """The anchors' candidate graph: the 64 nearest feasible volunteers per request and every
    feasible preferred pair, with the contract's cost of each pair."""
    import numpy as np

    from matching.engine.candidates import CandidateSearch
    from matching.engine.solver import _preferred_pairs, make_scale

    n = instance.n_requests
    search = CandidateSearch(instance)
    edges = search.search(np.arange(n), np.zeros(n, dtype=np.int64), np.full(n, ORTOOLS_NEIGHBOURS))
    preferred = _preferred_pairs(instance, search)
    request = np.concatenate([edges.request, preferred[0]])
    volunteer = np.concatenate([edges.volunteer, preferred[1]])
    km = np.concatenate([edges.km, preferred[2]])
    _, first = np.unique(request * max(instance.n_volunteers, 1) + volunteer, return_index=True)
    request, volunteer, km = request[first], volunteer[first], km[first]
    scale = make_scale(instance)
    return request, volunteer, km, scale.cost_km(request, volunteer, km), scale


def child_greedy(n: int, m: int, runs: int, variant: str) -> dict:
    """Priority-first greedy: candidate pairs by (highest priority, lowest cost), each taken
    if its request has a place left, its volunteer room, and the pair is not taken yet."""
    import numpy as np

    from matching.engine import parse_instance

    instance = parse_instance(make_data(n, m, variant))
    started = time.perf_counter()
    request, volunteer, km, cost, _ = anchor_graph(instance)
    order = np.lexsort((cost, -instance.request_priority[request].astype(np.float64)))
    left = instance.volunteer_capacity.copy()
    places = instance.request_needs.copy()
    total_km = total_cost = 0.0
    total_priority = matched = 0
    for r, v, k, c in zip(
        request[order].tolist(),
        volunteer[order].tolist(),
        km[order].tolist(),
        cost[order].tolist(),
        strict=True,
    ):
        if places[r] > 0 and left[v] > 0:  # pairs are unique, so (r, v) is new
            places[r] -= 1
            left[v] -= 1
            total_km += k
            total_cost += c
            total_priority += int(instance.request_priority[r])
            matched += 1
    return {
        "seconds": time.perf_counter() - started,
        "matched": matched,
        "total_priority": total_priority,
        "total_km": total_km,
        "total_cost": total_cost,
    }


def child_ortools(n: int, m: int, runs: int, variant: str) -> dict:
    """OR-tools min-cost flow on the anchors' candidate graph, costs in 1e-7 km units (or 1e-6) and
    priority first (a rank is worth more than any total cost); median of `runs` solves."""
    import numpy as np
    from ortools.graph.python import min_cost_flow

    from matching.engine import parse_instance

    instance = parse_instance(make_data(n, m, variant))
    request, volunteer, _, cost, scale = anchor_graph(instance)
    places = int(instance.request_needs.sum())
    source, sink = n + m, n + m + 1
    tails = np.concatenate([np.full(n, source), request, n + np.arange(m), [source]])
    heads = np.concatenate([np.arange(n), n + volunteer, np.full(m, sink), [sink]])
    capacities = np.concatenate(
        [instance.request_needs, np.ones(len(request), np.int64), instance.volunteer_capacity, [places]]
    )
    # 1e-7 km units where OR-tools accepts them; at 100k x 100k it refuses (BAD_COST_RANGE:
    # ranks x the largest total cost, times its node count, leave int64), so 1e-6 km there.
    for per_km in (10**7, 10**6):
        units = np.rint(cost * per_km).astype(np.int64)
        # A rank must outweigh any difference of two cost totals (at most `places` pairs,
        # each within the costs' range).
        big = places * (int(units.max()) - min(int(units.min()), 0)) + 1
        costs = np.concatenate(
            [np.zeros(n, np.int64), units - scale.ranks[request] * big, np.zeros(m, np.int64), [0]]
        )
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            flow = min_cost_flow.SimpleMinCostFlow()
            arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
            flow.set_node_supply(source, places)
            flow.set_node_supply(sink, -places)
            status = flow.solve()
            times.append(time.perf_counter() - started)
            if status != flow.OPTIMAL:
                break
        if status == flow.OPTIMAL:
            break
    if status != flow.OPTIMAL:
        raise RuntimeError(f"OR-tools status {status}")
    used = flow.flows(arcs[n : n + len(request)]) > 0
    return {
        "seconds": statistics.median(times),
        "matched": int(used.sum()),
        "total_priority": int(instance.request_priority[request[used]].sum()),
        "total_cost": float(cost[used].sum()),
        "edges": len(request),
        "km_unit": 1 / per_km,
    }


def run_child(
    kind: str, n: int, m: int, runs: int, variant: str, timeout: float | None = None
) -> dict | None:
    """One measurement in its own process; {"stopped": seconds} if it ran past `timeout`."""
    command = [sys.executable, __file__, "--child", kind, str(n), str(m), str(runs), variant]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"stopped": timeout}
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
    parser.add_argument(
        "--timeout",
        type=float,
        default=900,
        help="stop a measurement after this many seconds and say so in its row (default 900)",
    )
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        kind, n, m, runs, variant = arguments.child
        children = {
            "engine": child_engine,
            "dense": child_dense,
            "greedy": child_greedy,
            "ortools": child_ortools,
        }
        print(json.dumps(children[kind](int(n), int(m), int(runs), variant)))
        return

    _, source = load_make()
    try:
        import ortools  # noqa: F401

        have_ortools = True
    except ImportError:
        have_ortools = False
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine: {machine()}")
    print(f"instances: make({'{requests}, {volunteers}'}, seed={SEED}, spread_km={SPREAD_KM}) from {source}")
    if not have_ortools:
        print("OR-tools is not installed (pip install '.[bench]'): its column is skipped.")
    print()
    header = (
        "| case | engine solve s | engine CPU s | graph solve | traced peak MB | max RSS MB "
        "| matched | total priority | total cost | certified "
        "| dense build + LSA s (LSA alone) | OR-tools MCF s (same 64-NN graph) | engine / OR-tools "
        "| OR-tools priority / cost "
        "| greedy s | greedy priority | greedy cost % |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, (n, m, runs, variant) in (QUICK if arguments.quick else CASES).items():
        if arguments.only and arguments.only not in name:
            continue
        runs = arguments.runs or runs
        engine = run_child("engine", n, m, runs, variant, arguments.timeout)
        if engine is None:
            print(f"| {name} | failed |")
            continue
        if "stopped" in engine:
            stopped = f"stopped after {engine['stopped']:.0f} s (engine runs and the traced solve)"
            print(f"| {name} | {stopped} |", flush=True)
            continue
        columns = [
            name,
            f"{engine['solve_s']:.2f}",
            f"{engine['solve_cpu_s']:.2f}",
            engine["cold_solve"],
            f"{engine['traced_mb']:.0f}",
            f"{engine['rss_mb']:.0f}",
            str(engine["matched"]),
            str(engine["total_priority"]),
            f"{engine['total_cost']:.3f}",
            "yes" if engine["optimal"] else "NO",
        ]
        columns_estimate = n + 2 * m  # one per request + capacity copies (make_instance: mean 1.5)
        fits = variant != "v2" and n * columns_estimate * 8 * 2 <= DENSE_LIMIT_BYTES
        dense = run_child("dense", n, m, 1, variant) if fits else None
        if dense:
            same = dense["total_priority"] == engine["total_priority"]
            columns.append(
                f"{dense['seconds']:.2f} ({dense['lsa_only_s']:.2f})" + ("" if same else " priority differs!")
            )
        else:
            columns.append("skipped: " + ("needs has no LSA form" if variant == "v2" else "does not fit"))
        tools = run_child("ortools", n, m, runs, variant, arguments.timeout) if have_ortools else None
        if tools and "stopped" not in tools:
            columns += [
                f"{tools['seconds']:.2f}"
                + ("" if tools["km_unit"] == 1e-7 else f" ({tools['km_unit']:g} km units)"),
                f"{engine['solve_s'] / tools['seconds']:.2f}",
                f"{tools['total_priority']} / {tools['total_cost']:.3f}",
            ]
        else:
            columns += [f"stopped after {tools['stopped']:.0f} s" if tools else "-", "-", "-"]
        greedy = run_child("greedy", n, m, 1, variant)
        if greedy:
            extra = (
                100 * (greedy["total_cost"] - engine["total_cost"]) / max(abs(engine["total_cost"]), 1e-12)
            )
            columns += [f"{greedy['seconds']:.2f}", str(greedy["total_priority"]), f"{extra:+.1f}"]
        else:
            columns += ["-", "-", "-"]
        print("| " + " | ".join(columns) + " |", flush=True)
    print()
    print(
        "engine solve s: median wall time after parsing (candidates, graph solve, certificate, "
        "reasons), CPU s the median process time of the same runs; OR-tools: median of the same "
        "number of runs (graph build + solve, on the 64 nearest feasible pairs, so its optimum "
        "may be below the engine's where that graph misses pairs); engine / OR-tools: the engine's "
        "solve s over OR-tools' (below 1: the engine is faster); max RSS includes the "
        "Python instance dict and interpreter."
    )


if __name__ == "__main__":
    main()
