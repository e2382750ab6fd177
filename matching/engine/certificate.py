"""`certify`: an exhaustive, independent check of a result against the full instance.

The solver certifies itself with bounds for the pairs it pruned; this function instead
enumerates every feasible pair, so tests can show that an answer computed on too few
candidates is rejected. It costs O(feasible pairs): meant for tests and audits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from matching.engine.candidates import feasible_pairs
from matching.engine.geometry import km_to_chord, pair_km
from matching.engine.instance import Instance
from matching.engine.result import Result
from matching.engine.solver import make_scale


@dataclass(frozen=True)
class Certificate:
    ok: bool
    reason: str
    max_reduced_cost: float  # most positive benefit - pi_r - P_v over all feasible pairs (<= 0 if ok)
    duality_gap_units: float  # dual minus primal objective, in units of the integer objective


def all_feasible_pairs(instance: Instance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every feasible (request, volunteer) pair with capacity > 0, and its km."""
    able = np.flatnonzero(instance.volunteer_capacity > 0)
    if instance.n_requests == 0 or len(able) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    tree = cKDTree(instance.volunteer_xyz[able])
    reach = float(km_to_chord(float(instance.volunteer_max_km[able].max()))) * (1 + 1e-9) + 1e-9
    neighbours = tree.query_ball_point(instance.request_xyz, r=reach)
    lengths = np.array([len(item) for item in neighbours], dtype=np.int64)
    request = np.repeat(np.arange(instance.n_requests), lengths)
    volunteer = able[np.concatenate([np.asarray(item, dtype=np.int64) for item in neighbours])]
    keep, km = _feasible(instance, request, volunteer)
    return request[keep], volunteer[keep], km[keep]


def _feasible(
    instance: Instance, request: np.ndarray, volunteer: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    km = pair_km(instance.request_xyz[request], instance.volunteer_xyz[volunteer])
    return feasible_pairs(instance, request, volunteer, km, instance.excluded_keys())


def certify(instance: Instance, result: Result) -> Certificate:
    """Check that `result` is feasible and, with its volunteer duals, provably optimal.

    The LP of the contract (b-matching with one pair per request and volunteer at most):
    max sum b x subject to sum_v x_rv <= needs_r, sum_r x_rv <= capacity_v, 0 <= x <= 1.
    Given volunteer prices P >= 0, the best dual for request r is the sum of its needs_r
    largest positive values of b(r, v) - P_v over ALL feasible pairs (pi_r is the needs_r-th
    largest, the pair duals take the excess), so the dual objective is that sum plus
    sum_v capacity_v P_v. Benefits are multiples of M, so a gap below M proves the result
    optimal for the integer objective (and so within matched / S km of the contract's).
    """
    nan = float("nan")
    if result.volunteer_duals is None:
        return Certificate(False, "the result carries no volunteer duals", nan, nan)
    scale = make_scale(instance)
    m = instance.n_volunteers
    duals = np.asarray(result.volunteer_duals, dtype=np.int64)
    request_index = {rid: i for i, rid in enumerate(instance.request_ids)}
    volunteer_index = {vid: i for i, vid in enumerate(instance.volunteer_ids)}
    assigned_r = np.array([request_index[a.request] for a in result.assignments], dtype=np.int64)
    assigned_v = np.array([volunteer_index[a.volunteer] for a in result.assignments], dtype=np.int64)

    keys = assigned_r * max(m, 1) + assigned_v
    if len(np.unique(keys)) != len(keys):
        return Certificate(False, "a pair is listed twice", nan, nan)
    if (np.bincount(assigned_r, minlength=instance.n_requests) > instance.request_needs).any():
        return Certificate(False, "a request got more volunteers than it needs", nan, nan)
    load = np.bincount(assigned_v, minlength=m)
    if (load > instance.volunteer_capacity).any():
        return Certificate(False, "a volunteer is over capacity", nan, nan)
    feasible, km = _feasible(instance, assigned_r, assigned_v)
    if not feasible.all():
        return Certificate(False, "an assigned pair is not feasible", nan, nan)
    if (duals < 0).any():
        return Certificate(False, "a volunteer dual is negative", nan, nan)

    request, volunteer, pair_distance = all_feasible_pairs(instance)
    value = scale.benefit(request, volunteer, pair_distance) - duals[volunteer]
    # Each request's needs_r largest positive values.
    order = np.lexsort((-value, request))
    request_sorted, value_sorted = request[order], value[order]
    starts = np.searchsorted(request_sorted, np.arange(instance.n_requests))
    position = np.arange(len(order)) - starts[request_sorted]
    taken = (position < instance.request_needs[request_sorted]) & (value_sorted > 0)
    dual = sum(value_sorted[taken].tolist())
    dual += sum(
        int(c) * int(p) for c, p in zip(instance.volunteer_capacity.tolist(), duals.tolist(), strict=True)
    )
    primal = sum(scale.benefit(assigned_r, assigned_v, km).tolist())
    gap = dual - primal
    # Complementary slackness, for the report: the largest value of a pair left out above
    # the smallest value its request kept (0 if the request has places left).
    kept_min = np.full(instance.n_requests, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(kept_min, assigned_r, scale.benefit(assigned_r, assigned_v, km) - duals[assigned_v])
    full = np.bincount(assigned_r, minlength=instance.n_requests) >= instance.request_needs
    threshold = np.where(full, kept_min, 0)
    outside = ~np.isin(request * max(m, 1) + volunteer, keys)
    reduced = value[outside] - threshold[request[outside]]
    max_reduced = float(reduced.max()) / scale.multiplier if len(reduced) else 0.0
    gap_units = gap / scale.multiplier
    if gap >= scale.multiplier:
        return Certificate(
            False,
            f"duality gap {gap_units:.6g} units >= 1: some feasible pair would improve the objective",
            max_reduced,
            gap_units,
        )
    return Certificate(
        True, "dual feasible on every feasible pair and duality gap < 1 unit", max_reduced, gap_units
    )
