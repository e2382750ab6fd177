"""Builders and an independent brute-force oracle for the engine tests (no Django).

Kept under data/ with the copy of make_instance.py: plain helpers, not tests.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from geopy.distance import great_circle
from scipy.optimize import linear_sum_assignment

from matching.engine import parse_instance, solve
from matching.engine.result import Result

DATA = Path(__file__).parent


def load_make_instance():
    """The copy of make_instance.py kept in tests/matching/data (the instance generator)."""
    spec = importlib.util.spec_from_file_location("make_instance", DATA / "make_instance.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def request(rid: str, lat: float = 50.0, lon: float = 4.0, skills=(), slots=(), priority: int = 1) -> dict:
    return {
        "id": rid,
        "lat": lat,
        "lon": lon,
        "skills": list(skills),
        "slots": list(slots),
        "priority": priority,
    }


def volunteer(
    vid: str,
    lat: float = 50.0,
    lon: float = 4.0,
    skills=(),
    slots=(0,),
    max_km: float = 5.0,
    capacity: int = 1,
) -> dict:
    return {
        "id": vid,
        "lat": lat,
        "lon": lon,
        "skills": list(skills),
        "slots": list(slots),
        "max_km": max_km,
        "capacity": capacity,
    }


def run(requests: list[dict], volunteers: list[dict], exclude=()) -> Result:
    return solve(
        parse_instance(
            {"requests": requests, "volunteers": volunteers, "exclude": [list(p) for p in exclude]}
        )
    )


def pairs(result: Result) -> dict[str, str]:
    return {item.request: item.volunteer for item in result.assignments}


def reasons(result: Result) -> dict[str, str]:
    return {item.request: item.reason for item in result.unassigned}


# ---------------------------------------------------------------- oracle (plain Python + geopy)
def oracle_km(r: dict, v: dict) -> float:
    return great_circle((r["lat"], r["lon"]), (v["lat"], v["lon"])).km


def oracle_feasible(data: dict) -> dict[tuple[int, int], float]:
    """(request index, volunteer index) -> km for every feasible pair, straight from the spec."""
    excluded = {tuple(pair) for pair in data.get("exclude", [])}
    feasible = {}
    for i, r in enumerate(data["requests"]):
        for j, v in enumerate(data["volunteers"]):
            km = oracle_km(r, v)
            if (
                set(r["skills"]) <= set(v["skills"])
                and km <= v["max_km"]
                and (not r["slots"] or set(r["slots"]) & set(v["slots"]))
                and (r["id"], v["id"]) not in excluded
            ):
                feasible[i, j] = km
    return feasible


def oracle_optimum(data: dict) -> tuple[int, float]:
    """(total priority, total km) of an optimal assignment, by dense linear_sum_assignment.

    Columns: `capacity` copies of each volunteer plus one "unassigned" column per request.
    """
    requests, volunteers = data["requests"], data["volunteers"]
    n = len(requests)
    if n == 0:
        return 0, 0.0
    feasible = oracle_feasible(data)
    copies = [j for j, v in enumerate(volunteers) for _ in range(min(v.get("capacity", 1), n))]
    weight = 1.0 + sum(feasible.values())  # one priority unit outweighs any total km
    cost = np.full((n, len(copies) + n), 1e15)
    cost[:, len(copies) :] = 0.0
    for column, j in enumerate(copies):
        for i in range(n):
            if (i, j) in feasible:
                cost[i, column] = -(requests[i].get("priority", 1) * weight - feasible[i, j])
    rows, columns = linear_sum_assignment(cost)
    total_priority, total_km = 0, 0.0
    for i, column in zip(rows, columns, strict=True):
        if column < len(copies):
            total_priority += requests[i].get("priority", 1)
            total_km += feasible[i, copies[column]]
    return total_priority, total_km


def oracle_reason(data: dict, i: int) -> str:
    """The spec's reason for request i if it is unassigned."""
    r = data["requests"][i]
    excluded = {tuple(pair) for pair in data.get("exclude", [])}
    skilled = [v for v in data["volunteers"] if set(r["skills"]) <= set(v["skills"])]
    if not skilled:
        return "no_skill"
    in_range = [v for v in skilled if oracle_km(r, v) <= v["max_km"]]
    if not in_range:
        return "out_of_range"
    slotted = [v for v in in_range if not r["slots"] or set(r["slots"]) & set(v["slots"])]
    if not slotted:
        return "no_common_slot"
    if all((r["id"], v["id"]) in excluded for v in slotted):
        return "excluded"
    return "capacity"


def check_against_oracle(data: dict, result: Result) -> None:
    """Feasibility, optimal totals (1e-6 km per assigned request) and reasons."""
    requests = data["requests"]
    index = {r["id"]: i for i, r in enumerate(requests)}
    volunteer_index = {v["id"]: j for j, v in enumerate(data["volunteers"])}
    feasible = oracle_feasible(data)
    seen = [a.request for a in result.assignments] + [u.request for u in result.unassigned]
    assert sorted(seen) == sorted(r["id"] for r in requests), "every request exactly once"
    load: dict[str, int] = {}
    for a in result.assignments:
        i, j = index[a.request], volunteer_index[a.volunteer]
        assert (i, j) in feasible, f"{a} is not feasible"
        assert abs(a.km - feasible[i, j]) < 1e-6
        load[a.volunteer] = load.get(a.volunteer, 0) + 1
    for vid, count in load.items():
        assert count <= data["volunteers"][volunteer_index[vid]].get("capacity", 1)
    best_priority, best_km = oracle_optimum(data)
    assert result.total_priority == best_priority
    assert result.matched == len(result.assignments)
    assert abs(result.total_km - best_km) <= 1e-6 * max(1, result.matched)
    for u in result.unassigned:
        assert u.reason == oracle_reason(data, index[u.request]), u


# ---------------------------------------------------------------- version 2 oracle (LP, HiGHS)
def oracle_cost(data: dict, i: int, j: int, km: float) -> float:
    """The contract's cost of a pair: km + extra_km - the continuity bonus if preferred."""
    r, v = data["requests"][i], data["volunteers"][j]
    cost = km + v.get("extra_km", 0.0)
    if v["id"] in r.get("preferred", []):
        cost -= data.get("continuity_bonus_km", 0.0)
    return cost


def oracle_optimum_v2(data: dict) -> tuple[int, float]:
    """(total priority, total cost) of an optimal assignment, by two linear programs.

    x_rv in [0, 1] per feasible pair, sum_v x_rv <= needs_r, sum_r x_rv <= capacity_v: the
    constraint matrix is totally unimodular, so the LP optimum is integral. First the
    largest total priority; then, on that optimal face, the smallest total cost.
    """
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    feasible = oracle_feasible(data)
    if not feasible:
        return 0, 0.0
    keys = sorted(feasible)
    n, m = len(data["requests"]), len(data["volunteers"])
    rows = [i for i, _ in keys] + [n + j for _, j in keys]
    columns = list(range(len(keys))) * 2
    a = coo_matrix((np.ones(len(rows)), (rows, columns)), shape=(n + m, len(keys))).tocsr()
    b = [r.get("needs", 1) for r in data["requests"]] + [v.get("capacity", 1) for v in data["volunteers"]]
    priority = np.array([data["requests"][i].get("priority", 1) for i, _ in keys], dtype=float)
    cost = np.array([oracle_cost(data, i, j, feasible[i, j]) for i, j in keys])
    first = linprog(-priority, A_ub=a, b_ub=b, bounds=(0, 1), method="highs")
    best = round(-first.fun)
    second = linprog(
        cost,
        A_ub=a,
        b_ub=b,
        A_eq=priority[None, :],
        b_eq=[best],
        bounds=(0, 1),
        method="highs",
    )
    assert second.status == 0, second.message
    return best, float(second.fun)


def oracle_reason_v2(data: dict, i: int, own: set[str]) -> str:
    """The spec's reason for request i, looking only at volunteers not assigned to it."""
    others = {**data, "volunteers": [v for v in data["volunteers"] if v["id"] not in own]}
    return oracle_reason(others, i)


def check_v2_against_oracle(data: dict, result: Result) -> None:
    """The contract's "Judging a result", against the LP oracle (versions 1 and 2)."""
    requests, volunteers = data["requests"], data["volunteers"]
    index = {r["id"]: i for i, r in enumerate(requests)}
    volunteer_index = {v["id"]: j for j, v in enumerate(volunteers)}
    feasible = oracle_feasible(data)
    got: dict[str, set[str]] = {r["id"]: set() for r in requests}
    load: dict[str, int] = {}
    total_cost = total_km = 0.0
    for a in result.assignments:
        i, j = index[a.request], volunteer_index[a.volunteer]
        assert (i, j) in feasible, f"{a} is not feasible"
        assert a.volunteer not in got[a.request], f"{a} listed twice"
        got[a.request].add(a.volunteer)
        assert abs(a.km - feasible[i, j]) < 1e-9
        load[a.volunteer] = load.get(a.volunteer, 0) + 1
        total_cost += oracle_cost(data, i, j, a.km)
        total_km += a.km
    for vid, count in load.items():
        assert count <= volunteers[volunteer_index[vid]].get("capacity", 1)
    listed = {u.request: u for u in result.unassigned}
    assert len(listed) == len(result.unassigned), "a request is listed twice in unassigned"
    for r in requests:
        left = r.get("needs", 1) - len(got[r["id"]])
        assert left >= 0, f"{r['id']} got more than it needs"
        if left:
            assert listed[r["id"]].places == left
            assert listed[r["id"]].reason == oracle_reason_v2(data, index[r["id"]], got[r["id"]])
        else:
            assert r["id"] not in listed
    best_priority, best_cost = oracle_optimum_v2(data)
    matched = len(result.assignments)
    assert result.matched == matched
    assert result.total_priority == sum(
        requests[index[a.request]].get("priority", 1) for a in result.assignments
    )
    assert result.total_priority == best_priority
    assert abs(result.total_km - total_km) <= 1e-9 * max(1, matched)
    total = result.to_json()["total_cost"]
    assert abs(total - total_cost) <= 1e-9 * max(1, matched)
    assert total <= best_cost + 1e-6 * max(1, matched), (total, best_cost)
    assert total >= best_cost - 1e-6 * max(1, matched) - 1e-7, (total, best_cost)
