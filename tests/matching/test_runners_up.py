"""The engine's runners-up: the next best volunteers for a request the solver assigned."""

from __future__ import annotations

from matching.engine import parse_instance, solve
from matching.engine.runners_up import runners_up

LEUVEN = (50.8798, 4.7005)


def volunteer(identifier: str, km_north: float, **fields) -> dict:
    # About 0.009 degrees of latitude per km.
    return {
        "id": identifier,
        "lat": LEUVEN[0] + km_north * 0.009,
        "lon": LEUVEN[1],
        "skills": fields.pop("skills", ["shopping"]),
        "slots": fields.pop("slots", [0, 1, 2]),
        "max_km": fields.pop("max_km", 10),
        "capacity": fields.pop("capacity", 1),
        **fields,
    }


def request(identifier: str, **fields) -> dict:
    return {
        "id": identifier,
        "lat": LEUVEN[0],
        "lon": LEUVEN[1],
        "skills": ["shopping"],
        "slots": [0],
        "priority": 3,
        **fields,
    }


def best_beside(data: dict, requests: list[str], count: int) -> dict[str, list[str]]:
    instance = parse_instance(data)
    result = solve(instance)
    found = runners_up(instance, result, requests, count)
    return {key: [item.volunteer for item in items] for key, items in found.items()}


def test_the_next_nearest_able_volunteers_come_after_the_solvers_choice():
    data = {
        "requests": [request("r1")],
        "volunteers": [
            volunteer("far", 3),
            volunteer("near", 0.1),
            volunteer("middle", 1),
            volunteer("next", 2),
        ],
    }
    assert best_beside(data, ["r1"], 2) == {"r1": ["middle", "next"]}


def test_a_volunteer_without_the_skill_the_time_or_the_reach_is_never_a_runner_up():
    data = {
        "requests": [request("r1")],
        "volunteers": [
            volunteer("chosen", 0.1),
            volunteer("no-skill", 0.2, skills=["transport"]),
            volunteer("no-time", 0.3, slots=[5]),
            volunteer("no-reach", 0.4, max_km=0.2),
            volunteer("able", 4),
        ],
    }
    assert best_beside(data, ["r1"], 3) == {"r1": ["able"]}


def test_an_excluded_pair_is_never_a_runner_up():
    data = {
        "requests": [request("r1")],
        "volunteers": [volunteer("chosen", 0.1), volunteer("declined", 0.2), volunteer("able", 1)],
        "exclude": [["r1", "declined"]],
    }
    assert best_beside(data, ["r1"], 2) == {"r1": ["able"]}


def test_capacity_the_solver_used_is_not_offered_again():
    data = {
        "requests": [request("r1"), request("r2", lat=LEUVEN[0] + 0.009)],
        "volunteers": [volunteer("a", 0), volunteer("b", 1), volunteer("c", 0.5)],
    }
    # a and b are taken by the solver; c is the only one left, for the first request named.
    assert best_beside(data, ["r2", "r1"], 2) == {"r2": ["c"]}


def test_fair_turns_rank_runners_up_as_the_solver_weighs_them():
    data = {
        "requests": [request("r1")],
        "volunteers": [
            volunteer("chosen", 0),
            volunteer("busy-lately", 0.5, extra_km=2.0),
            volunteer("rested", 1.0),
        ],
    }
    assert best_beside(data, ["r1"], 1) == {"r1": ["rested"]}


def test_an_unassigned_request_gets_no_runners_up():
    data = {"requests": [request("r1", skills=["transport"])], "volunteers": [volunteer("a", 0)]}
    assert best_beside(data, ["r1"], 2) == {}
