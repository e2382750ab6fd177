"""Feasibility of pairs and the k-nearest-feasible candidate search.

Volunteers able to take work (capacity > 0) are indexed in one k-d tree of unit-sphere
points per skill: a request queries the tree of its rarest needed skill (or a tree of all
volunteers when it needs none) and keeps the feasible pairs among the neighbours found.
Whatever the search has not looked at is at least as far as the last neighbour returned,
which is the bound the certificate uses for pruned pairs (see docs/engine.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from matching.engine.geometry import chord_to_km, km_to_chord, pair_km
from matching.engine.instance import Instance

# Relative and absolute slack on k-d tree distances: the tree computes its own Euclidean
# norms, which may differ from `pair_km` in the last bits.
_TREE_SLACK = 1e-9


def _unpack(bits: np.ndarray) -> np.ndarray:
    """(n, words) uint64 -> (n, 64 * words) bool, bit i of word w at column 64 w + i."""
    as_bytes = np.ascontiguousarray(bits).astype("<u8").view(np.uint8).reshape(len(bits), 8 * bits.shape[1])
    return np.unpackbits(as_bytes, axis=1, bitorder="little").astype(bool)


def feasible_mask(
    instance: Instance,
    requests: np.ndarray,
    volunteers: np.ndarray,
    km: np.ndarray,
    excluded_keys: np.ndarray,
) -> np.ndarray:
    """Whether each (request, volunteer) pair with distance `km` satisfies rules 1-4 of the spec."""
    return (
        skills_ok(instance, requests, volunteers)
        & (km <= instance.volunteer_max_km[volunteers])
        & slots_ok(instance, requests, volunteers)
        & ~is_excluded(instance, requests, volunteers, excluded_keys)
    )


def skills_ok(instance: Instance, requests: np.ndarray, volunteers: np.ndarray) -> np.ndarray:
    missing = instance.request_skills[requests] & ~instance.volunteer_skills[volunteers]
    return ~missing.any(axis=1)


def slots_ok(instance: Instance, requests: np.ndarray, volunteers: np.ndarray) -> np.ndarray:
    shared = (instance.request_slots[requests] & instance.volunteer_slots[volunteers]).any(axis=1)
    return instance.request_any_slot[requests] | shared


def is_excluded(
    instance: Instance, requests: np.ndarray, volunteers: np.ndarray, excluded_keys: np.ndarray
) -> np.ndarray:
    if len(excluded_keys) == 0:
        return np.zeros(len(requests), dtype=bool)
    keys = requests.astype(np.int64) * max(instance.n_volunteers, 1) + volunteers
    position = np.minimum(np.searchsorted(excluded_keys, keys), len(excluded_keys) - 1)
    return excluded_keys[position] == keys


@dataclass
class Edges:
    """Feasible pairs found by a search, and per queried request the km bound on the rest."""

    request: np.ndarray  # int64
    volunteer: np.ndarray  # int64
    km: np.ndarray  # float64
    bound_km: np.ndarray  # per queried request: unseen feasible pairs are at least this far (inf: none)


class CandidateSearch:
    """k-nearest feasible volunteers per request, from per-skill k-d trees."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.excluded_keys = instance.excluded_keys()
        able = np.flatnonzero(instance.volunteer_capacity > 0)
        self._able = able
        volunteer_bits = _unpack(instance.volunteer_skills[able])
        request_bits = _unpack(instance.request_skills)
        counts = volunteer_bits.sum(axis=0)
        # Group of a request: its rarest needed skill (fewest able volunteers), or -1 (all
        # able volunteers) when it needs none. Fewer neighbours to wade through.
        weighted = np.where(request_bits, counts[None, :], np.iinfo(np.int64).max)
        rarest = weighted.argmin(axis=1) if weighted.shape[1] else np.zeros(len(weighted), dtype=np.int64)
        needs_any = request_bits.any(axis=1)
        self.request_group = np.where(needs_any, rarest, -1).astype(np.int64)
        self._volunteer_bits = volunteer_bits
        self._trees: dict[int, tuple[cKDTree | None, np.ndarray, float]] = {}

    def _group(self, group: int) -> tuple[cKDTree | None, np.ndarray, float]:
        if group not in self._trees:
            members = self._able if group < 0 else self._able[self._volunteer_bits[:, group]]
            if len(members) == 0:
                self._trees[group] = (None, members, 0.0)
            else:
                tree = cKDTree(self.instance.volunteer_xyz[members])
                reach_km = float(self.instance.volunteer_max_km[members].max())
                reach = float(km_to_chord(reach_km)) * (1 + _TREE_SLACK) + _TREE_SLACK
                self._trees[group] = (tree, members, reach)
        return self._trees[group]

    def group_size(self, requests: np.ndarray) -> np.ndarray:
        """Number of able volunteers in each request's group (the most a search can return)."""
        sizes = np.zeros(len(requests), dtype=np.int64)
        for group in np.unique(self.request_group[requests]):
            sizes[self.request_group[requests] == group] = len(self._group(int(group))[1])
        return sizes

    def search(self, requests: np.ndarray, k_seen: np.ndarray, k_new: np.ndarray) -> Edges:
        """Feasible pairs among neighbours k_seen+1 .. k_new (1-based) of each request.

        `bound_km[i]` is a lower bound on the km of every able volunteer of the group not
        among the first `k_new[i]` neighbours, or inf when the group is exhausted within
        the largest travel radius (so no feasible pair is left unseen).
        """
        instance = self.instance
        found_r: list[np.ndarray] = []
        found_v: list[np.ndarray] = []
        bound_km = np.full(len(requests), np.inf)
        groups = self.request_group[requests]
        # One query per (group, k range) batch; callers use few distinct k values.
        keys = np.stack([groups, k_seen, k_new], axis=1)
        unique_keys, batch_of = np.unique(keys, axis=0, return_inverse=True)
        batch_of = batch_of.reshape(-1)
        for batch, (group, seen, upto) in enumerate(unique_keys):
            positions = np.flatnonzero(batch_of == batch)
            tree, members, reach = self._group(int(group))
            if tree is None or seen >= len(members):
                continue
            upto = min(int(upto), len(members))
            batch_requests = requests[positions]
            distance, index = tree.query(
                instance.request_xyz[batch_requests],
                k=list(range(int(seen) + 1, upto + 1)),
                distance_upper_bound=reach,
                workers=-1,
            )
            distance = distance.reshape(len(positions), -1)
            index = index.reshape(len(positions), -1)
            last = distance[:, -1]
            # Not exhausted: the group has more members and the last one is within reach.
            open_ended = np.isfinite(last) & (upto < len(members))
            bound = chord_to_km(np.maximum(last * (1 - _TREE_SLACK) - _TREE_SLACK, 0.0))
            bound_km[positions[open_ended]] = bound[open_ended]
            valid = index < len(members)
            rows, columns = np.nonzero(valid)
            found_r.append(batch_requests[rows])
            found_v.append(members[index[rows, columns]])
        if found_r:
            request = np.concatenate(found_r).astype(np.int64)
            volunteer = np.concatenate(found_v).astype(np.int64)
        else:
            request = np.zeros(0, dtype=np.int64)
            volunteer = np.zeros(0, dtype=np.int64)
        km = pair_km(instance.request_xyz[request], instance.volunteer_xyz[volunteer])
        keep = feasible_mask(instance, request, volunteer, km, self.excluded_keys)
        return Edges(request[keep], volunteer[keep], km[keep], bound_km)
