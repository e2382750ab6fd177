"""`solve`: candidate graph, exact solve, certificate and widening, result.

`solve` runs four steps (docs/engine.md has the argument in full):
1. `build_candidates`: per request, the nearest feasible volunteers (k-d tree per skill),
   plus every feasible preferred pair, and a km bound on the pairs not looked at;
2. `PlaceGraph` + `solve_graph`: the assignment of places (a request with `needs` k is k
   persons) to volunteer slots on that graph, exactly (sparse LAPJV or auction, integer
   benefits); a pair of a request with several places and a volunteer with several slots
   goes through a one-slot gadget so that one volunteer fills at most one place;
3. `certify_and_widen`: with the volunteer prices P_v >= 0 as LP duals, every request r
   gets pi_r = max(0, max over its candidates of benefit - price); a pruned pair is at least
   `bound_km[r]` away, so its benefit is at most B_r; if pi_r >= B_r no pruned pair has a
   positive reduced cost. For the requests where that fails, the price-aware check
   (`CandidateSearch.violations`) finds exactly the feasible pairs with
   benefit - P_v > pi_r; those join the graph and step 2 runs again (warm). None left: the
   duals are feasible on every pair and the duality gap is below one unit, so the
   assignment is optimal for the integer objective;
4. `build_result`: pairs, places left and reasons, totals, certificate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from matching.engine.auction import Auction
from matching.engine.candidates import (
    CandidateSearch,
    feasible_pairs,
    in_range,
    is_excluded,
    skills_ok,
    slots_ok,
)
from matching.engine.exact import augment_resolve, lap_matching, least_duals, reduced_resolve, region_resolve
from matching.engine.geometry import EARTH_RADIUS_KM, indexed_pair_km, km_to_chord, pair_km
from matching.engine.instance import Instance
from matching.engine.one_point import applies as one_point_applies
from matching.engine.one_point import solve_one_point
from matching.engine.result import Assignment, Result, Scale, Unassigned

Progress = Callable[[str, float], None]

# Neighbours of a request's skill group looked at first, and the feasible pairs wanted
# before the search stops widening for lack of candidates. Widening multiplies by 4.
FIRST_NEIGHBOURS = 24
# With extra_km differing between volunteers and a graph for the auction, prices make
# requests reach past their 24 nearest (see docs/engine.md, "which version 2 field
# costs"), so the first search looks further. Solve CPU s, v2 mix, 24 / 48 / 64 / 96:
# 10k x 10k 25.7 / 18.5-19.9 / 17.3 / 20.4, 20k x 20k 62.4 / 51.4 / 47.2 / -. Not for
# LAPJVsp's graphs: v2 5k x 5k 7.2-8.2 (24) against 9.9-10.4 s (48). Memory grows with
# the graph: v2 100k x 100k took 1,139 MB with 64 (the contract's limit is 1 GB) and 784 MB
# with 24, so requests x neighbours stays within a budget (24 at 100k, 64 up to 31k).
VARYING_EXTRA_NEIGHBOURS = 64
VARYING_EXTRA_SEARCH_BUDGET = 2_000_000
WANTED_FEASIBLE = 6
WIDEN_FACTOR = 4
# A request whose unseen volunteers may be this close (km) is searched further, up to this
# many neighbours (shared coordinates; see build_candidates).
TIED_KM = 0.0
TIED_NEIGHBOURS = 96
# Improving pairs added per request and widening round (ties at shared coordinates make
# thousands equally improving; the next round finds more if they are still needed).
WIDEN_LIMIT = 16
# Epsilon shrinks by this factor per scaling phase.
EPS_FACTOR = 8
# "auto" solves the candidate graph with sparse LAPJV (exact.py) while persons x (volunteer
# copies + persons) stays below this, else with the auction. LAPJVsp's cost grows fast and
# is worst with over-demand. CPU s of whole solves, LAPJV vs auction: 5k x 5k 0.12 vs 0.26,
# crisis 4k x 1k 0.33 vs 1.06 (both below the limit); above it: 10k x 10k 0.28 vs 0.42,
# but crisis 10k x 2.5k 1.6 vs 1.3, crisis 20k x 5k 6.8 vs 2.3, 20k x 20k 1.5 vs 0.8; the
# LAPJV call alone at 100k x 100k takes ~25 s.
LAP_LIMIT = 1.5e8
# The limit when extra_km differs between volunteers (version 2's fairness surcharge):
# cheap volunteers are then scarce, volunteer prices rise to about the surcharges, and the
# auction needs tens of thousands of rounds. CPU s of whole solves, LAPJV vs auction, the
# generator's v2 mix (load average ~5): 5k x 5k (1.6e8) 5.4 vs 18, 10k x 10k (6.9e8) 24
# vs 28. Not with more places than volunteer slots (LAPJV's worst case): crisis 10k x 2.5k
# (4.6e8) 8.1 vs 6.3, crisis 20k x 5k 34 vs 13.
LAP_LIMIT_VARYING_EXTRA = 4e8
# After widening, a LAPJV re-solve on the profits under the old prices (exact.reduced_resolve)
# is tried first when at most this many persons gained edges and extra_km differs (it is a
# guess: few movers rarely change which volunteers are full; many do, and then it only
# costs time).
REDUCED_RESOLVE_MOVERS = 32
# Up to this many movers, a failed region re-solve is followed by one shortest augmenting
# path per mover under the old exact duals (exact.augment_resolve), each a Dijkstra.
AUGMENT_MOVERS = 64
# Benefits (and a gadget's M more) stay below 2**60: a bid is at most benefit + eps and a
# price at most a bid, far from the INF sentinel 2**62.
_BENEFIT_LIMIT = 2**60
_PREFERRED_PER_KM = 1e7  # 1e-7 km units when they fit
_FLOAT_EXACT = 2**52  # LAPJVsp's costs: integers exact in float64
# The contract compares total cost with a tolerance of this many km per assigned pair.
CONTRACT_TOLERANCE_KM = 1e-6


def _reach_km(instance: Instance, able: np.ndarray) -> np.ndarray:
    """Per able volunteer, an upper bound on the km of its feasible pairs.

    Each volunteer reaches at most its max_km, and no farther than the farthest request:
    with c the normalised centroid of the requests and rho the largest angle from c to a
    request, a volunteer at angle a from c is within a + rho of every request. So a single
    volunteer willing to travel the whole globe does not coarsen the units of a city
    instance. 1 km of slack on top.
    """
    max_km = instance.volunteer_max_km[able]
    centre = instance.request_xyz.sum(axis=0)
    length = float(np.linalg.norm(centre))
    if length > 1e-6 and instance.n_requests:
        centre = centre / length
        rho = float(np.arccos(np.clip(instance.request_xyz @ centre, -1.0, 1.0)).max())
        angle = np.arccos(np.clip(instance.volunteer_xyz[able] @ centre, -1.0, 1.0))
        # + 1e-6 rad: slack for arccos near 0 (~1e-8 rad of rounding).
        max_km = np.minimum(max_km, EARTH_RADIUS_KM * (angle + rho + 1e-6))
    return np.minimum(max_km, math.pi * EARTH_RADIUS_KM) + 1.0


def places_of(instance: Instance) -> int:
    return int(instance.request_needs.sum())


def make_scale(instance: Instance) -> Scale:
    """Integer benefits that order assignments by (total priority, -total cost) exactly.

    Priorities are replaced by their dense rank: the sets of places that can be filled
    together form a matroid, so which sets have the largest total priority depends only on
    the order of the priorities, not on their values. That keeps the integers small
    whatever the priorities are; all those sets have the same number of pairs, so a
    constant shift of every cost (or a negative cost) never changes which pairs are taken.

    big must exceed any difference of two totals of rounded costs: each volunteer takes
    at most min(capacity, places) pairs, each costing at most reach + extra_km, and each
    preferred pair can save at most the bonus; or, cruder, every pair costs at most the
    largest of those. M exceeds the number of persons of the place graph (places, plus a
    gadget person per gadget pair; M allows as many gadgets as places).
    """
    n, m = instance.n_requests, instance.n_volunteers
    distinct, ranks = np.unique(instance.request_priority, return_inverse=True)
    ranks = np.asarray(ranks, dtype=np.int64).reshape(-1) + 1
    top_rank = max(len(distinct), 1)
    places = places_of(instance)
    multiplier = (2 * places + 2) if (instance.request_needs > 1).any() else places + 1
    able = np.flatnonzero(instance.volunteer_capacity > 0)
    bonus = float(instance.continuity_bonus_km)
    if len(able) and n:
        takes = np.minimum(instance.volunteer_capacity[able], places).astype(np.float64)
        worst = _reach_km(instance, able) + instance.volunteer_extra_km[able]
        preferred = np.isin(instance.preferred_volunteer, able).sum() if bonus > 0 else 0
        per_volunteer = (float(takes @ worst) + preferred * bonus, float(takes.sum()) + preferred + 2)
        served = float(min(places, takes.sum()))
        crude = (served * (float(worst.max()) + bonus), served + 2)
    else:
        per_volunteer = crude = (1.0, 2.0)

    def fit(multiplier: int, limit: int) -> tuple[float, int]:
        # big = slope * S + constant (+ 1) <= big_max, with M * (top_rank * big + 1) <= limit.
        big_max = (limit // multiplier - 1) // top_rank - 1
        per_km = max((big_max - c) / max(a, 1e-300) for a, c in (per_volunteer, crude))
        per_km = max(min(_PREFERRED_PER_KM, per_km), 1e-9)
        big = min(math.ceil(a * per_km) + math.ceil(c) for a, c in (per_volunteer, crude)) + 1
        return per_km, big

    per_km, big = fit(multiplier, _BENEFIT_LIMIT)
    lap_only = False
    if 1.0 / per_km > CONTRACT_TOLERANCE_KM:
        # Many distinct priorities: rank x big x M no longer fits int64 at the contract's
        # precision. LAPJVsp needs no M (its duals are exact integers), only float64's
        # exact integers: finer units when that gives more room. The graph is then solved
        # by LAPJVsp only (`Scale.multiplier == 1`).
        lap_per_km, lap_big = fit(1, _FLOAT_EXACT)
        if lap_per_km > per_km:
            per_km, big, multiplier, lap_only = lap_per_km, lap_big, 1, True
    return Scale(
        per_km=per_km,
        big=big,
        multiplier=multiplier,
        ranks=ranks,
        extra_km=instance.volunteer_extra_km,
        bonus_km=bonus,
        preferred_keys=instance.preferred_keys(),
        n_volunteers=m,
        lap_only=lap_only,
    )


def _report(progress: Progress | None, stage: str, fraction: float) -> None:
    if progress is not None:
        progress(stage, fraction)


# ---------------------------------------------------------------- step 1: candidates
@dataclass
class CandidateGraph:
    """Feasible pairs found so far, sorted by (request, volunteer) without repeats, and per
    request a km bound on the pairs not looked at (inf: none left unseen)."""

    n_volunteers: int
    request: np.ndarray
    volunteer: np.ndarray
    km: np.ndarray
    bound_km: np.ndarray

    def keys(self) -> np.ndarray:
        return self.request * max(self.n_volunteers, 1) + self.volunteer

    def add(self, request: np.ndarray, volunteer: np.ndarray, km: np.ndarray) -> np.ndarray:
        """Merge pairs in (repeats dropped); returns the requests that gained a pair."""
        old = self.keys()
        keys = request * max(self.n_volunteers, 1) + volunteer
        keys, first = np.unique(keys, return_index=True)
        fresh = ~_contains(old, keys)
        first = first[fresh]
        if len(first) == 0:
            return np.zeros(0, dtype=np.int64)
        self.request = np.concatenate([self.request, request[first]])
        self.volunteer = np.concatenate([self.volunteer, volunteer[first]])
        self.km = np.concatenate([self.km, km[first]])
        order = np.argsort(self.keys(), kind="stable")
        self.request, self.volunteer, self.km = self.request[order], self.volunteer[order], self.km[order]
        return np.unique(request[first])


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """keys in sorted_keys (a sorted array), by binary search."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    position = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[position] == keys


def _preferred_pairs(
    instance: Instance, search: CandidateSearch
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every feasible preferred pair with an able volunteer (their cost can be below their
    km, so the km bound of the search does not cover them: they are always in the graph)."""
    request, volunteer = instance.preferred_request, instance.preferred_volunteer
    able = instance.volunteer_capacity[volunteer] > 0
    request, volunteer = request[able], volunteer[able]
    km = indexed_pair_km(instance.request_xyz, request, instance.volunteer_xyz, volunteer)
    keep, km = feasible_pairs(instance, request, volunteer, km, search.excluded_keys)
    return request[keep], volunteer[keep], km[keep]


def build_candidates(instance: Instance, search: CandidateSearch, first_neighbours: int) -> CandidateGraph:
    """Step 1: the k nearest feasible volunteers per request (more for requests with few),
    plus the feasible preferred pairs."""
    n = instance.n_requests
    seen = np.zeros(n, dtype=np.int64)
    bound_km = np.full(n, np.inf)
    group_size = search.group_size(np.arange(n))
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    feasible_count = np.zeros(n, dtype=np.int64)

    def extend(requests: np.ndarray, upto: np.ndarray) -> None:
        upto = np.minimum(upto, group_size[requests])
        go = upto > seen[requests]
        requests, upto = requests[go], upto[go]
        if len(requests) == 0:
            return
        # Always from the first neighbour: k-d tree order among equal distances may differ
        # between queries, so "neighbours k+1.." of a new query could repeat old ones and
        # skip others. Old pairs are kept (the union below), so the graph only grows.
        found = search.search(requests, np.zeros(len(requests), dtype=np.int64), upto)
        seen[requests] = upto
        bound_km[requests] = found.bound_km
        parts.append((found.request, found.volunteer, found.km))
        feasible_count[requests] = np.bincount(found.request, minlength=n)[requests]

    # Look further for requests with too few feasible pairs, unless nothing is left unseen,
    # and (up to TIED_NEIGHBOURS) for requests whose search has not left their own point:
    # with shared coordinates (geocoding to a postcode) a bound of 0 km certifies nothing,
    # and dozens of requests on one point would fight over the same few neighbours.
    wanted = np.maximum(WANTED_FEASIBLE, instance.request_needs + WANTED_FEASIBLE - 1)
    todo = np.arange(n)
    target = np.full(n, first_neighbours, dtype=np.int64)
    while len(todo):
        extend(todo, target[todo])
        few = feasible_count[todo] < wanted[todo]
        tied = (bound_km[todo] <= TIED_KM) & (seen[todo] < TIED_NEIGHBOURS)
        todo = todo[(few | tied) & np.isfinite(bound_km[todo])]
        target[todo] = seen[todo] * WIDEN_FACTOR
    parts.append(_preferred_pairs(instance, search))
    empty = np.zeros(0, dtype=np.int64)
    graph = CandidateGraph(instance.n_volunteers, empty, empty, np.zeros(0), bound_km)
    graph.add(*(np.concatenate([part[i] for part in parts]) for i in range(3)))
    return graph


# ---------------------------------------------------------------- step 2: the place graph
@dataclass
class PlaceGraph:
    """The candidate pairs as an assignment problem of persons to objects with capacities.

    Persons: the places of the requests (request r has `needs` places, numbered from
    `place_start[r]`), then one gadget person per gadget pair. Objects: the volunteers
    (their capacity), then one token per gadget pair (capacity 1).

    A pair (r, v) is a direct edge from each place of r to v, unless r has several places
    and v several slots: then two places of r could both take v. Such a pair becomes a
    gadget g: the places of r get an edge to token g (benefit b), and gadget person g gets
    edges to token g and to v, both worth b + M. The gadget person is matched in every
    optimum (taking the token is always worth M more than leaving it to a place), so a
    place of r holds token g exactly when the gadget person holds a slot of v: using the
    pair costs v a slot, and only one place of r can use it. Gadgets keep their numbers
    when the graph widens, so an auction grows without losing its state.
    """

    instance: Instance
    scale: Scale
    place_start: np.ndarray = field(init=False)
    gadget_key: np.ndarray = field(init=False)  # r * m + v of each gadget, in creation order

    def __post_init__(self) -> None:
        self.place_start = np.zeros(self.instance.n_requests + 1, dtype=np.int64)
        np.cumsum(self.instance.request_needs, out=self.place_start[1:])
        self.gadget_key = np.zeros(0, dtype=np.int64)
        self.place_request = np.repeat(np.arange(self.instance.n_requests), self.instance.request_needs)

    @property
    def n_places(self) -> int:
        return int(self.place_start[-1])

    @property
    def n_persons(self) -> int:
        return self.n_places + len(self.gadget_key)

    def capacity(self) -> np.ndarray:
        tokens = np.ones(len(self.gadget_key), dtype=np.int64)
        return np.concatenate([self.instance.volunteer_capacity, tokens])

    def first_places(self, requests: np.ndarray) -> np.ndarray:
        return self.place_start[requests]

    def places_of(self, requests: np.ndarray) -> np.ndarray:
        """Every place (person) of these requests."""
        needs = self.instance.request_needs[requests]
        return np.repeat(self.place_start[requests], needs) + _ranks_within(needs)

    def edges(self, graph: CandidateGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(person, object, benefit, pair) of every edge, sorted by (person, object); `pair`
        is the candidate pair of an edge of a place, -1 for edges of gadget persons. New
        gadget pairs are numbered after the old ones."""
        instance, scale = self.instance, self.scale
        m = instance.n_volunteers
        request, volunteer = graph.request, graph.volunteer
        benefit = scale.benefit(request, volunteer, graph.km)
        gadget = (instance.request_needs[request] > 1) & (instance.volunteer_capacity[volunteer] > 1)
        keys = graph.keys()[gadget]
        new = keys[~np.isin(keys, self.gadget_key)]
        self.gadget_key = np.concatenate([self.gadget_key, new])
        order = np.argsort(self.gadget_key, kind="stable")
        gadget_of = np.full(len(request), -1, dtype=np.int64)
        gadget_of[gadget] = order[np.searchsorted(self.gadget_key[order], keys)]

        pair = np.arange(len(request))
        needs = instance.request_needs[request]
        place_pair = np.repeat(pair, needs)
        place_person = np.repeat(self.place_start[request], needs) + _ranks_within(needs)
        target = np.where(gadget, m + gadget_of, volunteer)
        g = gadget_of[gadget]
        gadget_person = self.n_places + g
        persons = np.concatenate([place_person, gadget_person, gadget_person])
        objects = np.concatenate([target[place_pair], m + g, volunteer[gadget]])
        high = benefit[gadget] + scale.multiplier
        benefits = np.concatenate([benefit[place_pair], high, high])
        pairs = np.concatenate([place_pair, np.full(2 * len(g), -1, dtype=np.int64)])
        n_objects = m + len(self.gadget_key)
        order = np.argsort(persons * max(n_objects, 1) + objects, kind="stable")
        return persons[order], objects[order], benefits[order], pairs[order]


def _ranks_within(counts: np.ndarray) -> np.ndarray:
    """0, 1, .., c-1 for each count c, concatenated."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


def _use_lap(method: str, places: PlaceGraph, objects: np.ndarray) -> bool:
    """Whether the cold solve goes to sparse LAPJV (see LAP_LIMIT)."""
    if method != "auto":
        return method == "lap"
    capacity = places.capacity()
    degree = np.bincount(objects, minlength=len(capacity))
    columns = int(np.minimum(capacity, degree).sum()) + places.n_persons
    instance = places.instance
    # Over-demand (more places than slots) is LAPJVsp's worst case: the lower limit then.
    enough_slots = places.n_places <= int(instance.volunteer_capacity.sum())
    limit = LAP_LIMIT_VARYING_EXTRA if _varying_extra(instance) and enough_slots else LAP_LIMIT
    return places.n_persons * columns <= limit


def _varying_extra(instance: Instance) -> bool:
    """Whether extra_km differs between the volunteers able to take work."""
    extra = instance.volunteer_extra_km[instance.volunteer_capacity > 0]
    return len(extra) > 0 and float(extra.max()) > float(extra.min())


def _auction_with_varying_extra(instance: Instance, scale: Scale, graph: CandidateGraph, method: str) -> bool:
    """Whether extra_km differs and the first graph would go to the auction."""
    if method == "lap" or not _varying_extra(instance):
        return False
    places = PlaceGraph(instance, scale)  # a throw-away numbering of this graph's gadgets
    _, objects, _, _ = places.edges(graph)
    return not _use_lap(method, places, objects)


def _solve_by_lap(
    auction: Auction,
    capacity: np.ndarray,
    person: np.ndarray,
    obj: np.ndarray,
    benefit: np.ndarray,
    multiplier: int,
    movers: np.ndarray | None = None,
    old_duals: np.ndarray | None = None,
    try_profits: bool = False,
) -> str | None:
    """Solve the graph exactly with LAPJVsp and install it with its least duals.

    After widening (`movers` gained edges; `auction` holds the previous exact LAPJV state
    in this graph's numbering, `old_duals` its duals) only the region around the movers
    is re-solved first (`exact.region_resolve`), kept if its least duals prove it optimal;
    with few movers and `try_profits`, then LAPJVsp on the profits under the old prices
    (`exact.reduced_resolve`), kept on the same condition.

    LAPJVsp works on the benefits without the factor M (they fit float64 exactly), the
    duals are exact integers times M. Returns how it was solved ("region", "reduced" or
    "full"), or None (nothing installed) when the costs do not fit float64 or the duals
    show the float solve was not exactly optimal.
    """
    units = benefit // multiplier  # benefits are multiples of M
    n_persons = auction.n_persons
    if movers is not None and old_duals is not None:
        old_price = old_duals // multiplier
        how = "region"
        guess = region_resolve(capacity, person, obj, units, auction.person_edge, old_price, movers)
        price = None if guess is None else least_duals(n_persons, capacity, person, obj, units, guess)
        if price is None and len(movers) <= AUGMENT_MOVERS:
            how = "augment"
            guess = augment_resolve(capacity, person, obj, units, auction.person_edge, old_price, movers)
            price = None if guess is None else least_duals(n_persons, capacity, person, obj, units, guess)
        if price is None and try_profits and len(movers) <= REDUCED_RESOLVE_MOVERS:
            how = "reduced"
            guess = reduced_resolve(n_persons, capacity, person, obj, units, old_price)
            price = None if guess is None else least_duals(n_persons, capacity, person, obj, units, guess)
        if price is not None:
            auction.install(guess, price * multiplier)
            return how
    person_edge = lap_matching(n_persons, capacity, person, obj, units)
    if person_edge is None:
        return None
    price = least_duals(n_persons, capacity, person, obj, units, person_edge)
    if price is None:
        return None
    auction.install(person_edge, price * multiplier)
    return "full"


@dataclass
class GraphSolve:
    """State of step 2 across widening rounds."""

    auction: Auction
    method: str
    solved_by: str = "auction"
    start_eps: int | None = None  # warm rounds: prices move about as far as the worst violation
    # LAPJV solves by kind: "full", "region" and "reduced" (warm re-solves after widening).
    lap_solves: dict[str, int] = field(default_factory=dict)
    duals: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def solve_graph(
    state: GraphSolve,
    places: PlaceGraph,
    person: np.ndarray,
    obj: np.ndarray,
    benefit: np.ndarray,
    movers: np.ndarray,
) -> None:
    """Step 2: an exact optimum of the place graph in `state.auction`, with its duals."""
    auction = state.auction
    capacity = places.capacity()
    if auction.n_persons != places.n_persons or auction.n_objects != len(capacity):
        auction.grow(places.n_persons, capacity)
        state.duals = np.concatenate([state.duals, np.zeros(len(capacity) - len(state.duals), np.int64)])
    auction.set_graph(person, obj, benefit)
    top = int(benefit.max()) if len(benefit) else 1
    eps = max(1, top // EPS_FACTOR)
    multiplier = places.scale.multiplier
    lap_only = places.scale.lap_only  # units too fine for the auction's M (see make_scale)
    if (state.start_eps is None or state.solved_by == "lap") and (
        lap_only or _use_lap(state.method, places, obj)
    ):
        # Small graphs: LAPJVsp from scratch beats a warm auction re-solve too.
        warm = state.solved_by == "lap"  # then `movers` gained edges and `duals` are exact
        installed = _solve_by_lap(
            auction,
            capacity,
            person,
            obj,
            benefit,
            multiplier,
            movers=movers if warm else None,
            old_duals=state.duals if warm else None,
            # Measured to help with differing extra_km; on version 1 crisis shapes it
            # failed (0.04-0.06 s lost per round).
            try_profits=_varying_extra(places.instance),
        )
        if installed is not None:
            state.solved_by, eps = "lap", 0
            state.lap_solves[installed] = state.lap_solves.get(installed, 0) + 1
        elif state.start_eps is None:
            state.solved_by = "auction (lap fell back)"
    if eps and state.start_eps is not None:
        eps = max(1, min(eps, state.start_eps))
    while eps > 0:
        auction.run_phase(eps, final=True)
        if eps == 1:
            break
        if state.start_eps is None:
            # Cold solve: a phase leaves every uncontested volunteer at about eps (one
            # bid), while volunteers nobody bid on stay at 0. Lowering all prices by eps
            # removes that offset, so the next phase does not release (nearly) everyone
            # to move to an equally good free volunteer. Any prices are valid between
            # phases: run_phase releases whoever then violates eps-slackness.
            auction.lower_prices(eps)
        eps = max(1, eps // EPS_FACTOR)
    # Duals: an object's price is its cheapest slot's (0 where it has spare capacity).
    state.duals = np.where(auction.slots > 0, auction.p1, 0).astype(np.int64)


# ---------------------------------------------------------------- step 3: certificate
@dataclass
class Check:
    """What the certificate found in one round."""

    pi: np.ndarray  # per request
    checked: np.ndarray  # requests certified by the price-aware check
    margin: np.ndarray  # pi_r - B_r of the requests certified by their km bound
    found: Any  # improving pruned pairs (candidates.Edges)


def check_pruned_pairs(
    instance: Instance,
    search: CandidateSearch,
    graph: CandidateGraph,
    places: PlaceGraph,
    state: GraphSolve,
) -> Check:
    """Step 3: every pruned pair (r, v) must have benefit - P_v <= pi_r; returns the ones
    that do not (they improve the objective and join the graph)."""
    auction, scale, n = state.auction, places.scale, instance.n_requests
    # pi_r: every place of r has the same edges, so the first place's value is r's.
    pi = np.zeros(n, dtype=np.int64)
    first = places.first_places(np.arange(n))
    with_edges = np.flatnonzero(auction.degree[first] > 0)
    if len(with_edges):
        pi[with_edges] = np.maximum(auction.best_values(first[with_edges]), 0)
    volunteer_duals = state.duals[: instance.n_volunteers]
    # Pruned pairs of r are >= bound_km[r] away: benefit <= ceiling; P_v >= 0 for them.
    bound_km = graph.bound_km
    open_requests = np.flatnonzero(np.isfinite(bound_km))
    ceiling = scale.benefit_upper_bound(open_requests, bound_km[open_requests])
    margin = pi[open_requests] - ceiling
    checked = open_requests[margin < 0]
    margin = margin[margin >= 0]
    # The rest: the price-aware check finds every feasible pair that would still improve
    # (benefit - P_v > pi_r); pairs already in the graph are certified by the graph's duals.
    found = search.violations(checked, pi, volunteer_duals, scale, bound_km[checked], WIDEN_LIMIT)
    fresh = ~_contains(graph.keys(), found.request * max(instance.n_volunteers, 1) + found.volunteer)
    found.request, found.volunteer, found.km = found.request[fresh], found.volunteer[fresh], found.km[fresh]
    return Check(pi=pi, checked=checked, margin=margin, found=found)


def duality_gap(auction: Auction, duals: np.ndarray) -> int:
    """Dual minus primal objective of the place graph, exactly (Python ints).

    sum_persons pi + sum_objects c P - sum benefit
      = sum_persons (pi - (benefit - P_held)) + sum_objects (c - load) P, all terms >= 0.
    """
    persons = np.flatnonzero(auction.degree > 0)
    pi = np.zeros(auction.n_persons, dtype=np.int64)
    if len(persons):
        pi[persons] = np.maximum(auction.best_values(persons), 0)
    assigned = np.flatnonzero(auction.person_edge >= 0)
    edge = auction.person_edge[assigned]
    held = auction.edge_volunteer[edge]
    slack = pi.copy()
    slack[assigned] -= auction.benefit[edge] - duals[held]
    load = np.bincount(held, minlength=auction.n_objects)
    spare = auction.capacity - load
    positive = np.flatnonzero((spare > 0) & (duals > 0))
    total = sum(int(x) for x in slack[slack != 0])
    total += sum(int(spare[v]) * int(duals[v]) for v in positive)
    return total


# ---------------------------------------------------------------- step 4: the result
def _reasons(
    instance: Instance, requests: np.ndarray, excluded_keys: np.ndarray, own_keys: np.ndarray
) -> list[str]:
    """Reason of each request by the spec's order, over every volunteer (any capacity) not
    already assigned to it (`own_keys`: r * m + v of the assigned pairs, sorted)."""
    reasons = ["capacity"] * len(requests)
    if len(requests) == 0:
        return reasons
    if instance.n_volunteers == 0:
        return ["no_skill"] * len(requests)
    m = instance.n_volunteers
    # Rule 1, per distinct needed-skill set: does anybody (any capacity) offer all of it?
    skill_rows, skill_of = np.unique(instance.request_skills[requests], axis=0, return_inverse=True)
    skill_of = skill_of.reshape(-1)
    offered = np.array(
        [(~(row[None, :] & ~instance.volunteer_skills).any(axis=1)).sum() for row in skill_rows],
        dtype=np.int64,
    )
    # Volunteers assigned to the request offer its skills (their pairs are feasible).
    own = np.searchsorted(own_keys, (requests + 1) * m) - np.searchsorted(own_keys, requests * m)
    has_skill = offered[skill_of] > own
    tree = cKDTree(instance.volunteer_xyz)
    reach = float(km_to_chord(float(instance.volunteer_max_km.max()))) * (1 + 1e-9) + 1e-9
    searched = requests[has_skill]
    counts = [np.zeros(len(searched), dtype=np.int64) for _ in range(3)]
    # In batches: with everyone at one point every request sees every volunteer.
    batch = max(1, (1 << 22) // max(m, 1))
    for start in range(0, len(searched), batch):
        part = searched[start : start + batch]
        neighbours = tree.query_ball_point(instance.request_xyz[part], r=reach)
        neighbours = [np.asarray(item, dtype=np.int64) for item in np.atleast_1d(neighbours)]
        lengths = np.array([len(item) for item in neighbours], dtype=np.int64)
        row = np.repeat(np.arange(len(part)), lengths)
        volunteer = np.concatenate(neighbours) if neighbours else np.zeros(0, dtype=np.int64)
        request = part[row]
        if len(own_keys):
            keys = request * m + volunteer
            position = np.minimum(np.searchsorted(own_keys, keys), len(own_keys) - 1)
            other = own_keys[position] != keys
            request, volunteer, row = request[other], volunteer[other], row[other]
        km = pair_km(instance.request_xyz[request], instance.volunteer_xyz[volunteer])
        step1 = skills_ok(instance, request, volunteer)
        step2 = step1 & in_range(instance, request, volunteer, km)[0]
        step3 = step2 & slots_ok(instance, request, volunteer)
        step4 = step3 & ~is_excluded(instance, request, volunteer, excluded_keys)
        for count, step in zip(counts, (step2, step3, step4), strict=True):
            count[start : start + len(part)] = np.bincount(row[step], minlength=len(part))
    searched_reasons = np.where(
        counts[0] == 0,
        "out_of_range",
        np.where(counts[1] == 0, "no_common_slot", np.where(counts[2] == 0, "excluded", "capacity")),
    )
    position = 0
    for i, ok in enumerate(has_skill):
        if ok:
            reasons[i] = str(searched_reasons[position])
            position += 1
        else:
            reasons[i] = "no_skill"
    return reasons


def build_result(
    instance: Instance,
    search: CandidateSearch,
    graph: CandidateGraph,
    places: PlaceGraph,
    state: GraphSolve,
    pair_of_edge: np.ndarray,
    certificate: dict[str, Any],
) -> Result:
    """Step 4: the pairs, the places left with their reasons, the totals."""
    auction, scale = state.auction, places.scale
    m = instance.n_volunteers
    held = np.flatnonzero(auction.person_edge[: places.n_places] >= 0)
    edge = auction.person_edge[held]
    # Safety net (only an inexact solve can get here): a place on a gadget's token whose
    # gadget person holds no slot of the volunteer would exceed its capacity: dropped.
    token = auction.edge_volunteer[edge] - m
    on_token = np.flatnonzero(token >= 0)
    if len(on_token):
        gadget_edge = auction.person_edge[places.n_places + token[on_token]]
        unpaid = (gadget_edge < 0) | (auction.edge_volunteer[np.maximum(gadget_edge, 0)] >= m)
        if unpaid.any():
            edge = np.delete(edge, on_token[unpaid])
            certificate["optimal"] = certificate["priority_optimal"] = False
    pair = np.sort(pair_of_edge[edge])
    request, volunteer, km = graph.request[pair], graph.volunteer[pair], graph.km[pair]
    got = np.bincount(request, minlength=instance.n_requests)
    needs_given = instance.request_needs_given
    short = got < instance.request_needs
    # needs is capped at the number of volunteers; the places left count the needs as given.
    for r in np.flatnonzero(instance.request_needs >= max(m, 1)).tolist():
        short[r] = needs_given[r] > got[r]
    short = np.flatnonzero(short)
    # A request with a candidate volunteer it did not get: that volunteer is feasible, so
    # the reason is capacity. Otherwise the spec's chain over all volunteers but its own.
    spare_pairs = np.bincount(graph.request, minlength=instance.n_requests) - got
    reasons = np.array(["capacity"] * len(short), dtype=object)
    lonely = spare_pairs[short] == 0
    own_keys = np.sort(request * max(m, 1) + volunteer)
    reasons[lonely] = _reasons(instance, short[lonely], search.excluded_keys, own_keys)

    cost = scale.cost_km(request, volunteer, km)
    request_ids, volunteer_ids = instance.request_ids, instance.volunteer_ids
    priorities = instance.request_priority
    certificate["cost_bound_km"] = len(pair) / scale.per_km
    return Result(
        assignments=[
            Assignment(request_ids[r], volunteer_ids[v], float(k))
            for r, v, k in zip(request.tolist(), volunteer.tolist(), km.tolist(), strict=True)
        ],
        unassigned=[
            Unassigned(request_ids[r], str(reason), needs_given[r] - int(got[r]))
            for r, reason in zip(short.tolist(), reasons, strict=True)
        ],
        matched=len(pair),
        total_priority=int(sum(int(p) for p in priorities[request])) if len(pair) else 0,
        total_km=float(km.sum()),
        total_cost=float(cost.sum()),
        certificate=certificate,
        volunteer_duals=state.duals[:m].copy(),
        scale=scale,
    )


def solve(
    instance: Instance,
    progress: Progress | None = None,
    *,
    first_neighbours: int = FIRST_NEIGHBOURS,
    widen: bool = True,
    method: str = "auto",
) -> Result:
    """Return an optimal assignment of `instance`, with a certificate of its optimality.

    Optimal means: the largest total priority, then the smallest total cost (the spec's
    lexicographic objective). `progress(stage, fraction)` is called at a few stages.
    `widen=False` skips the certificate-driven widening; it exists so tests can show that
    `certify` rejects an answer computed on too few candidates, and is never right in use.
    `method` picks the solve of the candidate graph: "lap" (sparse LAPJV plus exact least
    duals, exact.py; it also re-solves after widening), "auction", or "auto" (LAPJV below
    LAP_LIMIT). If LAPJV gives up, the auction takes over (warm if a LAPJV state exists).
    The certificate is checked the same way whichever produced the duals.
    """
    if method not in ("auto", "lap", "auction"):
        raise ValueError(f"unknown method {method!r}")
    started = time.perf_counter()
    scale = make_scale(instance)
    if method == "auto" and one_point_applies(instance, scale):
        # Everyone at one point, every pair costs 0: maximum flows through hubs (one_point.py).
        return solve_one_point(instance, scale, _reasons, progress)
    search = CandidateSearch(instance)
    _report(progress, "candidates", 0.0)
    graph = build_candidates(instance, search, first_neighbours)
    wider = min(VARYING_EXTRA_NEIGHBOURS, VARYING_EXTRA_SEARCH_BUDGET // max(instance.n_requests, 1))
    if first_neighbours == FIRST_NEIGHBOURS < wider and _auction_with_varying_extra(
        instance, scale, graph, method
    ):
        graph = build_candidates(instance, search, wider)
    _report(progress, "candidates", 1.0)

    places = PlaceGraph(instance, scale)
    state = GraphSolve(Auction(places.n_places, instance.n_volunteers, instance.volunteer_capacity), method)
    rounds = widened = 0
    failing = np.zeros(0, dtype=np.int64)
    while True:
        rounds += 1
        _report(progress, "solve", 0.0)
        old_gadgets = len(places.gadget_key)
        person, obj, benefit, pair_of_edge = places.edges(graph)
        # Persons that gained edges: the places of the widened requests, new gadget persons.
        new_gadgets = places.n_places + np.arange(old_gadgets, len(places.gadget_key))
        movers = np.concatenate([places.places_of(failing), new_gadgets])
        solve_graph(state, places, person, obj, benefit, movers)
        _report(progress, "certify", 0.0)
        check = check_pruned_pairs(instance, search, graph, places, state)
        found = check.found
        if not widen or len(found.request) == 0:
            break
        excess = scale.benefit(found.request, found.volunteer, found.km)
        excess = excess - state.duals[found.volunteer] - check.pi[found.request]
        state.start_eps = int(excess.max()) // EPS_FACTOR
        failing = graph.add(found.request, found.volunteer, found.km)
        widened += len(failing)

    _report(progress, "reasons", 0.0)
    gap = duality_gap(state.auction, state.duals)
    uncertified = len(np.unique(found.request))
    exact = gap < scale.multiplier and uncertified == 0
    resolution = 1.0 / scale.per_km
    certificate: dict[str, Any] = {
        "method": "lp-duals",
        # The integer optimum is the contract's optimum within 1/S km per pair.
        "optimal": bool(exact and resolution <= CONTRACT_TOLERANCE_KM),
        "priority_optimal": bool(exact),
        "detail": (
            "exact solve of the k-nearest-feasible candidate graph of places (cold_solve: sparse "
            "LAPJV with least integer duals, or auction with epsilon scaling to eps=1 on benefits x M); "
            "volunteer prices are LP duals; every pruned pair has reduced cost <= 0 by its km bound "
            "or the price-aware check; duality gap < 1 unit of the integer objective; so the total "
            "priority is optimal and the total cost is within cost_bound_km (matched x km_resolution) "
            "of the optimum"
        ),
        "rounds": rounds,
        "candidate_edges": len(graph.request),
        "gadget_pairs": len(places.gadget_key),
        "widened_requests": widened,
        "uncertified_requests": uncertified,
        "price_checked_requests": len(check.checked),
        "min_pruned_margin": (
            float(check.margin.min()) / (scale.multiplier * scale.per_km) if len(check.margin) else None
        ),
        "duality_gap_units": gap / scale.multiplier,
        "km_resolution": resolution,
        "cold_solve": state.solved_by,
        "lap_solves": dict(state.lap_solves),
        "auction_phases": state.auction.stats.phases,
        "auction_rounds": state.auction.stats.forward_rounds + state.auction.stats.reverse_rounds,
    }
    result = build_result(instance, search, graph, places, state, pair_of_edge, certificate)
    certificate["seconds"] = round(time.perf_counter() - started, 4)
    _report(progress, "done", 1.0)
    return result
