"""Contract version 2: needs/places, preferred volunteers with a continuity bonus, extra_km,
total_cost; version 1 instances keep their meaning."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from matching.engine import InvalidInstance, certify, parse_instance, solve
from tests.matching.data.engine_oracle import check_v2_against_oracle, load_make_instance, request, volunteer

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "matching-contract.md"


def contract_example() -> tuple[dict, dict]:
    """The instance and the result printed in docs/matching-contract.md."""
    blocks = re.findall(r"```json\n(.*?)```", CONTRACT.read_text(), re.S)
    return json.loads(blocks[0]), json.loads(blocks[1])


def solve_data(data: dict):
    instance = parse_instance(data)
    result = solve(instance)
    assert result.certificate["optimal"] is True
    assert certify(instance, result).ok
    return result


def test_the_contract_example_gives_its_stated_result():
    data, stated = contract_example()
    result = solve_data(data).to_json()
    assert [(a["request"], a["volunteer"]) for a in result["assignments"]] == [("r1", "v1"), ("r2", "v1")]
    for ours, theirs in zip(result["assignments"], stated["assignments"], strict=True):
        assert ours["km"] == pytest.approx(theirs["km"], abs=1e-6)
    assert result["unassigned"] == [
        {"request": "r2", "places": 1, "reason": "excluded"},
        {"request": "r3", "places": 1, "reason": "out_of_range"},
    ]
    assert result["unassigned"] == stated["unassigned"]
    assert (result["matched"], result["total_priority"]) == (2, 3)
    assert result["total_km"] == pytest.approx(stated["total_km"], abs=1e-6)
    assert result["total_cost"] == pytest.approx(stated["total_cost"], abs=1e-6)
    check_v2_against_oracle(data, solve(parse_instance(data)))


def test_a_request_needing_two_gets_two_different_volunteers():
    data = {
        "requests": [request("r1") | {"needs": 2}],
        "volunteers": [volunteer("v1", capacity=3), volunteer("v2", 50.01, 4.0, capacity=3)],
    }
    result = solve_data(data)
    assert sorted(a.volunteer for a in result.assignments) == ["v1", "v2"]
    assert result.unassigned == []


def test_one_volunteer_with_room_for_two_fills_only_one_place_of_a_request():
    data = {"requests": [request("r1") | {"needs": 2}], "volunteers": [volunteer("v1", capacity=2)]}
    result = solve_data(data).to_json()
    assert [(a["request"], a["volunteer"]) for a in result["assignments"]] == [("r1", "v1")]
    # The only volunteer is already r1's: none is left to offer the skill.
    assert result["unassigned"] == [{"request": "r1", "places": 1, "reason": "no_skill"}]


def test_needs_larger_than_the_number_of_volunteers_fills_what_it_can():
    data = {
        "requests": [request("r1") | {"needs": 10**30}],
        "volunteers": [volunteer("v1", capacity=2), volunteer("v2", capacity=5)],
    }
    result = solve_data(data).to_json()
    assert len(result["assignments"]) == 2
    assert result["unassigned"] == [{"request": "r1", "places": 10**30 - 2, "reason": "no_skill"}]


def test_places_of_several_requests_share_volunteers_optimally():
    # Two requests needing 2 each, three volunteers of capacity 2: four places, six slots,
    # but each volunteer at most once per request: all four places are filled.
    data = {
        "requests": [request("r1") | {"needs": 2}, request("r2", 50.001) | {"needs": 2}],
        "volunteers": [volunteer(f"v{j}", 50 + j / 1000, capacity=2) for j in range(3)],
    }
    result = solve_data(data)
    assert result.matched == 4
    check_v2_against_oracle(data, result)


def test_a_preferred_volunteer_is_chosen_when_the_bonus_outweighs_the_extra_km():
    data = {
        "requests": [request("r1") | {"preferred": ["far"]}],
        "volunteers": [volunteer("near"), volunteer("far", 50.01, 4.0)],
        "continuity_bonus_km": 2.0,
    }
    result = solve_data(data)
    assert [a.volunteer for a in result.assignments] == ["far"]
    assert result.to_json()["total_cost"] == pytest.approx(result.total_km - 2.0, abs=1e-9)


def test_unknown_and_repeated_preferred_ids_are_ignored_or_counted_once():
    data = {
        "requests": [request("r1") | {"preferred": ["nobody", "far", "far", ""]}],
        "volunteers": [volunteer("near"), volunteer("far", 50.01, 4.0)],
        "continuity_bonus_km": 2.0,
    }
    result = solve_data(data)
    assert [a.volunteer for a in result.assignments] == ["far"]
    assert result.to_json()["total_cost"] == pytest.approx(result.total_km - 2.0, abs=1e-9)


def test_extra_km_moves_work_to_a_volunteer_without_surcharge():
    data = {
        "requests": [request("r1")],
        "volunteers": [volunteer("near") | {"extra_km": 3.0}, volunteer("far", 50.01, 4.0)],
    }
    result = solve_data(data)
    assert [a.volunteer for a in result.assignments] == ["far"]
    assert result.to_json()["total_cost"] == pytest.approx(result.total_km, abs=1e-9)


def test_a_huge_extra_km_never_leaves_a_place_unfilled():
    data = {"requests": [request("r1")], "volunteers": [volunteer("v1") | {"extra_km": 1e9}]}
    result = solve_data(data)
    assert result.matched == 1
    assert result.to_json()["total_cost"] == pytest.approx(1e9, rel=1e-12)


def test_a_bonus_larger_than_the_km_makes_costs_negative_but_priority_stays_first():
    # r2 (priority 1) prefers v1 with a 100 km bonus; r1 (priority 2) can only use v1.
    data = {
        "requests": [request("r1", priority=2), request("r2", 50.001) | {"preferred": ["v1"]}],
        "volunteers": [volunteer("v1")],
        "continuity_bonus_km": 100.0,
    }
    result = solve_data(data)
    assert [(a.request, a.volunteer) for a in result.assignments] == [("r1", "v1")]
    check_v2_against_oracle(data, result)


def test_a_negative_cost_never_buys_a_pair_at_the_price_of_another():
    # Two placements of one priority: {r1-v1, r2-v2} (two pairs) or {r2-v1} with a huge
    # bonus. The contract counts priority first: two pairs of priority 1 beat one.
    data = {
        "requests": [request("r1"), request("r2", 50.001) | {"preferred": ["v1"]}],
        "volunteers": [volunteer("v1"), volunteer("v2", 50.002, max_km=0.2)],
        "continuity_bonus_km": 1000.0,
    }
    result = solve_data(data)
    assert sorted((a.request, a.volunteer) for a in result.assignments) == [("r1", "v1"), ("r2", "v2")]
    check_v2_against_oracle(data, result)


def test_a_version_1_instance_keeps_its_meaning():
    data = {
        "requests": [request("r1", priority=2), request("r2", 50.002)],
        "volunteers": [volunteer("v1", capacity=2), volunteer("v2", 50.01)],
    }
    with_defaults = {
        "requests": [r | {"needs": 1, "preferred": []} for r in data["requests"]],
        "volunteers": [v | {"extra_km": 0} for v in data["volunteers"]],
        "continuity_bonus_km": 0,
    }
    plain, explicit = solve_data(data).to_json(), solve_data(with_defaults).to_json()
    for key in ("assignments", "unassigned", "matched", "total_priority", "total_km", "total_cost"):
        assert plain[key] == explicit[key]
    assert plain["total_cost"] == plain["total_km"]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("requests", 0, "needs"), 0, "needs 0 must be >= 1"),
        (("requests", 0, "needs"), 1.5, "needs must be an integer"),
        (("requests", 0, "needs"), True, "needs must be an integer"),
        (("requests", 0, "preferred"), "v1", "preferred must be a list of strings"),
        (("requests", 0, "preferred"), [1], "preferred[0] must be a string"),
        (("volunteers", 0, "extra_km"), -1, "extra_km -1.0 is outside 0..inf"),
        (("volunteers", 0, "extra_km"), "2", "extra_km must be a number"),
        (("continuity_bonus_km",), -0.5, "instance: continuity_bonus_km -0.5 is outside"),
        (("continuity_bonus_km",), float("inf"), "continuity_bonus_km inf is not a finite number"),
    ],
)
def test_invalid_version_2_fields_name_the_record_and_the_field(path, value, message):
    data = {"requests": [request("r1")], "volunteers": [volunteer("v1")]}
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(InvalidInstance, match=re.escape(message)):
        parse_instance(data)


def _generated_v2(n_requests: int, n_volunteers: int, seed: int) -> dict:
    make_instance = load_make_instance()
    return make_instance.add_version_2(make_instance.make(n_requests, n_volunteers, seed, 2.5), seed)


def assert_same_certified_optimum(instance, first, second) -> None:
    for result in (first, second):
        assert result.certificate["optimal"] is True and certify(instance, result).ok
    assert first.total_priority == second.total_priority
    assert first.total_cost == pytest.approx(second.total_cost, abs=1e-6 * second.matched)


def test_a_warm_lap_resolve_on_the_old_prices_gives_the_optimum_of_a_full_resolve(monkeypatch):
    import matching.engine.solver as solver

    # Generator's v2 mix, 200 x 200, seed 1: the widening round has few movers and is
    # re-solved on the profits under the old prices (exact.reduced_resolve).
    instance = parse_instance(_generated_v2(200, 200, 1))
    monkeypatch.setattr(solver, "AUGMENT_MOVERS", -1)  # tried first, and it would succeed
    warm = solve(instance, method="lap")
    assert warm.certificate["lap_solves"].get("reduced", 0) >= 1
    monkeypatch.setattr(solver, "REDUCED_RESOLVE_MOVERS", -1)
    full = solve(instance, method="lap")
    assert "reduced" not in full.certificate["lap_solves"]
    assert_same_certified_optimum(instance, warm, full)


@pytest.mark.parametrize("version_2", [False, True])
def test_an_augmenting_repair_after_widening_gives_the_optimum_of_a_full_resolve(monkeypatch, version_2):
    import matching.engine.solver as solver

    make_instance = load_make_instance()
    # Crisis shape, 1,000 requests x 250 volunteers, seed 1: a widening round with a few
    # movers where the region re-solve gives up (version 2: places, gadgets, extra_km too).
    data = _generated_v2(1000, 250, 1) if version_2 else make_instance.make(1000, 250, 1, 2.5)
    instance = parse_instance(data)
    monkeypatch.setattr(solver, "REDUCED_RESOLVE_MOVERS", -1)
    repaired = solve(instance, method="lap")
    assert repaired.certificate["lap_solves"].get("augment", 0) >= 1
    monkeypatch.setattr(solver, "AUGMENT_MOVERS", -1)
    full = solve(instance, method="lap")
    assert "augment" not in full.certificate["lap_solves"]
    assert_same_certified_optimum(instance, repaired, full)


def test_an_augmenting_repair_matches_lapjv_on_random_graphs_with_new_edges():
    import numpy as np

    from matching.engine.exact import augment_resolve, lap_matching, least_duals

    rng = np.random.default_rng(11)
    for _ in range(30):
        n_persons, n_volunteers = int(rng.integers(5, 60)), int(rng.integers(2, 30))
        keys = np.unique(rng.integers(0, n_persons * n_volunteers, size=int(rng.integers(10, 400))))
        person, volunteer_of_edge = keys // n_volunteers, keys % n_volunteers
        benefit = rng.integers(1, 50, size=len(keys)).astype(np.int64)  # many ties
        capacity = rng.integers(1, 4, size=n_volunteers)
        # The old optimum on the graph without some edges of a few movers...
        movers = np.unique(rng.choice(person, size=min(4, len(person))))
        dropped = np.isin(person, movers) & (rng.random(len(keys)) < 0.5)
        kept = np.flatnonzero(~dropped)
        old = lap_matching(n_persons, capacity, person[kept], volunteer_of_edge[kept], benefit[kept])
        price = least_duals(n_persons, capacity, person[kept], volunteer_of_edge[kept], benefit[kept], old)
        assert price is not None
        # ... renumbered into the whole graph, repaired, and compared with a full solve.
        start = np.where(old >= 0, kept[np.maximum(old, 0)], -1)
        repaired = augment_resolve(capacity, person, volunteer_of_edge, benefit, start, price, movers)
        assert repaired is not None
        assert least_duals(n_persons, capacity, person, volunteer_of_edge, benefit, repaired) is not None
        optimum = lap_matching(n_persons, capacity, person, volunteer_of_edge, benefit)
        assert benefit[repaired[repaired >= 0]].sum() == benefit[optimum[optimum >= 0]].sum()
        assert np.all(
            np.bincount(volunteer_of_edge[repaired[repaired >= 0]], minlength=n_volunteers) <= capacity
        )


def test_a_profits_resolve_without_new_edges_keeps_the_optimum_and_its_duals_prove_it():
    import numpy as np

    from matching.engine.exact import lap_matching, least_duals, reduced_resolve

    rng = np.random.default_rng(7)
    n_persons, n_volunteers = 60, 25
    keys = np.unique(rng.integers(0, n_persons * n_volunteers, size=300))
    person, volunteer_of_edge = keys // n_volunteers, keys % n_volunteers
    benefit = rng.integers(1, 1000, size=len(keys)).astype(np.int64)
    capacity = rng.integers(1, 3, size=n_volunteers)
    optimum = lap_matching(n_persons, capacity, person, volunteer_of_edge, benefit)
    price = least_duals(n_persons, capacity, person, volunteer_of_edge, benefit, optimum)
    assert price is not None and price.any()
    guess = reduced_resolve(n_persons, capacity, person, volunteer_of_edge, benefit, price)
    assert least_duals(n_persons, capacity, person, volunteer_of_edge, benefit, guess) is not None

    def total(person_edge: np.ndarray) -> int:
        return int(benefit[person_edge[person_edge >= 0]].sum())

    assert total(guess) == total(optimum)


def test_auto_solves_by_lap_up_to_the_higher_limit_only_when_extra_km_differs_without_over_demand(
    monkeypatch,
):
    import matching.engine.solver as solver

    monkeypatch.setattr(solver, "LAP_LIMIT", 0)
    monkeypatch.setattr(solver, "LAP_LIMIT_VARYING_EXTRA", 1e12)
    data = _generated_v2(150, 150, 2)
    varying = solve(parse_instance(data))
    for person in data["volunteers"]:
        person["extra_km"] = 1.5
    same = solve(parse_instance(data))
    over_demand = solve(parse_instance(_generated_v2(150, 30, 2)))  # more places than slots
    assert varying.certificate["cold_solve"] == "lap"
    assert same.certificate["cold_solve"] == "auction"
    assert over_demand.certificate["cold_solve"] == "auction"


def test_the_profits_resolve_is_tried_only_when_extra_km_differs(monkeypatch):
    import matching.engine.solver as solver

    calls = []
    resolve = solver.reduced_resolve
    monkeypatch.setattr(solver, "reduced_resolve", lambda *args: calls.append(1) or resolve(*args))
    monkeypatch.setattr(solver, "AUGMENT_MOVERS", -1)  # tried first, and it would succeed
    make_instance = load_make_instance()
    # Version 1 crisis shape (1,000 x 250, seed 1): its widening round has few movers and the
    # region re-solve fails, where the profits re-solve failed too on such shapes.
    data = make_instance.make(1000, 250, 1, 2.5)
    solve(parse_instance(data), method="lap")
    assert calls == []
    for person in data["volunteers"][::2]:
        person["extra_km"] = 1.0
    solve(parse_instance(data), method="lap")
    assert calls


def test_the_first_search_looks_further_only_for_the_auction_with_differing_extra_km_within_a_budget(
    monkeypatch,
):
    import matching.engine.solver as solver

    searched = []
    build = solver.build_candidates
    monkeypatch.setattr(
        solver,
        "build_candidates",
        lambda instance, search, k: searched.append(k) or build(instance, search, k),
    )
    data = _generated_v2(150, 150, 2)
    by_auction = solve(parse_instance(data), method="auction")
    assert searched == [solver.FIRST_NEIGHBOURS, solver.VARYING_EXTRA_NEIGHBOURS]
    searched.clear()
    by_lap = solve(parse_instance(data), method="lap")
    assert searched == [solver.FIRST_NEIGHBOURS]
    searched.clear()
    # Memory: requests x neighbours stays within the budget, and 24 is the least.
    monkeypatch.setattr(solver, "VARYING_EXTRA_SEARCH_BUDGET", 150 * 30)
    solve(parse_instance(data), method="auction")
    assert searched == [solver.FIRST_NEIGHBOURS, 30]
    searched.clear()
    monkeypatch.setattr(solver, "VARYING_EXTRA_SEARCH_BUDGET", 150 * 20)
    solve(parse_instance(data), method="auction")
    assert searched == [solver.FIRST_NEIGHBOURS]
    searched.clear()
    monkeypatch.setattr(solver, "VARYING_EXTRA_SEARCH_BUDGET", 10**9)
    for person in data["volunteers"]:
        person["extra_km"] = 1.5
    solve(parse_instance(data), method="auction")
    assert searched == [solver.FIRST_NEIGHBOURS]
    # The wider first graph changes the work, not the answer.
    assert by_auction.certificate["optimal"] and by_lap.certificate["optimal"]
    assert by_auction.total_priority == by_lap.total_priority
    assert by_auction.total_cost == pytest.approx(by_lap.total_cost, abs=1e-6 * by_lap.matched)


def _solve_auction_with_sequential_limit(monkeypatch, data: dict, limit: int):
    import matching.engine.auction as auction

    monkeypatch.setattr(auction, "SEQUENTIAL_LIMIT", limit)
    instance = parse_instance(data)
    result = solve(instance, method="auction")
    assert result.certificate["optimal"] is True and certify(instance, result).ok
    return result


@pytest.mark.parametrize(
    ("n_requests", "n_volunteers", "seed"), [(150, 150, 1), (150, 150, 2), (150, 40, 3), (60, 200, 4)]
)
def test_one_bid_at_a_time_gives_the_optimum_of_the_vectorised_rounds(
    monkeypatch, n_requests, n_volunteers, seed
):
    import matching.engine.auction as auction

    data = _generated_v2(n_requests, n_volunteers, seed)
    steps = {"forward": 0, "reverse": 0}
    forward, reverse = auction.Auction._forward_sequential, auction.Auction._reverse_sequential

    def counted_forward(self, bidders, eps):
        steps["forward"] += 1
        return forward(self, bidders, eps)

    def counted_reverse(self, eps):
        steps["reverse"] += 1
        return reverse(self, eps)

    monkeypatch.setattr(auction.Auction, "_forward_sequential", counted_forward)
    monkeypatch.setattr(auction.Auction, "_reverse_sequential", counted_reverse)
    vectorised = _solve_auction_with_sequential_limit(monkeypatch, data, 0)
    assert steps == {"forward": 0, "reverse": 0}
    # Every bid and every reverse step one at a time, and the default mix of both.
    sequential = _solve_auction_with_sequential_limit(monkeypatch, data, 10**9)
    assert steps["forward"] > 0 and steps["reverse"] > 0
    mixed = _solve_auction_with_sequential_limit(monkeypatch, data, 8)
    lap = solve(parse_instance(data), method="lap")
    for result in (sequential, mixed, lap):
        assert result.matched == vectorised.matched
        assert result.total_priority == vectorised.total_priority
        assert result.total_cost == pytest.approx(
            vectorised.total_cost, abs=1e-6 * max(1, vectorised.matched)
        )
    check_v2_against_oracle(data, sequential)
