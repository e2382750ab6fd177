"""Unit tests of the matching engine: feasibility rules, reasons, edge cases, validation."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from geopy.distance import great_circle

from matching.engine import InvalidInstance, certify, parse_instance, solve
from matching.engine.geometry import pair_km, unit_xyz
from tests.matching.data.engine_oracle import (
    check_against_oracle,
    check_v2_against_oracle,
    load_make_instance,
    pairs,
    reasons,
    request,
    run,
    volunteer,
)

KM_PER_DEGREE_LAT = 111.195  # on the 6371.009 km sphere


# ---------------------------------------------------------------- feasibility rules
def test_feasible_pair_is_assigned_with_its_great_circle_km():
    result = run([request("r1", 50.0, 4.0)], [volunteer("v1", 50.01, 4.01)])
    assert pairs(result) == {"r1": "v1"}
    expected = great_circle((50.0, 4.0), (50.01, 4.01)).km
    assert result.assignments[0].km == pytest.approx(expected, abs=1e-9)
    assert result.total_km == pytest.approx(expected, abs=1e-9)
    assert (result.matched, result.total_priority) == (1, 1)


def test_request_needing_a_skill_nobody_offers_is_no_skill():
    result = run([request("r1", skills=["driving"])], [volunteer("v1", skills=["shopping"])])
    assert reasons(result) == {"r1": "no_skill"}


def test_volunteer_must_offer_every_needed_skill():
    result = run(
        [request("r1", skills=["driving", "shopping"])],
        [
            volunteer("v1", skills=["driving"]),
            volunteer("v2", skills=["shopping", "driving", "diy"], lat=50.02),
        ],
    )
    assert pairs(result) == {"r1": "v2"}


def test_request_with_empty_skills_fits_any_volunteer():
    result = run([request("r1", skills=[])], [volunteer("v1", skills=[])])
    assert pairs(result) == {"r1": "v1"}


def test_volunteer_beyond_its_max_km_gives_out_of_range():
    result = run([request("r1", 50.0, 4.0)], [volunteer("v1", 50.1, 4.0, max_km=5.0)])  # ~11 km
    assert reasons(result) == {"r1": "out_of_range"}


def test_max_km_is_inclusive_at_exactly_the_distance():
    km = great_circle((50.0, 4.0), (50.03, 4.02)).km  # the contract's distance, to the last bit
    result = run([request("r1", 50.0, 4.0)], [volunteer("v1", 50.03, 4.02, max_km=km)])
    assert pairs(result) == {"r1": "v1"}
    assert result.assignments[0].km <= km


def _boundary_pairs(count: int, seed: int) -> list[tuple[tuple[float, float], tuple[float, float], float]]:
    """Nearby (request, volunteer, geopy km) triples; about half of them are a few ulps
    apart from the engine's own km, on either side."""
    rng = np.random.default_rng(seed)
    triples = []
    for _ in range(count):
        lat, lon = float(rng.uniform(-80, 80)), float(rng.uniform(-179.9, 179.9))
        here = (lat, lon)
        there = (lat + float(rng.normal(0, 0.03)), lon + float(rng.normal(0, 0.03)))
        triples.append((here, there, great_circle(here, there).km))
    return triples


def test_max_km_equal_to_the_geopy_distance_is_in_range():
    # The contract's distance is geopy's great_circle float: max_km set to exactly that
    # distance must make the pair feasible, even where the engine's chord formula rounds
    # a few ulps higher (it did for about half of these pairs).
    triples = _boundary_pairs(60, seed=11)
    requests = [request(f"r{i}", *here) for i, (here, _, _) in enumerate(triples)]
    volunteers = [volunteer(f"v{i}", *there, max_km=km) for i, (_, there, km) in enumerate(triples)]
    exclude = [(f"r{i}", f"v{j}") for i in range(len(triples)) for j in range(len(triples)) if i != j]
    result = run(requests, volunteers, exclude=exclude)
    assert pairs(result) == {f"r{i}": f"v{i}" for i in range(len(triples))}
    for item, (_, _, km) in zip(
        sorted(result.assignments, key=lambda a: int(a.request[1:])), triples, strict=True
    ):
        assert item.km <= km


def test_max_km_one_ulp_below_the_geopy_distance_is_out_of_range():
    triples = _boundary_pairs(60, seed=12)
    requests = [request(f"r{i}", *here) for i, (here, _, _) in enumerate(triples)]
    volunteers = [
        volunteer(f"v{i}", *there, max_km=math.nextafter(km, 0.0)) for i, (_, there, km) in enumerate(triples)
    ]
    exclude = [(f"r{i}", f"v{j}") for i in range(len(triples)) for j in range(len(triples)) if i != j]
    result = run(requests, volunteers, exclude=exclude)
    assert pairs(result) == {}
    assert set(reasons(result).values()) == {"out_of_range"}


def test_out_of_range_is_judged_on_volunteers_with_the_skills_only():
    # The nearby volunteer lacks the skill, the skilled one is too far: out_of_range.
    result = run(
        [request("r1", skills=["diy"])],
        [volunteer("near", skills=[]), volunteer("far", 51.0, 4.0, skills=["diy"], max_km=5)],
    )
    assert reasons(result) == {"r1": "out_of_range"}


def test_no_shared_slot_gives_no_common_slot():
    result = run([request("r1", slots=[3, 4])], [volunteer("v1", slots=[0, 5])])
    assert reasons(result) == {"r1": "no_common_slot"}


def test_one_shared_slot_is_enough():
    result = run([request("r1", slots=[3, 4])], [volunteer("v1", slots=[4, 9])])
    assert pairs(result) == {"r1": "v1"}


def test_request_with_empty_slots_fits_any_slot():
    result = run([request("r1", slots=[])], [volunteer("v1", slots=[17])])
    assert pairs(result) == {"r1": "v1"}


def test_request_with_empty_slots_fits_volunteer_with_no_slots():
    result = run([request("r1", slots=[])], [volunteer("v1", slots=[])])
    assert pairs(result) == {"r1": "v1"}


def test_excluded_pair_is_never_proposed():
    result = run([request("r1")], [volunteer("v1"), volunteer("v2", lat=50.02)], exclude=[("r1", "v1")])
    assert pairs(result) == {"r1": "v2"}


def test_every_candidate_excluded_gives_excluded():
    result = run(
        [request("r1", slots=[1])],
        [volunteer("v1", slots=[1]), volunteer("v2", slots=[1]), volunteer("v3", slots=[2])],
        exclude=[("r1", "v1"), ("r1", "v2")],
    )
    assert reasons(result) == {"r1": "excluded"}


def test_volunteer_taken_by_the_optimum_gives_capacity():
    result = run([request("r1", priority=2), request("r2", lat=50.001)], [volunteer("v1")])
    assert pairs(result) == {"r1": "v1"}
    assert reasons(result) == {"r2": "capacity"}


def test_reasons_follow_the_spec_order_first_that_holds():
    # Out of range AND no common slot: out_of_range comes first.
    result = run([request("r1", slots=[1])], [volunteer("v1", 51.0, 4.0, slots=[2], max_km=5)])
    assert reasons(result) == {"r1": "out_of_range"}


# ---------------------------------------------------------------- capacity
def test_capacity_zero_volunteer_takes_nobody():
    result = run([request("r1")], [volunteer("v1", capacity=0)])
    assert result.matched == 0
    # The pair is feasible by the spec's four rules; the volunteer just has no room.
    assert reasons(result) == {"r1": "capacity"}


def test_capacity_two_volunteer_takes_two_requests():
    result = run(
        [request("r1"), request("r2", lat=50.001), request("r3", lat=50.002)], [volunteer("v1", capacity=2)]
    )
    assert result.matched == 2
    assert set(pairs(result).values()) == {"v1"}


def test_large_capacity_is_not_a_problem():
    result = run([request(f"r{i}", lat=50 + i * 1e-4) for i in range(5)], [volunteer("v1", capacity=10**9)])
    assert result.matched == 5


# ---------------------------------------------------------------- objective
def test_priority_beats_distance():
    result = run(
        [request("near", 50.0, 4.0, priority=1), request("far", 50.04, 4.0, priority=2)],
        [volunteer("v1", 50.0, 4.0, max_km=10)],
    )
    assert pairs(result) == {"far": "v1"}
    assert result.total_priority == 2


def test_total_priority_is_maximised_over_all_requests_together():
    # "a" is nearest to v1, but v1 is the only one for "high"; "a" must move to v2, and "b"
    # (priority 1, v2 only) is the one left out: 3 + 2, not 3 + 1 or 2 + 1.
    requests = [
        request("high", 50.01, 4.0, skills=["x"], priority=3),
        request("a", 50.0, 4.0, skills=["a"], priority=2),
        request("b", 50.02, 4.0, skills=["b"], priority=1),
    ]
    volunteers = [
        volunteer("v1", 50.0, 4.0, skills=["x", "a"]),
        volunteer("v2", 50.02, 4.0, skills=["a", "b"]),
    ]
    result = run(requests, volunteers)
    assert pairs(result) == {"high": "v1", "a": "v2"}
    assert reasons(result) == {"b": "capacity"}
    assert result.total_priority == 5


def test_total_km_is_minimal_among_equal_priorities():
    # Greedy nearest would give v1 to r2 (0 km) and leave r1 the far v2; the optimum swaps.
    requests = [request("r1", 50.0, 4.0), request("r2", 50.01, 4.0)]
    volunteers = [volunteer("v1", 50.01, 4.0, max_km=3), volunteer("v2", 50.03, 4.0, max_km=3)]
    result = run(requests, volunteers)
    assert pairs(result) == {"r1": "v1", "r2": "v2"}
    check_against_oracle({"requests": requests, "volunteers": volunteers}, result)


def test_ties_at_distance_zero_are_all_served():
    requests = [request(f"r{i}") for i in range(4)]
    volunteers = [volunteer(f"v{i}") for i in range(3)] + [volunteer("v3", capacity=2)]
    result = run(requests, volunteers)
    assert result.matched == 4
    assert result.total_km == 0.0
    assert all(a.km == 0.0 for a in result.assignments)


def test_ties_at_distance_zero_do_not_hide_a_feasible_volunteer():
    # Found by hypothesis: with several volunteers at the very same point, a k-d tree may
    # order them differently from one query to the next; the search must not skip one.
    requests = [request("r0", slots=[0])]
    volunteers = [volunteer(f"v{i}", slots=[], capacity=0) for i in range(3)]
    volunteers += [volunteer("v3", slots=[], capacity=1), volunteer("v4", slots=[0], capacity=1)]
    data = {"requests": requests, "volunteers": volunteers, "exclude": []}
    instance = parse_instance(data)
    result = solve(instance, first_neighbours=1)
    assert pairs(result) == {"r0": "v4"}
    assert certify(instance, result).ok


# ---------------------------------------------------------------- geometry edge cases
def test_pair_across_the_antimeridian_is_near():
    result = run([request("r1", 0.0, 179.99)], [volunteer("v1", 0.0, -179.99, max_km=3)])
    assert pairs(result) == {"r1": "v1"}
    assert result.assignments[0].km == pytest.approx(great_circle((0, 179.99), (0, -179.99)).km, abs=1e-9)


def test_longitudes_180_and_minus_180_are_the_same_place():
    result = run([request("r1", 10.0, 180.0)], [volunteer("v1", 10.0, -180.0, max_km=0.001)])
    assert result.assignments[0].km == pytest.approx(0.0, abs=1e-9)


def test_pair_at_the_pole_ignores_longitude():
    result = run(
        [request("r1", 90.0, 0.0), request("r2", -90.0, 45.0)],
        [volunteer("v1", 89.995, 120.0, max_km=1), volunteer("v2", -90.0, -135.0, max_km=0.5)],
    )
    assert pairs(result) == {"r1": "v1", "r2": "v2"}
    assert result.assignments[0].km == pytest.approx(0.005 * KM_PER_DEGREE_LAT, rel=1e-6)
    assert result.assignments[1].km == pytest.approx(0.0, abs=1e-9)


def test_antipodal_volunteer_with_a_huge_radius():
    result = run([request("r1", 0.0, 0.0)], [volunteer("v1", 0.0, 180.0, max_km=20100)])
    assert result.assignments[0].km == pytest.approx(great_circle((0, 0), (0, 180)).km, rel=1e-12)


# ---------------------------------------------------------------- empty sides
def test_no_requests_gives_an_empty_result():
    result = run([], [volunteer("v1")])
    assert result.to_json() | {"certificate": None} == {
        "assignments": [],
        "unassigned": [],
        "matched": 0,
        "total_priority": 0,
        "total_km": 0.0,
        "total_cost": 0.0,
        "certificate": None,
    }


def test_no_volunteers_leaves_every_request_no_skill():
    result = run([request("r1"), request("r2", skills=["x"])], [])
    assert reasons(result) == {"r1": "no_skill", "r2": "no_skill"}


def test_both_sides_empty():
    result = run([], [])
    assert result.matched == 0 and result.unassigned == []


# ---------------------------------------------------------------- result and certificate
def test_result_json_has_the_spec_keys_and_a_certificate():
    result = run([request("r1"), request("r2", skills=["x"])], [volunteer("v1")])
    data = result.to_json()
    assert set(data) == {
        "assignments",
        "unassigned",
        "matched",
        "total_priority",
        "total_km",
        "total_cost",
        "certificate",
    }
    assert data["assignments"] == [{"request": "r1", "volunteer": "v1", "km": 0.0}]
    assert data["unassigned"] == [{"request": "r2", "places": 1, "reason": "no_skill"}]
    assert data["certificate"]["method"] == "lp-duals"
    assert data["certificate"]["optimal"] is True
    json.dumps(data)  # plain JSON types only


def test_progress_callback_reports_stages_up_to_done():
    calls = []
    solve(
        parse_instance({"requests": [request("r1")], "volunteers": [volunteer("v1")]}),
        progress=lambda s, f: calls.append((s, f)),
    )
    assert calls[0][0] == "candidates" and calls[-1] == ("done", 1.0)
    assert all(0.0 <= fraction <= 1.0 for _, fraction in calls)


def _crowded_instance() -> dict:
    make = load_make_instance().make
    return make(300, 120, 7, 1.0)


def test_certify_accepts_the_optimum():
    data = _crowded_instance()
    instance = parse_instance(data)
    result = solve(instance)
    certificate = certify(instance, result)
    assert certificate.ok, certificate.reason
    assert result.certificate["optimal"] is True


def test_certify_rejects_an_answer_computed_on_too_few_candidates():
    data = _crowded_instance()
    instance = parse_instance(data)
    pruned = solve(instance, first_neighbours=1, widen=False)
    optimum = solve(instance)
    assert (pruned.total_priority, -pruned.total_km) < (optimum.total_priority, -optimum.total_km - 1e-6)
    certificate = certify(instance, pruned)
    assert not certificate.ok
    assert "duality gap" in certificate.reason
    assert pruned.certificate["optimal"] is False


def test_solver_widens_candidates_until_the_certificate_holds():
    # 30 requests on one spot, 40 volunteers in a line: the nearest few are contested.
    requests = [request(f"r{i}", 50.0, 4.0) for i in range(30)]
    volunteers = [volunteer(f"v{j}", 50.0 + 0.001 * j, 4.0, max_km=10) for j in range(40)]
    result = run(requests, volunteers)
    assert result.matched == 30
    assert result.certificate["widened_requests"] > 0
    assert result.certificate["optimal"] is True
    check_against_oracle({"requests": requests, "volunteers": volunteers}, result)


def test_crisis_requests_are_certified_by_prices_without_exhausting_the_search():
    # Many more requests than volunteers: most requests stay unassigned (pi_r = 0). The
    # price-aware check certifies them from the volunteers' prices instead of enumerating
    # every volunteer in range, so the candidate graph stays far below all feasible pairs.
    from matching.engine.certificate import all_feasible_pairs

    data = load_make_instance().make(2000, 400, 11, 2.5)
    instance = parse_instance(data)
    result = solve(instance)
    assert result.certificate["optimal"] is True
    assert result.certificate["price_checked_requests"] > 0
    assert result.certificate["candidate_edges"] < len(all_feasible_pairs(instance)[0]) / 2
    assert certify(instance, result).ok


def test_generated_instance_matches_the_dense_oracle():
    data = load_make_instance().make(40, 30, 3, 1.5)
    check_against_oracle(data, solve(parse_instance(data)))


# ---------------------------------------------------------------- validation
VALID = {
    "requests": [request("r1"), request("r2")],
    "volunteers": [volunteer("v1"), volunteer("v2")],
    "exclude": [["r1", "v2"]],
}


def _mutated(path: tuple, value) -> dict:
    data = copy.deepcopy(VALID)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("volunteers", 1, "lat"), 91.0, 'volunteers[1] ("v2"): lat 91.0 is outside -90..90'),
        (("requests", 0, "lon"), -180.5, 'requests[0] ("r1"): lon -180.5 is outside -180..180'),
        (("requests", 0, "lat"), "50", 'requests[0] ("r1"): lat must be a number, got "50"'),
        (("requests", 0, "lat"), True, 'requests[0] ("r1"): lat must be a number, got true'),
        (("requests", 1, "lat"), KeyError, 'requests[1] ("r2"): missing field "lat"'),
        (("requests", 1, "id"), "r1", 'requests[1] ("r1"): duplicate id "r1" (also requests[0])'),
        (("volunteers", 1, "id"), "v1", 'volunteers[1] ("v1"): duplicate id "v1" (also volunteers[0])'),
        (("requests", 0, "id"), "", "requests[0]: id must not be empty"),
        (("requests", 0, "id"), 7, "requests[0]: id must be a string, got 7"),
        (("requests", 0, "priority"), 0, 'requests[0] ("r1"): priority 0 must be >= 1'),
        (("requests", 0, "priority"), 1.5, 'requests[0] ("r1"): priority must be an integer, got 1.5'),
        (
            ("requests", 0, "skills"),
            "shopping",
            'requests[0] ("r1"): skills must be a list of strings, got "shopping"',
        ),
        (("requests", 0, "skills"), [3], 'requests[0] ("r1"): skills[0] must be a string, got 3'),
        (("requests", 0, "slots"), [1, "2"], 'requests[0] ("r1"): slots[1] must be an integer, got "2"'),
        (("volunteers", 0, "max_km"), 0, 'volunteers[0] ("v1"): max_km 0.0 must be > 0'),
        (("volunteers", 0, "max_km"), -1, 'volunteers[0] ("v1"): max_km -1.0 must be > 0'),
        (
            ("volunteers", 0, "max_km"),
            float("nan"),
            'volunteers[0] ("v1"): max_km nan is not a finite number',
        ),
        (("volunteers", 0, "capacity"), -1, 'volunteers[0] ("v1"): capacity -1 must be >= 0'),
        (("volunteers", 0, "capacity"), "2", 'volunteers[0] ("v1"): capacity must be an integer, got "2"'),
        (("exclude", 0), ["r1", "v9"], 'exclude[0]: unknown volunteer id "v9"'),
        (("exclude", 0), ["r9", "v1"], 'exclude[0]: unknown request id "r9"'),
        (("exclude", 0), ["r1"], "exclude[0]: expected a pair [request id, volunteer id], got list"),
        (("volunteers", 0), "v1", 'volunteers[0]: expected an object, got "v1"'),
        (("requests",), {"id": "r1"}, "instance: requests must be a list, got object"),
        (("volunteers",), KeyError, 'instance: missing field "volunteers"'),
    ],
)
def test_invalid_instance_names_the_record_and_the_field(path, value, message):
    with pytest.raises(InvalidInstance) as raised:
        parse_instance(_mutated(path, value))
    assert str(raised.value) == message
    assert "\n" not in str(raised.value)


def test_defaults_priority_one_and_capacity_one():
    data = copy.deepcopy(VALID)
    del data["requests"][0]["priority"]
    del data["volunteers"][0]["capacity"]
    instance = parse_instance(data)
    assert instance.request_priority[0] == 1
    assert instance.volunteer_capacity[0] == 1


def test_exclude_is_optional():
    data = copy.deepcopy(VALID)
    del data["exclude"]
    assert len(parse_instance(data).exclude_request) == 0


def test_integral_float_is_accepted_as_an_integer():
    data = copy.deepcopy(VALID)
    data["requests"][0]["priority"] = 2.0
    data["requests"][0]["slots"] = [3.0]
    assert parse_instance(data).request_priority[0] == 2


def test_huge_priorities_keep_their_exact_sum():
    result = run(
        [request("r1", priority=10**30), request("r2", lat=50.001, priority=10**30 + 1)], [volunteer("v1")]
    )
    assert pairs(result) == {"r2": "v1"}
    assert result.total_priority == 10**30 + 1


def test_distances_agree_with_geopy_great_circle():
    rng = np.random.default_rng(5)
    a = np.column_stack([rng.uniform(-90, 90, 200), rng.uniform(-180, 180, 200)])
    b = np.column_stack([rng.uniform(-90, 90, 200), rng.uniform(-180, 180, 200)])
    ours = pair_km(unit_xyz(a[:, 0], a[:, 1]), unit_xyz(b[:, 0], b[:, 1]))
    theirs = [great_circle(tuple(p), tuple(q)).km for p, q in zip(a, b, strict=True)]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


def test_nearly_antipodal_distances_agree_with_geopy_great_circle():
    # asin(chord / 2) loses precision near the antipode (it was 2.7e-4 km off here).
    rng = np.random.default_rng(6)
    lat = rng.uniform(-89, 89, 300)
    lon = rng.uniform(-180, 180, 300)
    near = 10.0 ** rng.uniform(-9, -2, 300)
    lat_b = np.clip(-lat + rng.uniform(-1, 1, 300) * near, -90, 90)
    lon_b = np.clip(np.where(lon < 0, lon + 180, lon - 180) + rng.uniform(-1, 1, 300) * near, -180, 180)
    ours = pair_km(unit_xyz(lat, lon), unit_xyz(lat_b, lon_b))
    theirs = [great_circle((a, b), (c, d)).km for a, b, c, d in zip(lat, lon, lat_b, lon_b, strict=True)]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    result = run(
        [request("r1", -78.43427408068881, 123.38752067021562)],
        [volunteer("v1", 78.4342740816677, -56.612479328757466, max_km=20016.0)],
    )
    expected = great_circle(
        (-78.43427408068881, 123.38752067021562), (78.4342740816677, -56.612479328757466)
    ).km
    assert result.assignments[0].km == pytest.approx(expected, abs=1e-9)


def test_capacity_beyond_int64_is_accepted_and_capped_by_the_requests():
    data = copy.deepcopy(VALID)
    data["volunteers"][0]["capacity"] = 10**30
    instance = parse_instance(data)
    assert instance.volunteer_capacity[0] == len(data["requests"])
    assert solve(instance).matched == 2


def test_integer_too_large_for_a_float_is_invalid_not_a_crash():
    data = copy.deepcopy(VALID)
    data["volunteers"][1]["lat"] = 10**400
    with pytest.raises(InvalidInstance) as raised:
        parse_instance(data)
    assert (
        str(raised.value)
        == 'volunteers[1] ("v2"): lat is not a finite number (an integer too large for a float)'
    )


# ---------------------------------------------------------------- exact cold solve (LAPJVsp)
def _toy_graph():
    # Two requests, one volunteer of capacity 1: r1 benefits 10, r0 benefits 7 from it;
    # r0 also has a second volunteer worth 5 to it.
    capacity = np.array([1, 1])
    person = np.array([0, 0, 1])
    volunteer_of_edge = np.array([0, 1, 0])
    benefit = np.array([7, 5, 10], dtype=np.int64)
    return capacity, person, volunteer_of_edge, benefit


def test_one_volunteer_travelling_anywhere_keeps_the_km_units_of_a_city_fine():
    # Benefits are integers: rank * BIG - round(km * S), BIG above any total of km. BIG
    # used the largest max_km, so one 20000-km volunteer made S 1500x coarser (units of
    # 1.8e-4 km here, beyond the contract's 1e-6 km per request); the farthest request
    # from any volunteer bounds the km as well.
    from matching.engine.solver import make_scale

    data = load_make_instance().make(2000, 2000, 1, 2.5)
    rng = np.random.default_rng(1)
    for r in data["requests"]:
        r["priority"] = int(rng.integers(1, 2001))
    data["volunteers"][0]["max_km"] = 20000.0
    instance = parse_instance(data)
    assert 1 / make_scale(instance).per_km < 1e-6
    result = solve(instance)
    assert result.certificate["optimal"] is True
    assert result.certificate["km_resolution"] < 1e-6


def test_lap_matching_without_a_full_matching_is_prompt():
    # 5000 requests, 4998 volunteers with candidates, capacity 1: no full matching. SciPy's
    # Hopcroft-Karp (the old "can everyone be served?" check) took 415 s on this graph.
    import time

    from matching.engine.candidates import CandidateSearch
    from matching.engine.exact import lap_matching
    from matching.engine.solver import make_scale

    n = 5000
    data = load_make_instance().make(n, n, 1, 2.5)
    for v in data["volunteers"]:
        v.update(capacity=1, max_km=30.0, skills=["shopping"])
    for r in data["requests"]:
        r.update(skills=[], slots=[])
    instance = parse_instance(data)
    found = CandidateSearch(instance).search(np.arange(n), np.zeros(n, dtype=np.int64), np.full(n, 24))
    order = np.lexsort((found.volunteer, found.request))
    request, volunteer = found.request[order], found.volunteer[order]
    assert len(np.unique(volunteer)) == n - 2
    benefit = make_scale(instance).benefit(request, volunteer, found.km[order]) // (n + 1)
    started = time.monotonic()
    person_edge = lap_matching(n, instance.volunteer_capacity, request, volunteer, benefit)
    assert time.monotonic() - started < 30
    assert (person_edge >= 0).sum() == n - 2


def test_lap_matching_and_least_duals_on_a_toy_graph():
    from matching.engine.exact import lap_matching, least_duals

    capacity, person, volunteer_of_edge, benefit = _toy_graph()
    person_edge = lap_matching(2, capacity, person, volunteer_of_edge, benefit)
    assert person_edge.tolist() == [1, 2]  # r0 -> v1 (5), r1 -> v0 (10): 15 > 7
    price = least_duals(2, capacity, person, volunteer_of_edge, benefit, person_edge)
    # Both volunteers are full. Smallest prices: v0 must keep r0 from preferring it
    # (7 - P0 <= 5 - P1), v1 may stay at 0.
    assert price.tolist() == [2, 0]


def test_least_duals_reject_a_suboptimal_matching():
    from matching.engine.exact import least_duals

    capacity, person, volunteer_of_edge, benefit = _toy_graph()
    worse = np.array([0, -1])  # r0 -> v0 (7), r1 unassigned: 7 < 15
    assert least_duals(2, capacity, person, volunteer_of_edge, benefit, worse) is None


def test_lap_matching_leaves_out_requests_that_cannot_all_be_served():
    from matching.engine.exact import lap_matching

    # One volunteer, two requests: Hopcroft-Karp finds no matching covering both, so the
    # "unassigned" columns are used and the better request wins.
    person_edge = lap_matching(
        2, np.array([1]), np.array([0, 1]), np.array([0, 0]), np.array([3, 4], dtype=np.int64)
    )
    assert person_edge.tolist() == [-1, 1]


def test_lap_and_auction_cold_solves_give_the_same_optimum_and_both_certify():
    data = _crowded_instance()
    instance = parse_instance(data)
    by_lap = solve(instance, method="lap", first_neighbours=1)  # widens: LAPJVsp re-solves
    by_auction = solve(instance, method="auction")
    assert by_lap.certificate["cold_solve"] == "lap"
    assert by_lap.certificate["rounds"] > 1
    assert by_auction.certificate["cold_solve"] == "auction"
    assert (by_lap.matched, by_lap.total_priority) == (by_auction.matched, by_auction.total_priority)
    assert by_lap.total_km == pytest.approx(by_auction.total_km, abs=1e-6 * by_lap.matched)
    assert by_lap.certificate["optimal"] and certify(instance, by_lap).ok


def test_warm_auction_continues_from_an_installed_lap_solution(monkeypatch):
    # If LAPJVsp cannot re-solve after widening, the auction starts from its exact state.
    from matching.engine import solver
    from matching.engine.exact import lap_matching

    calls = []

    def first_call_only(*args):
        calls.append(1)
        return lap_matching(*args) if len(calls) == 1 else None

    monkeypatch.setattr(solver, "lap_matching", first_call_only)
    monkeypatch.setattr(solver, "AUGMENT_MOVERS", -1)  # the repair by augmenting paths would succeed
    data = _crowded_instance()
    instance = parse_instance(data)
    result = solve(instance, method="lap", first_neighbours=1)
    assert len(calls) > 1 and result.certificate["rounds"] > 1
    assert result.certificate["auction_phases"] > 0
    assert result.certificate["optimal"] and certify(instance, result).ok
    check_against_oracle(data, result)


def test_auto_uses_the_auction_above_the_lap_limit(monkeypatch):
    from matching.engine import solver

    instance = parse_instance(_crowded_instance())
    assert solve(instance).certificate["cold_solve"] == "lap"
    monkeypatch.setattr(solver, "LAP_LIMIT", 0)
    assert solve(instance).certificate["cold_solve"] == "auction"


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown method"):
        solve(parse_instance({"requests": [], "volunteers": []}), method="simplex")


def test_bid_order_is_the_same_as_a_lexsort_by_target_then_highest_bid():
    from matching.engine.auction import _by_target_then_highest_bid

    rng = np.random.default_rng(3)
    for size in [0, 1, 2, 5, 40, 300]:
        target = rng.integers(0, max(size // 3, 1), size)
        bid = rng.integers(0, 4, size)  # many ties
        expected = np.lexsort((-bid, target))
        np.testing.assert_array_equal(_by_target_then_highest_bid(target, bid), expected)


def test_auction_with_many_slots_per_volunteer_matches_the_oracle():
    # Capacities above 3 take the lexsort path of the slot re-sorting, not the small network.
    rng = np.random.default_rng(8)
    requests = [
        request(f"r{i}", 50 + rng.normal(0, 0.01), 4 + rng.normal(0, 0.01), priority=int(rng.integers(1, 4)))
        for i in range(60)
    ]
    volunteers = [
        volunteer(f"v{j}", 50 + rng.normal(0, 0.01), 4 + rng.normal(0, 0.01), max_km=2, capacity=int(c))
        for j, c in enumerate(rng.integers(1, 8, 12))
    ]
    data = {"requests": requests, "volunteers": volunteers, "exclude": []}
    instance = parse_instance(data)
    result = solve(instance, method="auction")
    assert result.certificate["cold_solve"] == "auction"
    check_against_oracle(data, result)
    assert result.certificate["optimal"] and certify(instance, result).ok


def test_after_widening_lap_re_solves_only_the_region_around_the_widened_requests(monkeypatch):
    from matching.engine import solver
    from matching.engine.exact import region_resolve

    guesses = []

    def counting(*args):
        guess = region_resolve(*args)
        guesses.append(guess is not None)
        return guess

    monkeypatch.setattr(solver, "region_resolve", counting)
    data = load_make_instance().make(300, 300, 7, 2.5)  # widens once, a small region
    instance = parse_instance(data)
    result = solve(instance, method="lap")
    assert guesses == [True]
    assert result.certificate["rounds"] == 2
    assert result.certificate["optimal"] and certify(instance, result).ok
    check_against_oracle(data, result)


def test_a_region_guess_that_is_not_optimal_falls_back_to_a_full_lap(monkeypatch):
    # The guess "change nothing" ignores the new edges: its least duals do not exist.
    from matching.engine import solver

    monkeypatch.setattr(solver, "region_resolve", lambda *args: args[4].copy())
    data = _crowded_instance()
    instance = parse_instance(data)
    result = solve(instance, method="lap", first_neighbours=1)
    assert result.certificate["cold_solve"] == "lap"
    assert result.certificate["optimal"] and certify(instance, result).ok
    check_against_oracle(data, result)


# ---------------------------------------------------------------- precision of the cost units
def _distinct_priorities(data: dict, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    for r in data["requests"]:
        r["priority"] = int(rng.integers(1, 10**6))
    return data


@pytest.mark.parametrize(
    ("n", "change"),
    [
        (20_000, "one volunteer reaching 20000 km"),  # was 1/S = 4e-5 km (40x the tolerance)
        (20_000, "distinct priorities"),  # was 1/S = 5e-5 km
        pytest.param(120_000, "nothing", marks=pytest.mark.slow),  # 1/S passed 1e-6 km near here
    ],
)
def test_cost_units_of_built_instances_are_within_the_contract_tolerance(n, change):
    from matching.engine.solver import make_scale

    data = load_make_instance().make(n, n, 1, 2.5)
    if change == "one volunteer reaching 20000 km":
        data["volunteers"][0]["max_km"] = 20000.0
    elif change == "distinct priorities":
        _distinct_priorities(data)
    scale = make_scale(parse_instance(data))
    assert 1 / scale.per_km <= 1e-6


def test_many_priorities_too_fine_for_the_auction_are_solved_exactly_by_lapjv(monkeypatch):
    # A smaller int64 budget stands for a larger instance: rank x big x M does not fit at
    # 1e-6 km, float64 without M does; the solve then goes to LAPJVsp (M = 1).
    from matching.engine import solver

    monkeypatch.setattr(solver, "_BENEFIT_LIMIT", 2**44)
    data = _distinct_priorities(load_make_instance().make(300, 200, 3, 2.5))
    instance = parse_instance(data)
    result = solve(instance, method="auction")
    assert result.scale.lap_only and result.scale.multiplier == 1
    assert result.certificate["km_resolution"] <= 1e-6
    assert result.certificate["cold_solve"] == "lap"
    assert result.certificate["optimal"] is True
    check_v2_against_oracle(data, result)


def test_units_coarser_than_the_tolerance_are_not_called_optimal(monkeypatch):
    from matching.engine import solver

    monkeypatch.setattr(solver, "_BENEFIT_LIMIT", 2**40)
    monkeypatch.setattr(solver, "_FLOAT_EXACT", 2**36)
    data = _distinct_priorities(load_make_instance().make(300, 200, 3, 2.5))
    result = solve(parse_instance(data))
    certificate = result.certificate
    assert certificate["km_resolution"] > 1e-6
    assert certificate["optimal"] is False
    assert certificate["priority_optimal"] is True  # priority is still exact
    assert certificate["cost_bound_km"] == pytest.approx(result.matched * certificate["km_resolution"])


# ---------------------------------------------------------------- shared coordinates, scarce shapes
def _snapped(n: int, m: int, seed: int, step: float | None) -> dict:
    """Generator instance with points snapped to a grid, or everyone at one point (None)."""
    make_instance = load_make_instance()
    data = make_instance.make(n, m, seed, 2.5)
    if step is None:
        for person in data["requests"] + data["volunteers"]:
            person["lat"], person["lon"] = 50.8798, 4.7005
        return data
    return make_instance.snap(data, step)


@pytest.mark.parametrize(
    ("n", "m", "step"),
    [(250, 250, 0.01), (300, 80, 0.01), (300, 300, None), (400, 80, None)],
    ids=["snapped", "snapped-scarce", "one-point", "one-point-scarce"],
)
def test_shared_coordinates_are_solved_optimally_without_taking_every_tied_pair(n, m, step):
    # Geocoding to a postcode puts many people on one point: thousands of pairs tie. The
    # widening adds at most WIDEN_LIMIT improving pairs per request and round (it used to
    # add every tied pair: 6 M edges, 1.9 GB at 20k x 20k snapped).
    from matching.engine.solver import WIDEN_LIMIT

    data = _snapped(n, m, 3, step)
    instance = parse_instance(data)
    result = solve(instance)
    assert result.certificate["optimal"] is True
    assert certify(instance, result).ok
    check_v2_against_oracle(data, result)
    rounds = result.certificate["rounds"]
    per_request = 24 + 6 * 16 + WIDEN_LIMIT * rounds  # first search (widened 4x) + rounds
    assert result.certificate["candidate_edges"] <= n * per_request


def test_scarce_volunteers_with_version_2_fields_match_the_lp_oracle():
    make_instance = load_make_instance()
    data = make_instance.add_version_2(make_instance.make(400, 100, 5, 2.5), 5)
    instance = parse_instance(data)
    for method in ("lap", "auction"):
        result = solve(instance, method=method)
        assert result.certificate["optimal"] is True and certify(instance, result).ok
        check_v2_against_oracle(data, result)
