"""Everyone at one point: an exact solve by maximum flows through skill-and-slot hubs.

When every request and every volunteer stands on the same point (geocoding a whole town
to its centre), every pair is 0 km apart, and with no version 2 cost (no `extra_km`, no
continuity bonus on a preferred pair) and one place per request, every feasible pair
costs 0. Only priority and feasibility are left, and the general solver drowns in ties:
every volunteer is equally near every request (20k x 2k ran over 300 s).

Here the feasible pairs are never listed one by one. A request with skills S is feasible
with a volunteer offering all of S in one of its slots, so a "hub" (S, slot t) links the
requests with skill set S that can take slot t to the volunteers offering S and t, and a
hub (S, any) links the requests without slots to every volunteer offering S: a pair is
feasible iff some hub links it. Where a hub holds a volunteer that a request linked to it
excludes, that link becomes direct edges to the hub's other members. 20k x 20k: ~0.3 M
edges instead of ~100 M feasible pairs.

The served requests form a matroid (a gammoid), so the largest total priority is the
greedy one: highest priority first, each level a maximum flow in the residual network
that leaves every request served so far served (no path goes back through the source).
Its certificate comes from the minimum cuts: after level L, the nodes reachable from the
source in the residual network are a cut; every request of priority >= L outside it is
served, every volunteer inside it is full, and every feasible pair (r, v) with r of
priority >= L has r outside or v inside (hub and direct edges are uncapped). A
volunteer's price is delta x the number of levels whose cut holds it (delta = one rank's
benefit): then benefit - P_v <= pi_r on every feasible pair and the duals' objective
equals the assignment's exactly (gap 0), so the answer is optimal and `certify` can check
the same prices against every pair.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from matching.engine.candidates import _unpack
from matching.engine.geometry import indexed_pair_km
from matching.engine.instance import Instance
from matching.engine.result import Assignment, Result, Scale, Unassigned

# Each distinct priority costs two maximum flows; beyond this the general solver runs.
LEVEL_LIMIT = 16
# Cells of the hub membership table (bytes); 100k volunteers with the generator's ~40
# skill sets and 21 slots take ~90 M.
HUB_TABLE_LIMIT = 1 << 28


def applies(instance: Instance, scale: Scale) -> bool:
    """Whether every feasible pair costs 0: one point for all, no version 2 cost, one
    place per request (`needs` > 1 keeps the general solver's gadgets)."""
    n, m = instance.n_requests, instance.n_volunteers
    if n == 0 or m == 0 or not (instance.volunteer_capacity > 0).any():
        return False
    point = instance.request_xyz[0]
    if not ((instance.request_xyz == point).all() and (instance.volunteer_xyz == point).all()):
        return False
    if (instance.request_needs != 1).any() or (instance.volunteer_extra_km != 0).any():
        return False
    if scale.bonus_km > 0 and len(instance.preferred_request):
        return False
    if int(scale.ranks.max()) > LEVEL_LIMIT:
        return False
    # The hubs are built from a (skill sets x offered slots x able volunteers) table of
    # booleans: instances with thousands of distinct skill sets or slots stay general.
    skill_sets = len(np.unique(instance.request_skills, axis=0))
    offered = np.bitwise_or.reduce(instance.volunteer_slots, axis=0) if m else np.zeros(0, np.uint64)
    slots = int(_unpack(offered.reshape(1, -1)).sum()) + 1
    able = int((instance.volunteer_capacity > 0).sum())
    return skill_sets * slots * able <= HUB_TABLE_LIMIT


def _ranks_within(counts: np.ndarray) -> np.ndarray:
    """0, 1, .., c-1 for each count c, concatenated."""
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)


class _Network:
    """source -> request (1) -> hub or volunteer (uncapped) -> ... -> volunteer -> sink
    (its capacity). Nodes: 0 source, 1..n requests, hubs, volunteers, sink."""

    def __init__(self, instance: Instance) -> None:
        n, m = instance.n_requests, instance.n_volunteers
        self.n, self.m = n, m
        able = np.flatnonzero(instance.volunteer_capacity > 0)
        able_index = np.full(m, -1, dtype=np.int64)
        able_index[able] = np.arange(len(able))

        skill_rows, skill_of = np.unique(instance.request_skills, axis=0, return_inverse=True)
        skill_of = skill_of.reshape(-1)
        # Which able volunteers offer each skill set (all of it).
        offers = ~(skill_rows[:, None, :] & ~instance.volunteer_skills[able][None, :, :]).any(axis=2)
        volunteer_slot = _unpack(instance.volunteer_slots[able])  # (able, bits)
        offered = np.flatnonzero(volunteer_slot.any(axis=0))  # slots nobody offers link nothing
        # The last column is "any slot": every volunteer has it, and a request without
        # slots (fits any, even a volunteer without slots) links to it alone.
        any_slot = instance.request_any_slot[:, None]
        volunteer_slot = np.hstack([volunteer_slot[:, offered], np.ones((len(able), 1), dtype=bool)])
        request_slot = np.hstack([_unpack(instance.request_slots)[:, offered] & ~any_slot, any_slot])
        n_bits = volunteer_slot.shape[1]
        # Hub (s, t) = s * n_bits + t; only hubs with a volunteer on their far side. Members
        # come out sorted by hub, then volunteer.
        hub_set, hub_slot, hub_member = np.nonzero(offers[:, None, :] & volunteer_slot.T[None, :, :])
        hub_key = hub_set * n_bits + hub_slot
        live_keys, hub_start = np.unique(hub_key, return_index=True)
        hub_end = np.append(hub_start[1:], len(hub_key))
        rows, bits = np.nonzero(request_slot)  # sorted by request
        request_hub = np.searchsorted(live_keys, skill_of[rows] * n_bits + bits)
        linked = request_hub < len(live_keys)
        linked[linked] = live_keys[request_hub[linked]] == (skill_of[rows] * n_bits + bits)[linked]
        rows, request_hub = rows[linked], request_hub[linked]

        # A hub holding a volunteer its request excludes would link an excluded pair: that
        # request's edge to the hub becomes direct edges to the hub's other members.
        x_request = instance.exclude_request
        x_volunteer = able_index[instance.exclude_volunteer]
        x_request, x_volunteer = x_request[x_volunteer >= 0], x_volunteer[x_volunteer >= 0]
        first_edge = np.searchsorted(rows, np.arange(n + 1))
        counts = first_edge[x_request + 1] - first_edge[x_request]
        edge = np.repeat(first_edge[x_request], counts) + _ranks_within(counts)
        x_volunteer_of_edge = np.repeat(x_volunteer, counts)
        hub = request_hub[edge]
        holds = offers[live_keys[hub] // n_bits, x_volunteer_of_edge]
        holds &= volunteer_slot[x_volunteer_of_edge, live_keys[hub] % n_bits]
        broken = np.unique(edge[holds])
        sizes = hub_end[request_hub[broken]] - hub_start[request_hub[broken]]
        direct_r = np.repeat(rows[broken], sizes)
        direct_v = able[hub_member[np.repeat(hub_start[request_hub[broken]], sizes) + _ranks_within(sizes)]]
        keys = np.unique(direct_r * max(m, 1) + direct_v)
        keys = keys[~np.isin(keys, instance.excluded_keys())]
        direct_r, direct_v = keys // max(m, 1), keys % max(m, 1)
        keep = np.ones(len(rows), dtype=bool)
        keep[broken] = False
        rows, request_hub = rows[keep], request_hub[keep]

        hub_base = n + 1
        volunteer_base = hub_base + len(live_keys)
        self.sink = volunteer_base + m
        self.n_nodes = self.sink + 1
        uncapped = n + 1  # a request sends at most 1, so n + 1 never binds
        self.tail = np.concatenate(
            [
                np.zeros(n, dtype=np.int64),  # source -> request
                1 + rows,  # request -> hub
                1 + direct_r,  # request -> volunteer
                hub_base + np.searchsorted(live_keys, hub_key),  # hub -> volunteer
                volunteer_base + able,  # volunteer -> sink
            ]
        )
        self.head = np.concatenate(
            [
                1 + np.arange(n),
                hub_base + request_hub,
                volunteer_base + direct_v,
                volunteer_base + able[hub_member],
                np.full(len(able), self.sink),
            ]
        )
        capacity = np.minimum(instance.volunteer_capacity[able], uncapped)
        self.capacity = np.concatenate(
            [
                np.ones(n, dtype=np.int64),
                np.full(len(rows) + len(direct_r) + len(hub_member), uncapped, dtype=np.int64),
                capacity,
            ]
        )
        self.flow = np.zeros(len(self.tail), dtype=np.int64)
        self.hub_base, self.volunteer_base = hub_base, volunteer_base
        self.n_hubs = len(live_keys)
        self.able = able

    @property
    def n_edges(self) -> int:
        return len(self.tail) - self.n - len(self.able)

    def residual(self, open_requests: np.ndarray) -> csr_array:
        """Residual capacities; source edges only to `open_requests` (bool per request),
        and none back to the source, so nobody served loses their place."""
        n = self.n
        forward = self.capacity - self.flow
        forward[:n] = np.where(open_requests, forward[:n], 0)
        backward = self.flow.copy()
        backward[:n] = 0
        tail = np.concatenate([self.tail, self.head])
        head = np.concatenate([self.head, self.tail])
        value = np.concatenate([forward, backward])
        keep = value > 0
        graph = csr_array(
            (value[keep].astype(np.int32), (tail[keep].astype(np.int32), head[keep].astype(np.int32))),
            shape=(self.n_nodes, self.n_nodes),
        )
        graph.sum_duplicates()
        return graph

    def augment(self, open_requests: np.ndarray) -> None:
        """A maximum flow in the residual network, added to the current flow."""
        graph = self.residual(open_requests)
        added = maximum_flow(graph, 0, self.sink).flow.tocoo()
        keys = added.row.astype(np.int64) * self.n_nodes + added.col
        order = np.argsort(keys)
        keys, values = keys[order], np.asarray(added.data, dtype=np.int64)[order]
        edge_keys = self.tail * self.n_nodes + self.head
        position = np.minimum(np.searchsorted(keys, edge_keys), max(len(keys) - 1, 0))
        found = keys[position] == edge_keys if len(keys) else np.zeros(len(edge_keys), dtype=bool)
        self.flow[found] += values[position[found]]

    def reachable_volunteers(self, open_requests: np.ndarray) -> np.ndarray:
        """Volunteers (indices) on the source's side of the minimum cut."""
        graph = self.residual(open_requests)
        nodes = breadth_first_order(graph, 0, directed=True, return_predecessors=False)
        nodes = nodes[(nodes >= self.volunteer_base) & (nodes < self.sink)]
        return nodes - self.volunteer_base

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(request, volunteer) of every unit of flow, each request once."""
        n, hub_base, volunteer_base = self.n, self.hub_base, self.volunteer_base
        used = self.flow > 0
        tail, head, flow = self.tail[used], self.head[used], self.flow[used]
        # Direct edges.
        direct = (tail >= 1) & (tail <= n) & (head >= volunteer_base)
        request = [tail[direct] - 1]
        volunteer = [head[direct] - volunteer_base]
        # Through hubs: the units coming in are paired with the units going out, per hub.
        into = (tail >= 1) & (tail <= n) & (head >= hub_base) & (head < volunteer_base)
        out = (tail >= hub_base) & (tail < volunteer_base)
        in_order = np.lexsort((tail[into], head[into]))
        in_request = np.repeat(tail[into][in_order] - 1, flow[into][in_order])
        out_order = np.lexsort((head[out], tail[out]))
        out_volunteer = np.repeat(head[out][out_order] - volunteer_base, flow[out][out_order])
        # Conservation: both lists are grouped by hub with the same count per hub.
        request.append(in_request)
        volunteer.append(out_volunteer)
        return np.concatenate(request), np.concatenate(volunteer)

    def least_price_per_request(self, price: np.ndarray) -> np.ndarray:
        """min P_v over each request's feasible volunteers (inf if none), via its hubs."""
        n, hub_base, volunteer_base = self.n, self.hub_base, self.volunteer_base
        large = np.iinfo(np.int64).max
        hub_min = np.full(self.n_hubs, large, dtype=np.int64)
        out = (self.tail >= hub_base) & (self.tail < volunteer_base)
        np.minimum.at(hub_min, self.tail[out] - hub_base, price[self.head[out] - volunteer_base])
        least = np.full(n, large, dtype=np.int64)
        into = (self.tail >= 1) & (self.tail <= n) & (self.head >= hub_base) & (self.head < volunteer_base)
        np.minimum.at(least, self.tail[into] - 1, hub_min[self.head[into] - hub_base])
        direct = (self.tail >= 1) & (self.tail <= n) & (self.head >= volunteer_base) & (self.head < self.sink)
        np.minimum.at(least, self.tail[direct] - 1, price[self.head[direct] - volunteer_base])
        return least


def solve_one_point(
    instance: Instance,
    scale: Scale,
    reasons: Callable[[Instance, np.ndarray, np.ndarray, np.ndarray], list[str]],
    progress: Callable[[str, float], None] | None = None,
) -> Result:
    """The optimal assignment of an instance where `applies` holds, with exact duals;
    `progress(stage, fraction)` as in `solve`."""

    def report(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(stage, fraction)

    started = time.perf_counter()
    n, m = instance.n_requests, instance.n_volunteers
    report("candidates", 0.0)
    network = _Network(instance)
    report("candidates", 1.0)
    report("solve", 0.0)
    ranks = scale.ranks
    # One rank's benefit: every feasible pair of rank k is worth k * delta (cost 0).
    delta = scale.multiplier * scale.big
    in_cut = np.zeros(m, dtype=np.int64)
    for rank in range(int(ranks.max()), 0, -1):
        network.augment(ranks == rank)
        in_cut[network.reachable_volunteers(ranks >= rank)] += 1
    price = in_cut * delta
    report("certify", 0.0)

    request, volunteer = network.pairs()
    order = np.lexsort((volunteer, request))
    request, volunteer = request[order], volunteer[order]
    km = indexed_pair_km(instance.request_xyz, request, instance.volunteer_xyz, volunteer)
    benefit = scale.benefit(request, volunteer, km)

    # The certificate, exactly: pi_r = max(0, max over feasible v of benefit - P_v), found
    # through the hubs (benefit is rank_r x delta on every feasible pair).
    least = network.least_price_per_request(price)
    reachable = least < np.iinfo(np.int64).max
    pi = np.zeros(n, dtype=np.int64)
    pi[reachable] = np.maximum(ranks[reachable] * delta - least[reachable], 0)
    capacity = instance.volunteer_capacity
    dual = sum(int(x) for x in pi[pi > 0]) + sum(
        int(capacity[v]) * int(price[v]) for v in np.flatnonzero(price > 0).tolist()
    )
    primal = sum(int(x) for x in benefit.tolist())
    gap = dual - primal
    load = np.bincount(volunteer, minlength=m)
    feasible_answer = bool((load <= capacity).all() and len(np.unique(request)) == len(request))
    exact = feasible_answer and gap < scale.multiplier
    resolution = 1.0 / scale.per_km

    report("reasons", 0.0)
    got = np.bincount(request, minlength=n)
    needs_given = instance.request_needs_given
    short = got < instance.request_needs
    # needs is capped at the number of volunteers; the places left count the needs as given.
    for r in np.flatnonzero(instance.request_needs >= m).tolist():
        short[r] = needs_given[r] > got[r]
    short = np.flatnonzero(short)
    # Unserved with a feasible volunteer: that one is full (capacity). Otherwise the chain
    # (also for a request served but with needs beyond the number of volunteers: its
    # reason looks only at volunteers not already assigned to it).
    reason = np.array(["capacity"] * len(short), dtype=object)
    lonely = ~reachable[short] | (got[short] > 0)
    if lonely.any():
        own_keys = np.sort(request * max(m, 1) + volunteer)
        reason[lonely] = reasons(instance, short[lonely], instance.excluded_keys(), own_keys)

    certificate: dict[str, Any] = {
        "method": "lp-duals",
        "optimal": bool(exact),
        "priority_optimal": bool(exact),
        "detail": (
            "everyone at one point, every feasible pair costs 0: maximum flows through "
            "skill-and-slot hubs, highest priority first (the served requests form a matroid); "
            "volunteer prices from the minimum cuts of each level; benefit - price <= pi on every "
            "feasible pair and the duality gap is exactly 0"
        ),
        "rounds": int(ranks.max()),
        "candidate_edges": network.n_edges,
        "gadget_pairs": 0,
        "widened_requests": 0,
        "uncertified_requests": 0,
        "price_checked_requests": n,
        "min_pruned_margin": None,
        "duality_gap_units": gap / scale.multiplier,
        "km_resolution": resolution,
        "cold_solve": "max-flow (one point)",
        "auction_phases": 0,
        "auction_rounds": 0,
        "cost_bound_km": 0.0,
    }
    request_ids, volunteer_ids = instance.request_ids, instance.volunteer_ids
    result = Result(
        assignments=[
            Assignment(request_ids[r], volunteer_ids[v], float(k))
            for r, v, k in zip(request.tolist(), volunteer.tolist(), km.tolist(), strict=True)
        ],
        unassigned=[
            Unassigned(request_ids[r], str(text), needs_given[r] - int(got[r]))
            for r, text in zip(short.tolist(), reason, strict=True)
        ],
        matched=len(request),
        total_priority=int(sum(int(p) for p in instance.request_priority[request])) if len(request) else 0,
        total_km=float(km.sum()),
        total_cost=float(scale.cost_km(request, volunteer, km).sum()),
        certificate=certificate,
        volunteer_duals=price,
        scale=scale,
    )
    certificate["seconds"] = round(time.perf_counter() - started, 4)
    report("done", 1.0)
    return result
