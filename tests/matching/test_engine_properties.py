"""Property tests: the engine against a dense brute-force oracle on small random instances."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.engine import certify, parse_instance, solve
from tests.conftest import examples
from tests.matching.data.engine_oracle import check_against_oracle, check_v2_against_oracle

SKILLS = ["shopping", "driving", "diy"]
# A few fixed places (ties at distance 0, antimeridian, pole) mixed with a small city grid.
PLACES = [(50.0, 4.0), (50.0, 4.0), (50.01, 4.0), (0.0, 179.999), (0.0, -179.999), (90.0, 0.0), (89.99, 77.0)]

place = st.one_of(
    st.sampled_from(PLACES),
    st.tuples(st.floats(49.97, 50.03), st.floats(3.97, 4.03)),
)


@st.composite
def instances(draw):
    n_requests = draw(st.integers(0, 7))
    n_volunteers = draw(st.integers(0, 6))
    requests = []
    for i in range(n_requests):
        lat, lon = draw(place)
        requests.append(
            {
                "id": f"r{i}",
                "lat": lat,
                "lon": lon,
                "skills": draw(st.lists(st.sampled_from(SKILLS), max_size=2, unique=True)),
                "slots": draw(st.lists(st.integers(0, 3), max_size=2, unique=True)),
                "priority": draw(st.integers(1, 3)),
            }
        )
    volunteers = []
    for j in range(n_volunteers):
        lat, lon = draw(place)
        volunteers.append(
            {
                "id": f"v{j}",
                "lat": lat,
                "lon": lon,
                "skills": draw(st.lists(st.sampled_from(SKILLS), max_size=3, unique=True)),
                "slots": draw(st.lists(st.integers(0, 3), max_size=3, unique=True)),
                "max_km": draw(st.sampled_from([0.5, 1.0, 2.0, 3.0, 6.0])),
                "capacity": draw(st.integers(0, 3)),
            }
        )
    exclude = []
    if requests and volunteers:
        exclude = draw(
            st.lists(
                st.tuples(
                    st.sampled_from([r["id"] for r in requests]),
                    st.sampled_from([v["id"] for v in volunteers]),
                ),
                max_size=4,
            )
        )
    return {"requests": requests, "volunteers": volunteers, "exclude": [list(pair) for pair in exclude]}


# Both cold solves of the candidate graph: sparse LAPJV with exact duals, and the auction.
METHODS = pytest.mark.parametrize("method", ["lap", "auction"])


@METHODS
@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_engine_is_feasible_optimal_and_gives_the_right_reasons(method, data):
    instance = parse_instance(data)
    result = solve(instance, method=method)
    assert result.certificate["cold_solve"] == method
    check_against_oracle(data, result)
    assert result.certificate["optimal"] is True
    assert certify(instance, result).ok


@METHODS
@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(1, 3))
def test_few_first_candidates_still_reach_the_optimum(method, data, first_neighbours):
    # Starting from one to three neighbours forces the certificate to widen the search.
    instance = parse_instance(data)
    result = solve(instance, first_neighbours=first_neighbours, method=method)
    assert result.certificate["cold_solve"] == method
    check_against_oracle(data, result)
    assert result.certificate["optimal"] is True
    assert certify(instance, result).ok


@st.composite
def instances_v2(draw):
    """Version 2 fields on top: needs 1-3 (more than the volunteers, too), preferred ids
    (unknown and repeated ones included), extra_km up to large, a bonus that can exceed
    every km (negative costs)."""
    data = draw(instances())
    volunteer_ids = [v["id"] for v in data["volunteers"]] + ["nobody"]
    for r in data["requests"]:
        r["needs"] = draw(st.integers(1, 4))
        if draw(st.booleans()):
            r["preferred"] = draw(st.lists(st.sampled_from(volunteer_ids), max_size=3))
    for v in data["volunteers"]:
        v["extra_km"] = draw(st.sampled_from([0.0, 0.0, 0.25, 1.5, 40.0]))
    data["continuity_bonus_km"] = draw(st.sampled_from([0.0, 0.3, 2.0, 100.0]))
    return data


@METHODS
@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances_v2(), st.sampled_from([1, 2, 24]))
def test_version_2_instances_are_judged_correct_against_the_lp_oracle(method, data, first_neighbours):
    instance = parse_instance(data)
    result = solve(instance, first_neighbours=first_neighbours, method=method)
    assert result.certificate["cold_solve"] == method
    check_v2_against_oracle(data, result)
    assert result.certificate["optimal"] is True
    assert certify(instance, result).ok
