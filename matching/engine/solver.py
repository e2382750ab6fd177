"""`solve`: candidates, auction, certificate, widening, reasons; and `certify` for audits.

The loop (docs/engine.md has the argument in full):
1. find, per request, the nearest feasible volunteers (k-d tree per skill);
2. solve the assignment on that candidate graph exactly (auction, integer benefits);
3. with the volunteer prices P_v >= 0 as LP duals, every request r gets
   pi_r = max(0, max over its candidates of benefit - P_v); a pruned pair is at least
   `bound_km[r]` away, so its benefit is at most B_r; if pi_r >= B_r no pruned pair has a
   positive reduced cost. For the requests where that fails, the price-aware check
   (`CandidateSearch.violations`) finds exactly the feasible pairs with
   benefit - P_v > pi_r, using the prices of the volunteers not looked at; those pairs
   join the graph and we go to 2 (warm). None left: dual feasible on every pair.
4. when every request passes, the duals are feasible for the full problem and the duality
   gap is below one unit of the integer objective, so the assignment is optimal.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from matching.engine.auction import Auction
from matching.engine.candidates import (
    CandidateSearch,
    in_range,
    is_excluded,
    skills_ok,
    slots_ok,
)
from matching.engine.exact import lap_matching, least_duals, region_resolve
from matching.engine.geometry import EARTH_RADIUS_KM, km_to_chord, pair_km
from matching.engine.instance import Instance
from matching.engine.result import Assignment, Result, Scale, Unassigned

Progress = Callable[[str, float], None]

# Neighbours of a request's skill group looked at first, and the feasible pairs wanted
# before the search stops widening for lack of candidates. Widening multiplies by 4.
FIRST_NEIGHBOURS = 24
WANTED_FEASIBLE = 6
WIDEN_FACTOR = 4
# Epsilon shrinks by this factor per scaling phase.
EPS_FACTOR = 8
# "auto" solves the candidate graph with sparse LAPJV (exact.py) while requests x (volunteer
# copies + requests) stays below this, else with the auction. LAPJVsp's cost grows fast and
# is worst with over-demand. CPU s of whole solves, LAPJV vs auction: 5k x 5k 0.12 vs 0.26,
# crisis 4k x 1k 0.33 vs 1.06 (both below the limit); above it: 10k x 10k 0.28 vs 0.42,
# but crisis 10k x 2.5k 1.6 vs 1.3, crisis 20k x 5k 6.8 vs 2.3, 20k x 20k 1.5 vs 0.8; the
# LAPJV call alone at 100k x 100k takes ~25 s.
LAP_LIMIT = 1.5e8
# Benefits stay below 2**59 so bids (at most twice a benefit) never reach the INF sentinel.
_BENEFIT_LIMIT = 2**59
_PREFERRED_PER_KM = 1e7  # 1e-7 km units: rounding cannot move a total by 1e-6 km per pair


def _longest_feasible_km(instance: Instance) -> float:
    """An upper bound on the km of every feasible pair with an able volunteer.

    Each volunteer reaches at most its max_km, and no farther than the farthest request:
    with c the normalised centroid of the requests and rho the largest angle from c to a
    request, a volunteer at angle a from c is within a + rho of every request. So a single
    volunteer willing to travel the whole globe does not coarsen the km units of a city
    instance (BIG, below, must exceed any total of km; the finer the units, the closer
    the rounded optimum is to the true one).
    """
    able = instance.volunteer_capacity > 0
    if not able.any() or instance.n_requests == 0:
        return 1.0
    max_km = instance.volunteer_max_km[able]
    centre = instance.request_xyz.sum(axis=0)
    length = float(np.linalg.norm(centre))
    if length > 1e-6:
        centre = centre / length
        rho = float(np.arccos(np.clip(instance.request_xyz @ centre, -1.0, 1.0)).max())
        angle = np.arccos(np.clip(instance.volunteer_xyz[able] @ centre, -1.0, 1.0))
        # + 1e-6 rad: slack for arccos near 0 (~1e-8 rad of rounding); the caller adds 1 km more.
        max_km = np.minimum(max_km, EARTH_RADIUS_KM * (angle + rho + 1e-6))
    return min(float(max_km.max()), math.pi * EARTH_RADIUS_KM)


def make_scale(instance: Instance) -> Scale:
    """Integer benefits that order assignments by (total priority, -total km) exactly.

    Priorities are replaced by their dense rank: the sets of requests that can be served
    together form a matroid (a transversal one), so which sets have the largest total
    priority depends only on the order of the priorities, not on their values. That keeps
    the integers small whatever the priorities are.
    """
    n = instance.n_requests
    priorities = instance.request_priority
    distinct, ranks = np.unique(priorities, return_inverse=True)
    ranks = np.asarray(ranks, dtype=np.int64).reshape(-1) + 1
    top_rank = max(len(distinct), 1)
    reach = _longest_feasible_km(instance) + 1.0
    served = max(1, min(n, int(np.minimum(instance.volunteer_capacity, n).sum())))
    multiplier = n + 1
    # big > served * (reach * per_km + 1) and top_rank * big * multiplier <= limit.
    room = _BENEFIT_LIMIT / (top_rank * multiplier) - 2
    per_km = min(_PREFERRED_PER_KM, (room / served - 1) / reach)
    per_km = max(per_km, 1e-9)
    big = math.ceil(served * (reach * per_km + 1)) + 1
    return Scale(per_km=per_km, big=big, multiplier=multiplier, ranks=ranks)


def _report(progress: Progress | None, stage: str, fraction: float) -> None:
    if progress is not None:
        progress(stage, fraction)


def _gap(
    instance: Instance,
    requests: np.ndarray,
    volunteers: np.ndarray,
    benefit: np.ndarray,
    duals: np.ndarray,
    pi: np.ndarray,
) -> int:
    """Dual objective minus primal objective, exactly (Python ints), for assigned pairs."""
    # sum_r pi_r + sum_v c_v P_v - sum benefit
    #   = sum_r (pi_r - (benefit_r - P_v(r))) + sum_v (c_v - load_v) P_v, all terms >= 0.
    slack = pi.copy()
    slack[requests] -= benefit - duals[volunteers]
    load = np.bincount(volunteers, minlength=instance.n_volunteers)
    spare = instance.volunteer_capacity - load
    positive = np.flatnonzero((spare > 0) & (duals > 0))
    total = sum(int(x) for x in slack[slack != 0])
    total += sum(int(spare[v]) * int(duals[v]) for v in positive)
    return total


def _reasons(instance: Instance, requests: np.ndarray, excluded_keys: np.ndarray) -> list[str]:
    """Reason of each request that has no feasible able volunteer at all, by the spec's order."""
    reasons = ["capacity"] * len(requests)
    if len(requests) == 0:
        return reasons
    if instance.n_volunteers == 0:
        return ["no_skill"] * len(requests)
    # Rule 1, per distinct needed-skill set: does anybody (any capacity) offer all of it?
    skill_rows, skill_of = np.unique(instance.request_skills[requests], axis=0, return_inverse=True)
    skill_of = skill_of.reshape(-1)
    offered = np.array(
        [(~(row[None, :] & ~instance.volunteer_skills).any(axis=1)).any() for row in skill_rows], dtype=bool
    )
    has_skill = offered[skill_of]
    tree = cKDTree(instance.volunteer_xyz)
    reach = float(km_to_chord(float(instance.volunteer_max_km.max()))) * (1 + 1e-9) + 1e-9
    searched = requests[has_skill]
    neighbours = tree.query_ball_point(instance.request_xyz[searched], r=reach, workers=-1)
    neighbours = [np.asarray(item, dtype=np.int64) for item in np.atleast_1d(neighbours)]
    lengths = np.array([len(item) for item in neighbours], dtype=np.int64)
    row = np.repeat(np.arange(len(searched)), lengths)
    volunteer = np.concatenate(neighbours) if neighbours else np.zeros(0, dtype=np.int64)
    request = searched[row]
    km = pair_km(instance.request_xyz[request], instance.volunteer_xyz[volunteer])
    step1 = skills_ok(instance, request, volunteer)
    step2 = step1 & in_range(instance, request, volunteer, km)[0]
    step3 = step2 & slots_ok(instance, request, volunteer)
    step4 = step3 & ~is_excluded(instance, request, volunteer, excluded_keys)
    counts = [np.bincount(row[step], minlength=len(searched)) for step in (step2, step3, step4)]
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


def _use_lap(method: str, instance: Instance, volunteer: np.ndarray) -> bool:
    """Whether the cold solve goes to sparse LAPJV (see LAP_LIMIT)."""
    if method != "auto":
        return method == "lap"
    degree = np.bincount(volunteer, minlength=instance.n_volunteers)
    columns = int(np.minimum(instance.volunteer_capacity, degree).sum()) + instance.n_requests
    return instance.n_requests * columns <= LAP_LIMIT


def _solve_by_lap(
    auction: Auction,
    instance: Instance,
    request: np.ndarray,
    volunteer: np.ndarray,
    benefit: np.ndarray,
    scale: Scale,
    movers: np.ndarray | None = None,
    old_duals: np.ndarray | None = None,
) -> bool:
    """Solve the graph exactly with LAPJVsp and install it with its least duals.

    After widening (`movers` gained edges; `auction` holds the previous exact LAPJV state
    in this graph's numbering, `old_duals` its duals) only the region around the movers
    is re-solved first (`exact.region_resolve`), kept if its least duals prove it optimal.

    LAPJVsp works on the benefits without the factor M (they fit float64 exactly), the
    duals are exact integers times M. False (nothing installed) when the costs do not fit
    float64 or the duals show the float solve was not exactly optimal.
    """
    units = benefit // scale.multiplier  # benefits are multiples of M
    capacity = instance.volunteer_capacity
    if movers is not None and old_duals is not None:
        old_price = old_duals // scale.multiplier
        guess = region_resolve(capacity, request, volunteer, units, auction.person_edge, old_price, movers)
        price = (
            None
            if guess is None
            else least_duals(instance.n_requests, capacity, request, volunteer, units, guess)
        )
        if price is not None:
            auction.install(guess, price * scale.multiplier)
            return True
    person_edge = lap_matching(instance.n_requests, capacity, request, volunteer, units)
    if person_edge is None:
        return False
    price = least_duals(instance.n_requests, capacity, request, volunteer, units, person_edge)
    if price is None:
        return False
    auction.install(person_edge, price * scale.multiplier)
    return True


def solve(
    instance: Instance,
    progress: Progress | None = None,
    *,
    first_neighbours: int = FIRST_NEIGHBOURS,
    widen: bool = True,
    method: str = "auto",
) -> Result:
    """Return an optimal assignment of `instance`, with a certificate of its optimality.

    Optimal means: the largest total priority, then the smallest total km (the spec's
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
    n, m = instance.n_requests, instance.n_volunteers
    scale = make_scale(instance)
    search = CandidateSearch(instance)
    _report(progress, "candidates", 0.0)

    # Per request: neighbours looked at so far, the km bound on unseen ones, its pairs.
    seen = np.zeros(n, dtype=np.int64)
    bound_km = np.full(n, np.inf)
    group_size = search.group_size(np.arange(n))
    edge_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
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
        edge_parts.append((found.request, found.volunteer, found.km))
        feasible_count[requests] = np.bincount(found.request, minlength=n)[requests]

    # Look further for requests with too few feasible pairs, unless nothing is left unseen.
    todo = np.arange(n)
    target = np.full(n, first_neighbours, dtype=np.int64)
    while len(todo):
        extend(todo, target[todo])
        todo = todo[(feasible_count[todo] < WANTED_FEASIBLE) & np.isfinite(bound_km[todo])]
        target[todo] = seen[todo] * WIDEN_FACTOR
    _report(progress, "candidates", 1.0)

    auction = Auction(n, m, instance.volunteer_capacity)
    rounds = 0
    widened = 0
    start_eps: int | None = None  # warm rounds: prices need to move about as far as the worst violation
    solved_by = "auction"
    failing = np.zeros(0, dtype=np.int64)
    duals = np.zeros(m, dtype=np.int64)
    while True:
        rounds += 1
        request = np.concatenate([part[0] for part in edge_parts]) if edge_parts else np.zeros(0, np.int64)
        volunteer = np.concatenate([part[1] for part in edge_parts]) if edge_parts else np.zeros(0, np.int64)
        km = np.concatenate([part[2] for part in edge_parts]) if edge_parts else np.zeros(0)
        _, first = np.unique(request * max(m, 1) + volunteer, return_index=True)  # sorted by (r, v)
        request, volunteer, km = request[first], volunteer[first], km[first]
        edge_parts = [(request, volunteer, km)]
        benefit = scale.benefit(request, km)
        auction.set_graph(request, volunteer, benefit)
        _report(progress, "solve", 0.0)
        top = int(benefit.max()) if len(benefit) else 1
        eps = max(1, top // EPS_FACTOR)
        if (start_eps is None or solved_by == "lap") and _use_lap(method, instance, volunteer):
            # Small graphs: LAPJVsp from scratch beats a warm auction re-solve too.
            warm = solved_by == "lap"  # then `failing` gained edges and `duals` are exact
            installed = _solve_by_lap(
                auction,
                instance,
                request,
                volunteer,
                benefit,
                scale,
                movers=failing if warm else None,
                old_duals=duals if warm else None,
            )
            if installed:
                solved_by, eps = "lap", 0
            elif start_eps is None:
                solved_by = "auction (lap fell back)"
        if eps and start_eps is not None:
            eps = max(1, min(eps, start_eps))
        while eps > 0:
            auction.run_phase(eps, final=True)
            if eps == 1:
                break
            if start_eps is None:
                # Cold solve: a phase leaves every uncontested volunteer at about eps (one
                # bid), while volunteers nobody bid on stay at 0. Lowering all prices by eps
                # removes that offset, so the next phase does not release (nearly) everyone
                # to move to an equally good free volunteer. Any prices are valid between
                # phases: run_phase releases whoever then violates eps-slackness.
                auction.lower_prices(eps)
            eps = max(1, eps // EPS_FACTOR)
        _report(progress, "certify", 0.0)

        # Duals: P_v = price of v's cheapest slot (0 where spare capacity), pi_r from P.
        duals = np.where(auction.slots > 0, auction.p1, 0).astype(np.int64)
        pi = np.zeros(n, dtype=np.int64)
        with_edges = np.flatnonzero(auction.degree > 0)
        if len(with_edges):
            pi[with_edges] = np.maximum(auction.best_values(with_edges), 0)
        # Pruned pairs of r are >= bound_km[r] away: benefit <= ceiling; P_v >= 0 for them.
        open_requests = np.flatnonzero(np.isfinite(bound_km))
        ceiling = scale.benefit_upper_bound(open_requests, bound_km[open_requests])
        margin = pi[open_requests] - ceiling
        checked = open_requests[margin < 0]
        margin = margin[margin >= 0]
        # The rest: the price-aware check finds every feasible pair that would still
        # improve (benefit - P_v > pi_r); none left means these requests are certified too.
        found = search.violations(checked, pi, duals, scale, bound_km[checked])
        failing = np.unique(found.request)
        if not widen or len(failing) == 0:
            break
        widened += len(failing)
        excess = scale.benefit(found.request, found.km) - duals[found.volunteer] - pi[found.request]
        start_eps = int(excess.max()) // EPS_FACTOR
        edge_parts.append((found.request, found.volunteer, found.km))

    _report(progress, "reasons", 0.0)
    assigned = np.flatnonzero(auction.person_slot >= 0)
    edge = auction.person_edge[assigned]
    assigned_volunteer = auction.edge_volunteer[edge]
    assigned_km = edge_parts[0][2][edge]
    gap = _gap(instance, assigned, assigned_volunteer, auction.benefit[edge], duals, pi)
    certified = gap < scale.multiplier and (len(failing) == 0)

    unassigned = np.flatnonzero(auction.person_slot < 0)
    reasons = np.array(["capacity"] * len(unassigned), dtype=object)
    lonely = auction.degree[unassigned] == 0
    reasons[lonely] = _reasons(instance, unassigned[lonely], search.excluded_keys)

    certificate: dict[str, Any] = {
        "method": "lp-duals",
        "optimal": bool(certified),
        "detail": (
            "exact solve of the k-nearest-feasible candidate graph (cold_solve: sparse LAPJV with "
            "least integer duals, or auction with epsilon scaling to eps=1 on benefits x M); "
            "volunteer prices are LP duals; every pruned pair has reduced cost <= 0 by its km bound; "
            "duality gap < 1 unit of the integer objective"
        ),
        "rounds": rounds,
        "candidate_edges": len(edge_parts[0][0]),
        "widened_requests": widened,
        "uncertified_requests": len(failing),
        "price_checked_requests": len(checked),
        "min_pruned_margin": float(margin.min()) / (scale.multiplier * scale.per_km) if len(margin) else None,
        "duality_gap_units": gap / scale.multiplier,
        "km_resolution": 1.0 / scale.per_km,
        "cold_solve": solved_by,
        "auction_phases": auction.stats.phases,
        "auction_rounds": auction.stats.forward_rounds + auction.stats.reverse_rounds,
        "seconds": round(time.perf_counter() - started, 4),
    }
    request_ids, volunteer_ids = instance.request_ids, instance.volunteer_ids
    priorities = instance.request_priority
    result = Result(
        assignments=[
            Assignment(request_ids[r], volunteer_ids[v], float(k))
            for r, v, k in zip(
                assigned.tolist(), assigned_volunteer.tolist(), assigned_km.tolist(), strict=True
            )
        ],
        unassigned=[
            Unassigned(request_ids[r], str(reason))
            for r, reason in zip(unassigned.tolist(), reasons, strict=True)
        ],
        matched=len(assigned),
        total_priority=int(sum(int(p) for p in priorities[assigned])) if len(assigned) else 0,
        total_km=float(assigned_km.sum()),
        certificate=certificate,
        volunteer_duals=duals,
        scale=scale,
    )
    _report(progress, "done", 1.0)
    return result
