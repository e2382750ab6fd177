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
    """Check that `result` is feasible and, with its volunteer duals, provably optimal."""
    if result.volunteer_duals is None:
        return Certificate(False, "the result carries no volunteer duals", float("nan"), float("nan"))
    scale = make_scale(instance)
    duals = np.asarray(result.volunteer_duals, dtype=np.int64)
    request_index = {rid: i for i, rid in enumerate(instance.request_ids)}
    volunteer_index = {vid: i for i, vid in enumerate(instance.volunteer_ids)}
    assigned_r = np.array([request_index[a.request] for a in result.assignments], dtype=np.int64)
    assigned_v = np.array([volunteer_index[a.volunteer] for a in result.assignments], dtype=np.int64)

    if len(set(assigned_r.tolist())) != len(assigned_r):
        return Certificate(False, "a request is assigned twice", float("nan"), float("nan"))
    load = np.bincount(assigned_v, minlength=instance.n_volunteers)
    if (load > instance.volunteer_capacity).any():
        return Certificate(False, "a volunteer is over capacity", float("nan"), float("nan"))
    feasible, km = _feasible(instance, assigned_r, assigned_v)
    if not feasible.all():
        return Certificate(False, "an assigned pair is not feasible", float("nan"), float("nan"))
    if (duals < 0).any():
        return Certificate(False, "a volunteer dual is negative", float("nan"), float("nan"))

    # pi_r = max(0, max over ALL feasible pairs of benefit - P_v) makes (pi, P) dual feasible.
    request, volunteer, pair_distance = all_feasible_pairs(instance)
    benefit = scale.benefit(request, pair_distance)
    pi = np.zeros(instance.n_requests, dtype=np.int64)
    np.maximum.at(pi, request, benefit - duals[volunteer])
    # How far the solver's own duals are from feasible on pruned pairs (for the report).
    solver_pi = np.zeros(instance.n_requests, dtype=np.int64)
    solver_pi[assigned_r] = scale.benefit(assigned_r, km) - duals[assigned_v]
    reduced = benefit - duals[volunteer] - solver_pi[request]
    max_reduced = float(reduced.max()) / scale.multiplier if len(reduced) else 0.0

    slack = pi.copy()
    slack[assigned_r] -= scale.benefit(assigned_r, km) - duals[assigned_v]
    spare = instance.volunteer_capacity - load
    gap = sum(int(x) for x in slack[slack != 0])
    gap += sum(int(spare[v]) * int(duals[v]) for v in np.flatnonzero((spare > 0) & (duals > 0)))
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
