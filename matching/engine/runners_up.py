"""The next best volunteers for requests the solver already assigned.

An urgent request may be asked of its best few volunteers at once (the first to accept
takes it): the solver's choice, and the runners-up this module finds. They must be able
to take it as the contract's rules 1-4 say (skills, slots, distance, not excluded), have
capacity left once the solver's assignments (and the runners-up already picked) are
counted, and are ranked by the same cost the solver weighs: km plus their `extra_km`,
minus the continuity bonus for a preferred volunteer. This is a choice made after the
optimum, not part of it: the assignment itself stays the certified one.
"""

from __future__ import annotations

import numpy as np

from matching.engine.candidates import feasible_pairs
from matching.engine.geometry import indexed_pair_km
from matching.engine.instance import Instance
from matching.engine.result import Assignment, Result


def runners_up(
    instance: Instance, result: Result, request_ids: list[str], count: int
) -> dict[str, list[Assignment]]:
    """Up to `count` more volunteers for each of `request_ids` (those the result assigned),
    cheapest first; requests are served in the order given, so the first have the first pick
    of volunteers with little capacity left."""
    if count < 1 or not request_ids or instance.n_volunteers == 0:
        return {}
    volunteer_index = {identifier: index for index, identifier in enumerate(instance.volunteer_ids)}
    request_index = {identifier: index for index, identifier in enumerate(instance.request_ids)}
    capacity_left = instance.volunteer_capacity.astype(np.int64).copy()
    already = {}
    for assignment in result.assignments:
        capacity_left[volunteer_index[assignment.volunteer]] -= 1
        already.setdefault(assignment.request, set()).add(volunteer_index[assignment.volunteer])
    excluded_keys = instance.excluded_keys()
    preferred_keys = instance.preferred_keys()
    everyone = np.arange(instance.n_volunteers, dtype=np.int64)
    chosen: dict[str, list[Assignment]] = {}
    for request_id in request_ids:
        if request_id not in already:
            continue  # not assigned: nobody to ask beside the first
        row = request_index[request_id]
        requests = np.full(instance.n_volunteers, row, dtype=np.int64)
        km = indexed_pair_km(instance.request_xyz, requests, instance.volunteer_xyz, everyone)
        ok, km = feasible_pairs(instance, requests, everyone, km, excluded_keys)
        ok &= capacity_left > 0
        ok[list(already[request_id])] = False
        candidates = np.flatnonzero(ok)
        if len(candidates) == 0:
            continue
        cost = km[candidates] + instance.volunteer_extra_km[candidates]
        if len(preferred_keys):
            keys = row * instance.n_volunteers + candidates
            cost = cost - instance.continuity_bonus_km * np.isin(keys, preferred_keys)
        # Ties broken by the volunteer's position, so the same input gives the same answer.
        picked = candidates[np.lexsort((candidates, cost))[:count]]
        capacity_left[picked] -= 1
        names = instance.volunteer_ids
        chosen[request_id] = [Assignment(request_id, names[index], float(km[index])) for index in picked]
    return chosen
