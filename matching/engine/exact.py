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
from scipy.sparse.csgraph import dijkstra, min_weight_full_bipartite_matching

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
    that covers every row (the "unassigned" columns below). Returns None when the costs
    are too large for exact float64 arithmetic.
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
    # Each person also gets its own "unassigned" column at cost top, so a full matching
    # always exists (every person is matched once: the constant top changes nothing).
    # No shortcut without them: SciPy's Hopcroft-Karp (maximum_bipartite_matching, and
    # the feasibility check inside min_weight_full_bipartite_matching) can take
    # exponential time when the graph has no full matching (its depth-first search never
    # marks dead ends, scipy issue 26147): 415 s for 5000 requests x 4998 volunteer copies.
    # With a free column of its own, every person is matched in its first phase.
    rows = np.concatenate([edge_person[edge_of_entry], np.arange(n_persons)])
    columns = np.concatenate([copy, n_copies + np.arange(n_persons)])
    costs = np.concatenate([costs, np.full(n_persons, float(top))])
    row, column = _full_matching(rows, columns, costs, n_persons, n_copies + n_persons)
    real = column < n_copies
    person = row[real]
    owner = np.repeat(np.arange(m), copies)[column[real]]
    keys = edge_person * max(m, 1) + edge_volunteer
    person_edge[person] = np.searchsorted(keys, person * max(m, 1) + owner)
    return person_edge


def _full_matching(
    rows: np.ndarray, columns: np.ndarray, costs: np.ndarray, n_rows: int, n_columns: int
) -> tuple[np.ndarray, np.ndarray]:
    """`min_weight_full_bipartite_matching` of the (rows x columns) cost entries, every row
    having an entry and a full matching existing.

    Two guards against LAPJVsp running (practically) forever:
    * every row's costs are shifted so that its cheapest is 1: a full matching uses each
      row once, so the optimum is the same, and the costs shrink from priority ranks times
      BIG to a row's km spread;
    * one column more than needed, with no entries: with as many rows as columns LAPJVsp
      runs Jonker-Volgenant's augmenting row reduction, which is only pseudo-polynomial (two
      rows of different priority ranks trading a column in steps of their tiny km gaps:
      20 requests x 20 volunteers with distinct priorities ran for minutes); with more
      columns it goes straight to shortest augmenting paths.
    """
    lowest = np.full(n_rows, np.inf)
    np.minimum.at(lowest, rows, costs)
    costs = costs - lowest[rows] + 1.0  # exact: integers below 2**52; >= 1, LAPJVsp drops zeros
    graph = csr_matrix((costs, (rows, columns)), shape=(n_rows, n_columns + 1))
    return min_weight_full_bipartite_matching(graph)


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


def reduced_resolve(
    n_persons: int,
    capacity: np.ndarray,
    edge_person: np.ndarray,
    edge_volunteer: np.ndarray,
    benefit: np.ndarray,
    price: np.ndarray,
) -> np.ndarray | None:
    """A new optimum guessed by LAPJVsp on the profits b(r, v) - P_v under the old prices.

    Under the previous optimum's exact duals every old edge has profit <= pi_r and the
    assigned ones equal it, so that optimum is still optimal for the profits and LAPJVsp
    finds its tight edges at once (~4x faster than on the benefits at 5k x 5k with the
    version 2 mix). The profits' optimum is the benefits' optimum when the same volunteers
    with a positive price stay full (the objectives then differ by a constant); otherwise
    it is not, so this is only a guess: the caller proves it with `least_duals` or drops it.
    None when the costs do not fit float64.
    """
    return lap_matching(n_persons, capacity, edge_person, edge_volunteer, benefit - price[edge_volunteer])


def augment_resolve(
    capacity: np.ndarray,
    edge_person: np.ndarray,
    edge_volunteer: np.ndarray,
    benefit: np.ndarray,
    person_edge: np.ndarray,
    price: np.ndarray,
    movers: np.ndarray,
) -> np.ndarray | None:
    """The previous optimum repaired by one shortest augmenting path per mover (Hungarian
    steps), under the previous optimum's exact duals `price`.

    As a min-cost flow (person -> volunteer costs -b, volunteer -> sink up to its capacity,
    person -> sink for "unassigned"), potentials -pi_r, P_v and 0 at the sink give every
    residual edge a reduced cost >= 0 except the movers' new edges. A mover leaves its
    volunteer (which is then short of one unit) with pi_r raised to its best profit, so its
    edges are fine too; a Dijkstra from it to the volunteer it left (or to the sink if it
    had none) finds the cheapest way to re-route its unit, and the usual potential update
    keeps every reduced cost >= 0. After the last mover that is an optimum of the whole
    graph. Few movers cost a few Dijkstras where a full LAPJVsp re-solve of a scarce graph
    costs a second or more. The caller still proves the result with `least_duals`. None
    if the state is not what this assumes (a negative reduced cost) or costs leave float64.
    """
    n, m = len(person_edge), len(capacity)
    sink = n + m
    person_edge = person_edge.copy()
    price = price.astype(np.int64).copy()
    if len(benefit) and int(benefit.max()) >= _FLOAT_EXACT:
        return None
    keys = edge_person * max(m, 1) + edge_volunteer
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(edge_person, minlength=n), out=starts[1:])
    profit = benefit - price[edge_volunteer]
    pi = np.zeros(n, dtype=np.int64)
    np.maximum.at(pi, edge_person, profit)
    # Movers not reached yet stay out of the graph (their new edges would be negative); each
    # joins, with all its edges, when its turn comes.
    waiting = np.zeros(n, dtype=bool)
    waiting[movers] = True
    for mover in np.unique(movers).tolist():
        waiting[mover] = False
        left = int(person_edge[mover])
        load = np.bincount(edge_volunteer[person_edge[person_edge >= 0]], minlength=m)
        through = load.copy()  # units each volunteer passes to the sink, before this step
        target = sink
        if left >= 0:
            target = n + int(edge_volunteer[left])
            person_edge[mover] = -1
        own = slice(starts[mover], starts[mover + 1])
        pi[mover] = max(0, int((benefit[own] - price[edge_volunteer[own]]).max(initial=0)))
        matched = np.zeros(len(benefit), dtype=bool)
        assigned = np.flatnonzero(person_edge >= 0)
        matched[person_edge[assigned]] = True
        reduced = pi[edge_person] + price[edge_volunteer] - benefit  # person -> volunteer
        active = ~waiting[edge_person]
        free = ~matched & active
        matched &= active
        leaving = np.flatnonzero(((person_edge >= 0) | (np.arange(n) == mover)) & ~waiting)
        staying_out = np.flatnonzero((person_edge < 0) & (np.arange(n) != mover) & ~waiting)
        spare = np.flatnonzero(through < capacity)
        used = np.flatnonzero(through > 0)
        tails = np.concatenate(
            [edge_person[free], n + edge_volunteer[matched], leaving, np.full(len(staying_out), sink),
             n + spare, np.full(len(used), sink)]
        )  # fmt: skip
        heads = np.concatenate(
            [n + edge_volunteer[free], edge_person[matched], np.full(len(leaving), sink), staying_out,
             np.full(len(spare), sink), n + used]
        )  # fmt: skip
        weights = np.concatenate(
            [reduced[free], -reduced[matched], pi[leaving], -pi[staying_out], -price[spare], price[used]]
        )
        if len(weights) and int(weights.min()) < 0:
            return None
        graph = csr_matrix((weights.astype(np.float64), (tails, heads)), shape=(n + m + 1, n + m + 1))
        distance, predecessor = dijkstra(graph, directed=True, indices=mover, return_predecessors=True)
        if not np.isfinite(distance[target]):
            return None
        # Re-route along the path: each person on it takes its next hop's volunteer, or none.
        node = target
        while node != mover:
            before = int(predecessor[node])
            if before < n:
                if node == sink:
                    person_edge[before] = -1
                else:
                    person_edge[before] = int(np.searchsorted(keys, before * max(m, 1) + node - n))
            node = before
        reach = np.minimum(distance, distance[target])
        shift = reach[sink]
        pi = np.maximum(pi + (reach[:n] - shift).astype(np.int64), 0)
        price = np.maximum(price - (reach[n:sink] - shift).astype(np.int64), 0)
    return person_edge
