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

from matching.engine.geometry import chord_to_km, indexed_pair_km, km_to_chord, within_max_km
from matching.engine.instance import Instance

# Relative and absolute slack on k-d tree distances: the tree computes its own Euclidean
# norms, which may differ from `pair_km` in the last bits.
_TREE_SLACK = 1e-9
# Neighbour lookups per k-d tree query above which the query uses every core.
_THREADED_NEIGHBOURS = 1 << 18
# Smallest radius bucket of the price-aware check (km); buckets double from there.
_HARM_BASE_KM = 0.125
# Pairs of one ball query chunk in the price-aware check (memory stays bounded).
_BALL_PAIRS = 1 << 21
# Safety margin (km) when comparing a ball radius with a request's bound on unseen km.
_BOUND_MARGIN_KM = 1e-6


def _bucket(km: np.ndarray) -> np.ndarray:
    """Power-of-two class of positive km values (0 for up to _HARM_BASE_KM)."""
    # Clipped at 63 (max_km may be huge): merged classes only make a ball looser.
    return np.clip(np.ceil(np.log2(np.maximum(km, 1e-300) / _HARM_BASE_KM)), 0, 63).astype(np.int64)


def _unpack(bits: np.ndarray) -> np.ndarray:
    """(n, words) uint64 -> (n, 64 * words) bool, bit i of word w at column 64 w + i."""
    as_bytes = np.ascontiguousarray(bits).astype("<u8").view(np.uint8).reshape(len(bits), 8 * bits.shape[1])
    return np.unpackbits(as_bytes, axis=1, bitorder="little").astype(bool)


def in_range(
    instance: Instance, requests: np.ndarray, volunteers: np.ndarray, km: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rule 3 (distance <= the volunteer's max_km) exactly as geopy decides it, and the km
    to use for the pairs (geopy's own where a pair is within a hair of the radius)."""
    return within_max_km(
        instance.request_latlon,
        requests,
        instance.volunteer_latlon,
        volunteers,
        km,
        instance.volunteer_max_km[volunteers],
    )


def feasible_pairs(
    instance: Instance,
    requests: np.ndarray,
    volunteers: np.ndarray,
    km: np.ndarray,
    excluded_keys: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Whether each (request, volunteer) pair with distance `km` satisfies rules 1-4 of the
    spec, and the km to use for the pairs (rule 3's, see `in_range`)."""
    ok, km = in_range(instance, requests, volunteers, km)
    ok &= skills_ok(instance, requests, volunteers) & slots_ok(instance, requests, volunteers)
    ok &= ~is_excluded(instance, requests, volunteers, excluded_keys)
    return ok, km


def skills_ok(instance: Instance, requests: np.ndarray, volunteers: np.ndarray) -> np.ndarray:
    if instance.request_skills.shape[1] == 1:  # one word: 1-D gathers are much cheaper
        missing = instance.request_skills[:, 0][requests] & ~instance.volunteer_skills[:, 0][volunteers]
        return missing == 0
    missing = instance.request_skills[requests] & ~instance.volunteer_skills[volunteers]
    return ~missing.any(axis=1)


def slots_ok(instance: Instance, requests: np.ndarray, volunteers: np.ndarray) -> np.ndarray:
    if instance.request_slots.shape[1] == 1:
        shared = (instance.request_slots[:, 0][requests] & instance.volunteer_slots[:, 0][volunteers]) != 0
    else:
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


def _ball_pairs(points: np.ndarray, radius: np.ndarray, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of every xyz[column] within chord radius[row] of points[row] (a superset
    is fine: callers filter exactly). Dense for small products, else a k-d tree."""
    if len(points) * len(xyz) <= 1 << 20:
        difference = points[:, None, :] - xyz[None, :, :]
        squared = np.einsum("ijk,ijk->ij", difference, difference)
        rows, columns = np.nonzero(squared <= (radius * (1 + _TREE_SLACK) + _TREE_SLACK)[:, None] ** 2)
        return rows, columns
    hits = cKDTree(xyz).query_ball_point(
        points, r=radius, workers=-1 if len(points) * len(xyz) > 1 << 24 else 1
    )
    lengths = np.fromiter((len(item) for item in hits), dtype=np.int64, count=len(hits))
    rows = np.repeat(np.arange(len(points)), lengths)
    if lengths.sum() == 0:
        return rows, np.zeros(0, dtype=np.int64)
    return rows, np.concatenate([np.asarray(item, dtype=np.int64) for item in hits])


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
        self._reach: dict[int, np.ndarray] = {}

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
        width = int(max(k_new.max(initial=0), k_seen.max(initial=0))) + 1
        keys = ((groups + 1) * width + k_seen) * width + k_new
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        cuts = np.flatnonzero(np.diff(sorted_keys)) + 1
        for positions in np.split(order, cuts) if len(order) else []:
            group, seen, upto = int(groups[positions[0]]), int(k_seen[positions[0]]), int(k_new[positions[0]])
            tree, members, reach = self._group(group)
            if tree is None or seen >= len(members):
                continue
            upto = min(upto, len(members))
            batch_requests = requests[positions]
            distance, index = tree.query(
                np.take(instance.request_xyz, batch_requests, axis=0),
                k=upto if seen == 0 else list(range(seen + 1, upto + 1)),
                distance_upper_bound=reach,
                # Threads only pay off on big batches (each query call starts its own).
                workers=-1 if len(positions) * (upto - seen) > _THREADED_NEIGHBOURS else 1,
            )
            distance = distance.reshape(len(positions), -1)
            index = index.reshape(len(positions), -1)
            last = distance[:, -1]
            # Not exhausted: the group has more members and the last one is within reach.
            open_ended = np.isfinite(last) & (upto < len(members))
            bound = chord_to_km(np.maximum(last * (1 - _TREE_SLACK) - _TREE_SLACK, 0.0))
            bound_km[positions[open_ended]] = bound[open_ended]
            # Cheap first cut on the tree's own distances: beyond the volunteer's travel
            # radius (with the tree slack) the pair cannot be feasible; exact check below.
            within = index < len(members)
            member_reach = self._member_reach(group)
            within[within] = distance[within] <= member_reach[index[within]]
            rows, columns = np.nonzero(within)
            found_r.append(batch_requests[rows])
            found_v.append(members[index[rows, columns]])
        if found_r:
            request = np.concatenate(found_r).astype(np.int64)
            volunteer = np.concatenate(found_v).astype(np.int64)
        else:
            request = np.zeros(0, dtype=np.int64)
            volunteer = np.zeros(0, dtype=np.int64)
        # Skills and slots first (cheap), exact km and the radius only for what is left.
        keep = skills_ok(instance, request, volunteer) & slots_ok(instance, request, volunteer)
        request, volunteer = request[keep], volunteer[keep]
        km = indexed_pair_km(instance.request_xyz, request, instance.volunteer_xyz, volunteer)
        keep, km = in_range(instance, request, volunteer, km)
        keep &= ~is_excluded(instance, request, volunteer, self.excluded_keys)
        return Edges(request[keep], volunteer[keep], km[keep], bound_km)

    def _member_reach(self, group: int) -> np.ndarray:
        """Chord radius (with the tree slack) of each member of the group's tree."""
        if group not in self._reach:
            members = self._group(group)[1]
            chord = km_to_chord(self.instance.volunteer_max_km[members])
            self._reach[group] = chord * (1 + _TREE_SLACK) + _TREE_SLACK
        return self._reach[group]

    def violations(
        self,
        requests: np.ndarray,
        pi: np.ndarray,
        duals: np.ndarray,
        scale,
        bound_km: np.ndarray,
        limit: int | None = None,
    ) -> Edges:
        """Every feasible pair (r, v), r in `requests`, with benefit(r, v) - P_v > pi_r.

        The price-aware pricing step of the certificate (docs/engine.md): with prices
        P_v = `duals`, such a pair needs M * round(km * S) < M * rank_r * big - P_v - pi_r,
        so v can only matter within its own "harm radius" h_v (capped by its max_km),
        which is small for volunteers whose price is already high. Volunteers of a request's
        group are bucketed by h_v (powers of two), one k-d tree per bucket; a ball query per
        request with the bucket's largest radius gives a superset, filtered exactly in
        integers. An empty answer proves pi_r >= benefit - P_v on every feasible pair of
        these requests, seen or not. `limit` keeps at most that many pairs per request
        (the most improving): an empty answer is still a proof, a non-empty one a subset.
        """
        instance = self.instance
        found_r: list[np.ndarray] = []
        found_v: list[np.ndarray] = []
        multiplier, per_km = scale.multiplier, scale.per_km
        ranks = scale.ranks[requests]
        groups = self.request_group[requests]
        keys = np.stack([groups, ranks], axis=1)
        unique_keys, batch_of = np.unique(keys, axis=0, return_inverse=True)
        batch_of = batch_of.reshape(-1)
        for batch, (group, rank) in enumerate(unique_keys):
            positions = np.flatnonzero(batch_of == batch)
            _, members, _ = self._group(int(group))
            if len(members) == 0:
                continue
            # Harmful only if round(km * S) < (M * rank * big - P_v - pi_r) / M, so
            # km < ((M * rank * big - P_v) / M + 0.5) / S - pi_r / (M * S).
            room = multiplier * int(rank) * scale.big - duals[members]  # exact int64
            reach_km = (room / multiplier + 0.5) / per_km
            max_km = instance.volunteer_max_km[members]
            live = np.minimum(max_km, reach_km) > 0
            if not live.any():
                continue
            members, max_km, reach_km = members[live], max_km[live], reach_km[live]
            # Classes of volunteers with similar reach and similar max_km, so that one ball
            # radius per class and request is tight: the price level (a multiple of
            # big / S km), the offset within it and max_km, each in powers of two.
            level_km = scale.big / per_km
            level = np.floor(reach_km / level_km)
            offset_km = reach_km - level * level_km
            within = _bucket(np.minimum(offset_km, max_km))
            key = (level.astype(np.int64) * 64 + within) * 64 + _bucket(max_km)
            classes, class_of = np.unique(key, return_inverse=True)
            class_of = class_of.reshape(-1)
            order = np.argsort(class_of, kind="stable")
            bounds = np.searchsorted(class_of[order], np.arange(len(classes) + 1))
            batch_requests = requests[positions]
            shift_km = pi[batch_requests] / (multiplier * per_km)
            # Unseen volunteers are at least bound_km away: a class that cannot reach
            # beyond it only holds pairs already in the graph.
            floor_km = bound_km[positions] - _BOUND_MARGIN_KM
            for number in range(len(classes)):
                inside = order[bounds[number] : bounds[number + 1]]
                radius_km = np.minimum(max_km[inside].max(), reach_km[inside].max() - shift_km)
                asking = np.flatnonzero((radius_km > 0) & (radius_km >= floor_km))
                if len(asking) == 0:
                    continue
                volunteers = members[inside]
                radius = km_to_chord(radius_km[asking]) * (1 + _TREE_SLACK) + _TREE_SLACK
                # In chunks, filtered exactly at once: with shared coordinates (everyone
                # geocoded to one point) a ball holds every volunteer of the class.
                chunk = max(1, _BALL_PAIRS // max(len(volunteers), 1))
                for start in range(0, len(asking), chunk):
                    part = slice(start, start + chunk)
                    rows, columns = _ball_pairs(
                        instance.request_xyz[batch_requests[asking[part]]],
                        radius[part],
                        instance.volunteer_xyz[volunteers],
                    )
                    found = self._improving(
                        batch_requests[asking[part]][rows], volunteers[columns], pi, duals, scale, limit
                    )
                    found_r.append(found[0])
                    found_v.append(found[1])
        if found_r:
            request = np.concatenate(found_r).astype(np.int64)
            volunteer = np.concatenate(found_v).astype(np.int64)
        else:
            request = np.zeros(0, dtype=np.int64)
            volunteer = np.zeros(0, dtype=np.int64)
        request, volunteer, km = self._improving(request, volunteer, pi, duals, scale, limit)
        return Edges(request, volunteer, km, np.zeros(0))

    def _improving(
        self,
        request: np.ndarray,
        volunteer: np.ndarray,
        pi: np.ndarray,
        duals: np.ndarray,
        scale,
        limit: int | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The feasible pairs with benefit - P_v > pi_r; at most `limit` per request, the
        most improving first (ties: many volunteers at one point improve equally, and
        the next round finds the rest if they are still needed)."""
        instance = self.instance
        km = indexed_pair_km(instance.request_xyz, request, instance.volunteer_xyz, volunteer)
        keep, km = feasible_pairs(instance, request, volunteer, km, self.excluded_keys)
        request, volunteer, km = request[keep], volunteer[keep], km[keep]
        excess = scale.benefit(request, volunteer, km) - duals[volunteer] - pi[request]
        improving = excess > 0
        request, volunteer, km, excess = (
            request[improving],
            volunteer[improving],
            km[improving],
            excess[improving],
        )
        if limit is None or len(request) == 0:
            return request, volunteer, km
        order = np.lexsort((-excess, request))
        request_sorted = request[order]
        first = np.searchsorted(request_sorted, request_sorted)  # start of each request's run
        keep = order[np.arange(len(order)) - first < limit]
        return request[keep], volunteer[keep], km[keep]
