"""Exact solve of a small candidate graph with SciPy's sparse LAPJV, and its LP duals.

For small and medium graphs one call of `scipy.sparse.csgraph.min_weight_full_bipartite_matching`
(LAPJVsp, compiled) beats thousands of vectorised auction rounds; it scales badly on large
graphs (25 s at 100k x 100k against ~3 s for the auction), so the solver only uses it
below a size limit. LAPJVsp returns no duals, so `least_duals` derives them afterwards,
exactly in integers: the smallest volunteer prices P >= 0 with b(r, v) - P_v <= pi_r on
every edge, pi_r = b(r, v_r) - P_{v_r} >= 0 for assigned r, pi_r = 0 for unassigned r,
and P_v = 0 where v has spare capacity. They exist iff the matching is optimal, so a
matching that float rounding made suboptimal is detected (None), never certified.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import (
    dijkstra,
    maximum_bipartite_matching,
    min_weight_full_bipartite_matching,
)

from matching.engine.auction import segment_indices

# float64 holds integers exactly below 2**53; costs must stay there for an exact optimum.
_FLOAT_EXACT = 2**52
# Hops allowed on top of the reduced-cost budget of `region_resolve` (each edge counts 1).
_REGION_HOPS = 1000
# Propagation passes before `least_duals` gives up (a chain longer than this is unusual).
_MAX_PASSES = 100_000


def lap_matching(
    n_persons: int,
    capacity: np.ndarray,
    edge_person: np.ndarray,
    edge_volunteer: np.ndarray,
    benefit: np.ndarray,
) -> np.ndarray | None:
    """Maximum-benefit assignment on the graph: per person its edge index, or -1.

    Edges are sorted by (person, volunteer) without repeats; `benefit` is int64 and
    positive. Volunteers become min(capacity, degree) copies, and LAPJVsp needs a matching
    that covers every row (below). Returns None when the costs are too large for exact
    float64 arithmetic.
    """
    person_edge = np.full(n_persons, -1, dtype=np.int64)
    if len(benefit) == 0:
        return person_edge
    top = int(benefit.max()) + 1
    if top >= _FLOAT_EXACT:
        return None
    m = len(capacity)
    copies = np.minimum(capacity, np.bincount(edge_volunteer, minlength=m))
    copy_start = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(copies, out=copy_start[1:])
    n_copies = int(copy_start[-1])
    repeats = copies[edge_volunteer]
    edge_of_entry = np.repeat(np.arange(len(benefit)), repeats)
    first_entry = np.cumsum(repeats) - repeats
    copy = copy_start[edge_volunteer[edge_of_entry]] + (
        np.arange(len(edge_of_entry)) - first_entry[edge_of_entry]
    )
    costs = (top - benefit[edge_of_entry]).astype(np.float64)  # >= 1: LAPJVsp drops zeros
    rows = edge_person[edge_of_entry]
    # If every person with an edge can be served at once (Hopcroft-Karp), the optimum does
    # serve them all: each served request is worth a priority rank, more than any km total.
    # Then the persons without edges are left out and no "unassigned" columns are needed.
    with_edges = np.flatnonzero(np.bincount(edge_person, minlength=n_persons))
    row_of = np.full(n_persons, -1, dtype=np.int64)
    row_of[with_edges] = np.arange(len(with_edges))
    graph = csr_matrix((costs, (row_of[rows], copy)), shape=(len(with_edges), n_copies))
    if (maximum_bipartite_matching(graph, perm_type="column") >= 0).sum() == len(with_edges):
        row, column = min_weight_full_bipartite_matching(graph)
        row = with_edges[row]
    else:
        # Otherwise each person gets its own "unassigned" column at cost top: every person
        # is matched once, so the constant top changes nothing.
        rows = np.concatenate([rows, np.arange(n_persons)])
        columns = np.concatenate([copy, n_copies + np.arange(n_persons)])
        costs = np.concatenate([costs, np.full(n_persons, float(top))])
        graph = csr_matrix((costs, (rows, columns)), shape=(n_persons, n_copies + n_persons))
        row, column = min_weight_full_bipartite_matching(graph)
    real = column < n_copies
    person = row[real]
    owner = np.repeat(np.arange(m), copies)[column[real]]
    keys = edge_person * max(m, 1) + edge_volunteer
    person_edge[person] = np.searchsorted(keys, person * max(m, 1) + owner)
    return person_edge


def least_duals(
    n_persons: int,
    capacity: np.ndarray,
    edge_person: np.ndarray,
    edge_volunteer: np.ndarray,
    benefit: np.ndarray,
    person_edge: np.ndarray,
) -> np.ndarray | None:
    """The smallest dual prices P >= 0 proving `person_edge` optimal, or None if it is not.

    Monotone propagation from P = 0: P_v = max(0, max over v's edges of b(r, v) - pi_r),
    pi_r = b(r, v_r) - P_{v_r} for assigned r and 0 otherwise, only along the edges of
    persons whose pi changed. Prices only grow, so they stay below any feasible dual; a
    price above an upper bound (spare capacity, pi_r < 0) proves that no feasible dual
    exists, i.e. that the matching is not optimal.
    """
    m = len(capacity)
    degree = np.bincount(edge_person, minlength=n_persons)
    indptr = np.zeros(n_persons + 1, dtype=np.int64)
    np.cumsum(degree, out=indptr[1:])
    assigned = np.flatnonzero(person_edge >= 0)
    holder_volunteer = edge_volunteer[person_edge[assigned]]
    load = np.bincount(holder_volunteer, minlength=m)
    spare = load < capacity
    # Holders of each volunteer, grouped, to find whose pi moves when a price moves.
    by_volunteer = np.argsort(holder_volunteer, kind="stable")
    holders = assigned[by_volunteer]
    holder_ptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(load, out=holder_ptr[1:])
    held_benefit = np.zeros(n_persons, dtype=np.int64)
    held_benefit[assigned] = benefit[person_edge[assigned]]

    price = np.zeros(m, dtype=np.int64)
    pi = held_benefit.copy()  # pi_r with every price at 0
    persons = np.flatnonzero(degree > 0)  # whose edges must be (re)examined
    for _ in range(_MAX_PASSES):
        if len(persons) == 0:
            break
        index, _ = segment_indices(indptr[persons], degree[persons])
        volunteer = edge_volunteer[index]
        wanted = benefit[index] - np.repeat(pi[persons], degree[persons])
        raised = wanted > price[volunteer]
        if not raised.any():
            break
        volunteer, wanted = volunteer[raised], wanted[raised]
        np.maximum.at(price, volunteer, wanted)
        moved = np.unique(volunteer)
        if spare[moved].any():
            return None
        # Persons holding a moved volunteer: their pi drops, their other edges may raise prices.
        index, _ = segment_indices(holder_ptr[moved], load[moved])
        persons = holders[index]
        pi[persons] = held_benefit[persons] - price[edge_volunteer[person_edge[persons]]]
        if (pi[persons] < 0).any():
            return None
    else:
        return None
    return price


def region_resolve(
    capacity: np.ndarray,
    edge_person: np.ndarray,
    edge_volunteer: np.ndarray,
    benefit: np.ndarray,
    person_edge: np.ndarray,
    price: np.ndarray,
    movers: np.ndarray,
) -> np.ndarray | None:
    """A new optimum after a few persons (`movers`) gained edges: re-solve only near them.

    `person_edge` and `price` are an optimum and its exact duals before the new edges, so
    every old edge has reduced cost pi_r + P_v - b >= 0 and only the new ones are negative.
    An improving change gains at most the sum of the movers' most negative reduced costs,
    and every old edge it uses costs part of that gain; so it stays within that reduced-cost
    distance of the movers (Dijkstra, each edge +1 so that 0-cost edges count). LAPJVsp
    re-solves that region, with the room its volunteers have beside the persons outside;
    the rest is kept. A guess, not a proof: the caller checks it with `least_duals` on the
    whole graph. None if the region is most of the graph (a full re-solve costs the same).
    """
    n, m = len(person_edge), len(capacity)
    assigned = np.flatnonzero(person_edge >= 0)
    pi = np.zeros(n, dtype=np.int64)
    pi[assigned] = benefit[person_edge[assigned]] - price[edge_volunteer[person_edge[assigned]]]
    reduced = pi[edge_person] + price[edge_volunteer] - benefit
    worst = np.zeros(n, dtype=np.int64)
    np.minimum.at(worst, edge_person, reduced)
    budget = -int(worst[movers].sum())
    weight = np.maximum(reduced, 0).astype(np.float64) + 1.0
    graph = csr_matrix((weight, (edge_person, n + edge_volunteer)), shape=(n + m, n + m))
    distance = dijkstra(graph, directed=False, indices=movers, min_only=True, limit=budget + _REGION_HOPS)
    inside = np.isfinite(distance)
    persons = np.flatnonzero(inside[:n])
    if len(persons) * 2 > n:
        return None
    edges = np.flatnonzero(inside[edge_person] & inside[n + edge_volunteer])
    # Persons outside keep their volunteers; the region gets what room is left.
    outside = assigned[~inside[assigned]]
    room = capacity - np.bincount(edge_volunteer[person_edge[outside]], minlength=m)
    row_of = np.full(n, -1, dtype=np.int64)
    row_of[persons] = np.arange(len(persons))
    local = lap_matching(
        len(persons), room, row_of[edge_person[edges]], edge_volunteer[edges], benefit[edges]
    )
    if local is None:
        return None
    result = person_edge.copy()
    result[persons] = np.where(local >= 0, edges[np.maximum(local, 0)], -1)
    return result
