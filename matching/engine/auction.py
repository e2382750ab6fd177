"""Forward/reverse auction with epsilon scaling for capacitated bipartite assignment.

Persons are requests, objects are volunteer slots (a volunteer with capacity c has c
slots, each with its own price); every person may also stay unassigned (a "nothing"
object of value 0 that is never scarce). Benefits are int64, so with eps = 1 at the end
and benefits multiplied by M > number of persons, epsilon-complementary slackness pins
the exact optimum (Bertsekas, "Auction algorithms for network flow problems", 1992).

All steps are Jacobi-style: every bidder of a round bids at once, with NumPy segment
reductions over the bidders' CSR rows, so the Python loop runs once per round, not per
bid. Capacity is never expanded into repeated edges: a bid goes to a volunteer, whose
slots are kept sorted by price; the bid displaces the holder of the cheapest slot.

The forward auction alone is not enough for this asymmetric problem: after epsilon
scaling a slot can be left free at a positive price, which breaks the dual argument.
Reverse steps (the free slot lowers its price to attract a person) remove such slots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INF = np.int64(2**62)
NEG = np.int64(-(2**62))
_MAX_ROUNDS = 5_000_000
# At most this many bidders (or volunteers to check in reverse), the rest of the forward
# (or reverse) part of a phase runs one step at a time in Python (Gauss-Seidel), see
# `Auction._forward_sequential`.
SEQUENTIAL_LIMIT = 8
_MAX_STEPS = 50_000_000


def segment_indices(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated ranges [start, start+length) and each range's offset in the result."""
    offsets = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths) > 1:
        np.cumsum(lengths[:-1], out=offsets[1:])
    total = int(lengths.sum())
    indices = np.arange(total, dtype=np.int64) - np.repeat(offsets - starts, lengths)
    return indices, offsets


def _first_per_segment(candidates: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """First position of `candidates` (sorted) in each segment, given each candidate's segment."""
    keep = np.ones(len(candidates), dtype=bool)
    keep[1:] = segment[1:] != segment[:-1]
    return candidates[keep]


def segment_top_two(
    values: np.ndarray, offsets: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per non-empty segment: max, position of the first max, and the max of the others.

    `values` is modified (the first max is overwritten) to avoid a copy.
    """
    segment = np.repeat(np.arange(len(offsets)), lengths)
    best = np.maximum.reduceat(values, offsets)
    candidates = np.flatnonzero(values == best[segment])
    best_position = _first_per_segment(candidates, segment[candidates])
    values[best_position] = NEG
    second = np.maximum.reduceat(values, offsets)
    return best, best_position, second


def _by_target_then_highest_bid(target: np.ndarray, bid: np.ndarray) -> np.ndarray:
    """`np.lexsort((-bid, target))`, cheaper when most targets get a single bid (usual).

    One integer argsort by target; only the blocks of targets with several bids are then
    ordered by bid. Both sorts are stable, so ties keep the same order as the lexsort.
    """
    order = np.argsort(target, kind="stable")
    target_sorted = target[order]
    shared = np.zeros(len(order), dtype=bool)
    same = target_sorted[1:] == target_sorted[:-1]
    shared[1:] |= same
    shared[:-1] |= same
    if shared.any():
        block = order[shared]
        order[shared] = block[np.lexsort((-bid[block], target[block]))]
    return order


@dataclass
class AuctionStats:
    phases: int = 0
    forward_rounds: int = 0
    reverse_rounds: int = 0
    bids: int = 0


class Auction:
    """The auction state on one candidate graph; `rebuild` carries prices to a wider graph."""

    def __init__(self, n_persons: int, n_objects: int, capacity: np.ndarray) -> None:
        self.n_persons = n_persons
        self.n_objects = n_objects
        self.capacity = capacity.astype(np.int64)  # true capacity per volunteer
        self.person_slot = np.full(n_persons, -1, dtype=np.int64)  # -1 bidding, -2 nothing
        self.person_edge = np.full(n_persons, -1, dtype=np.int64)
        self.profit = np.zeros(n_persons, dtype=np.int64)  # benefit - price of the held slot, else 0
        self.pending = np.zeros(n_objects, dtype=bool)  # may hold a free slot at a positive price
        self.slot_start = np.zeros(n_objects + 1, dtype=np.int64)
        self.slot_price = np.zeros(0, dtype=np.int64)
        self.slot_holder = np.zeros(0, dtype=np.int64)
        self.stats = AuctionStats()

    def grow(self, n_persons: int, capacity: np.ndarray) -> None:
        """Append persons and objects (capacity: of every object, old ones unchanged), keeping
        the state: new persons bid, new objects have no slots until `set_graph`."""
        extra_persons = n_persons - self.n_persons
        extra_objects = len(capacity) - self.n_objects
        if extra_persons < 0 or extra_objects < 0:
            raise ValueError("an auction only grows")
        self.person_slot = np.concatenate([self.person_slot, np.full(extra_persons, -1, dtype=np.int64)])
        self.person_edge = np.concatenate([self.person_edge, np.full(extra_persons, -1, dtype=np.int64)])
        self.profit = np.concatenate([self.profit, np.zeros(extra_persons, dtype=np.int64)])
        self.pending = np.concatenate([self.pending, np.zeros(extra_objects, dtype=bool)])
        self.slot_start = np.concatenate(
            [self.slot_start, np.full(extra_objects, self.slot_start[-1], dtype=np.int64)]
        )
        if hasattr(self, "p1"):
            self.p1 = np.concatenate([self.p1, np.full(extra_objects, INF, dtype=np.int64)])
            self.p2 = np.concatenate([self.p2, np.full(extra_objects, INF, dtype=np.int64)])
        self.capacity = capacity.astype(np.int64)
        self.n_persons, self.n_objects = n_persons, len(capacity)

    # ----------------------------------------------------------------- graph
    def set_graph(self, person: np.ndarray, volunteer: np.ndarray, benefit: np.ndarray) -> None:
        """Install edges (sorted by person, then volunteer), keeping prices and assignments."""
        n, m = self.n_persons, self.n_objects
        self.edge_person = person
        self.edge_volunteer = volunteer
        self.benefit = benefit
        self.indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(person, minlength=n), out=self.indptr[1:])
        self.degree = np.diff(self.indptr)
        by_volunteer = np.argsort(volunteer, kind="stable")
        self.volunteer_edges = by_volunteer
        self.volunteer_ptr = np.zeros(m + 1, dtype=np.int64)
        volunteer_degree = np.bincount(volunteer, minlength=m)
        np.cumsum(volunteer_degree, out=self.volunteer_ptr[1:])
        self.volunteer_degree = volunteer_degree

        # Slots: more than degree + 1 can never matter, one free slot at price 0 stands for
        # all spare capacity. Degrees only grow between calls, so slots only get added.
        old_slots = np.diff(self.slot_start)
        slots = np.minimum(self.capacity, volunteer_degree + 1)
        slots = np.maximum(slots, old_slots)
        slot_start = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(slots, out=slot_start[1:])
        slot_price = np.zeros(int(slot_start[-1]), dtype=np.int64)
        slot_holder = np.full(int(slot_start[-1]), -1, dtype=np.int64)
        old_index, _ = segment_indices(self.slot_start[:-1], old_slots)
        owner = np.repeat(np.arange(m), old_slots)
        new_index = slot_start[owner] + (old_index - self.slot_start[owner])
        slot_price[new_index] = self.slot_price
        slot_holder[new_index] = self.slot_holder
        self.slot_start, self.slot_price, self.slot_holder = slot_start, slot_price, slot_holder
        self.slots = slots
        self._resort(np.flatnonzero(slots > old_slots))
        self.person_slot[:] = np.where(self.person_slot >= 0, -1, self.person_slot)
        held = np.flatnonzero(slot_holder >= 0)
        self.person_slot[slot_holder[held]] = held
        self.slot_owner = np.repeat(np.arange(m), slots)

        # The edge each assigned person sits on, in the new numbering.
        keys = person * m + volunteer
        assigned = np.flatnonzero(self.person_slot >= 0)
        wanted = assigned * m + self.slot_owner[self.person_slot[assigned]]
        self.person_edge[:] = -1
        self.person_edge[assigned] = np.searchsorted(keys, wanted)
        self.profit[:] = 0
        self.profit[assigned] = (
            self.benefit[self.person_edge[assigned]] - slot_price[self.person_slot[assigned]]
        )
        self.pending |= np.diff(slot_start) > 0
        self._refresh_prices(np.arange(m))

    def _refresh_prices(self, volunteers: np.ndarray) -> None:
        """Cheapest (p1) and second cheapest (p2) slot price; INF where there is no such slot."""
        if not hasattr(self, "p1"):
            self.p1 = np.full(self.n_objects, INF, dtype=np.int64)
            self.p2 = np.full(self.n_objects, INF, dtype=np.int64)
        slots = self.slots[volunteers]
        start = self.slot_start[volunteers]
        last = max(len(self.slot_price) - 1, 0)
        price = self.slot_price if len(self.slot_price) else np.full(1, INF, dtype=np.int64)
        self.p1[volunteers] = np.where(slots >= 1, price[np.minimum(start, last)], INF)
        self.p2[volunteers] = np.where(slots >= 2, price[np.minimum(start + 1, last)], INF)

    def _resort(self, volunteers: np.ndarray) -> None:
        """Sort the slots of these volunteers by price (cheapest first), stably."""
        volunteers = volunteers[self.slots[volunteers] >= 2]
        if len(volunteers) == 0:
            return
        slots = self.slots[volunteers]
        small = slots <= 3
        # Two or three slots (the common case): bubble-sort network, a few array ops
        # instead of a lexsort; stable like it, so the result is the same.
        start = self.slot_start[volunteers[small]]
        three = start[slots[small] == 3]
        self._compare_swap(start, start + 1)
        self._compare_swap(three + 1, three + 2)
        self._compare_swap(three, three + 1)
        index = np.concatenate([start, start + 1, three + 2])
        holder = self.slot_holder[index]
        held = holder >= 0
        self.person_slot[holder[held]] = index[held]
        large = volunteers[~small]
        if len(large) == 0:
            return
        index, _ = segment_indices(self.slot_start[large], self.slots[large])
        owner = np.repeat(np.arange(len(large)), self.slots[large])
        order = index[np.lexsort((self.slot_price[index], owner))]
        price = self.slot_price[order]
        holder = self.slot_holder[order]
        self.slot_price[index] = price
        self.slot_holder[index] = holder
        held = holder >= 0
        self.person_slot[holder[held]] = index[held]

    def _compare_swap(self, first: np.ndarray, second: np.ndarray) -> None:
        """Swap price and holder of slot pairs whose first slot is dearer."""
        swap = self.slot_price[first] > self.slot_price[second]
        if not swap.any():
            return
        first, second = first[swap], second[swap]
        self.slot_price[first], self.slot_price[second] = self.slot_price[second], self.slot_price[first]
        self.slot_holder[first], self.slot_holder[second] = self.slot_holder[second], self.slot_holder[first]

    # ----------------------------------------------------------------- auction
    def best_values(self, persons: np.ndarray) -> np.ndarray:
        """max over each person's edges of benefit - cheapest slot price (persons with edges)."""
        index, offsets = segment_indices(self.indptr[persons], self.degree[persons])
        values = self.benefit[index] - self.p1[self.edge_volunteer[index]]
        return np.maximum.reduceat(values, offsets)

    def _forward_round(self, bidders: np.ndarray, eps: int) -> np.ndarray:
        lengths = self.degree[bidders]
        index, offsets = segment_indices(self.indptr[bidders], lengths)
        volunteer = self.edge_volunteer[index]
        values = self.benefit[index] - self.p1[volunteer]
        best, best_position, second = segment_top_two(values, offsets, lengths)
        best_edge = index[best_position]
        target = volunteer[best_position]
        second = np.maximum(np.maximum(second, self.benefit[best_edge] - self.p2[target]), 0)

        # Nothing beats every volunteer: the person stays unassigned (eps-CS holds at 0).
        rest = best <= 0
        self.person_slot[bidders[rest]] = -2
        self.profit[bidders[rest]] = 0
        keep = ~rest
        bidders, best_edge, target = bidders[keep], best_edge[keep], target[keep]
        bid = self.p1[target] + (best[keep] - second[keep]) + eps
        self.stats.bids += len(bidders)

        # Each volunteer takes its best bid; several when several slots tie at the cheapest
        # price (then every bid equals that price + eps, see the module docstring).
        order = _by_target_then_highest_bid(target, bid)
        target_sorted = target[order]
        group_start = np.ones(len(order), dtype=bool)
        group_start[1:] = target_sorted[1:] != target_sorted[:-1]
        first = np.flatnonzero(group_start)
        rank = np.arange(len(order)) - np.repeat(first, np.diff(np.append(first, len(order))))
        slots = self.slots[target_sorted]
        slot = self.slot_start[target_sorted] + np.minimum(rank, slots - 1)
        accept = (rank < slots) & ((rank == 0) | (self.slot_price[slot] == self.p1[target_sorted]))
        winners = order[accept]
        slot = slot[accept]
        displaced = self.slot_holder[slot]
        displaced = displaced[displaced >= 0]
        self.person_slot[displaced] = -1
        self.person_edge[displaced] = -1
        person = bidders[winners]
        self.slot_holder[slot] = person
        self.slot_price[slot] = bid[winners]
        self.person_slot[person] = slot
        self.person_edge[person] = best_edge[winners]
        self.profit[person] = self.benefit[best_edge[winners]] - bid[winners]
        changed = target_sorted[accept]
        distinct = np.ones(len(changed), dtype=bool)
        distinct[1:] = changed[1:] != changed[:-1]
        changed = changed[distinct]  # sorted, so this is np.unique without the sort
        self._resort(changed)
        self._refresh_prices(changed)
        losers = bidders[order[~accept]]
        return np.concatenate([losers, displaced])

    def _reverse_round(self, eps: int) -> bool:
        # Only volunteers that lost a holder since they were last checked can have a free
        # slot at a positive price; scanning all slots every round would dominate.
        candidates = np.flatnonzero(self.pending)
        if len(candidates) == 0:
            return False
        index, _ = segment_indices(self.slot_start[candidates], self.slots[candidates])
        free = index[(self.slot_holder[index] < 0) & (self.slot_price[index] > 0)]
        self.pending[candidates] = False
        if len(free) == 0:
            return False
        owner = self.slot_owner[free]
        first = np.ones(len(free), dtype=bool)
        first[1:] = owner[1:] != owner[:-1]
        self.pending[owner[~first]] = True  # more free slots: next round
        free, owner = free[first], owner[first]  # one free slot per volunteer per round

        lengths = self.volunteer_degree[owner]
        index, offsets = segment_indices(self.volunteer_ptr[owner], lengths)
        edge = self.volunteer_edges[index]
        person = self.edge_person[edge]
        values = self.benefit[edge] - self.profit[person]
        # Holders of this volunteer are not courted: moving between identical slots would
        # only trade prices back and forth. `flatten_prices` settles what they pay.
        held = self.person_slot[person]
        own = np.flatnonzero(held >= 0)
        own = own[self.slot_owner[held[own]] == np.repeat(owner, lengths)[own]]
        values[own] = NEG
        best, best_position, second = segment_top_two(values, offsets, lengths)

        # Nobody gains eps from this slot even at price 0: drop its price to 0 and leave it.
        drop = best <= eps
        self.slot_price[free[drop]] = 0
        dropped_owner = owner[drop]
        keep = ~drop
        free, owner = free[keep], owner[keep]
        best_edge = edge[best_position[keep]]
        chosen = person[best_position[keep]]
        price = np.maximum(second[keep] - eps, 0)
        new_profit = self.benefit[best_edge] - price

        # A person courted by several slots takes the most profitable; the others retry.
        order = np.lexsort((-new_profit, chosen))
        chosen_sorted = chosen[order]
        take = np.ones(len(order), dtype=bool)
        take[1:] = chosen_sorted[1:] != chosen_sorted[:-1]
        take = order[take]
        person, slot, edge_taken = chosen[take], free[take], best_edge[take]
        old_slot = self.person_slot[person]
        old_slot = old_slot[old_slot >= 0]
        self.slot_holder[old_slot] = -1  # keeps its price: next round's business
        self.pending[self.slot_owner[old_slot]] = True
        not_taken = np.ones(len(free), dtype=bool)
        not_taken[take] = False
        self.pending[owner[not_taken]] = True  # courted persons went elsewhere: retry
        self.slot_holder[slot] = person
        self.slot_price[slot] = price[take]
        self.person_slot[person] = slot
        self.person_edge[person] = edge_taken
        self.profit[person] = self.benefit[edge_taken] - price[take]
        mark = np.zeros(self.n_objects, dtype=bool)  # cheaper than np.unique's hashing
        mark[self.slot_owner[slot]] = True
        mark[dropped_owner] = True
        changed = np.flatnonzero(mark)
        self._resort(changed)
        self._refresh_prices(changed)
        return True

    def _forward_sequential(self, bidders: np.ndarray, eps: int) -> None:
        """Forward bids one person at a time until nobody bids (Gauss-Seidel).

        The same step as a Jacobi round with a single bidder, so eps-complementary slackness
        holds as there; a displaced holder joins the queue, which therefore never grows.
        """
        indptr, benefit, edge_volunteer = self.indptr, self.benefit, self.edge_volunteer
        p1, p2, slots, slot_start = self.p1, self.p2, self.slots, self.slot_start
        slot_price, slot_holder = self.slot_price, self.slot_holder
        person_slot, person_edge, profit = self.person_slot, self.person_edge, self.profit
        queue = [int(b) for b in bidders]
        steps = 0
        while queue:
            person = queue.pop()
            steps += 1
            if steps > _MAX_STEPS:
                raise RuntimeError("auction did not converge")
            start, end = int(indptr[person]), int(indptr[person + 1])
            volunteers = edge_volunteer[start:end]
            values = benefit[start:end] - p1[volunteers]
            position = int(values.argmax())
            best = int(values[position])
            if best <= 0:
                person_slot[person] = -2  # nothing beats every volunteer (eps-CS holds at 0)
                profit[person] = 0
                continue
            edge = start + position
            target = int(volunteers[position])
            second = int(benefit[edge]) - int(p2[target])
            if end - start > 1:
                values[position] = NEG
                second = max(second, int(values.max()))
            second = max(second, 0)
            bid = int(p1[target]) + best - second + eps
            self.stats.bids += 1
            slot = int(slot_start[target])
            displaced = int(slot_holder[slot])
            if displaced >= 0:
                person_slot[displaced] = -1
                person_edge[displaced] = -1
                queue.append(displaced)
            self._hand_slot(slot, person, edge, bid)
            # The cheapest slot got dearer: move it behind the cheaper ones (stable, as `_resort`).
            last = slot + int(slots[target]) - 1
            while slot < last and int(slot_price[slot + 1]) < bid:
                self._swap_slots(slot, slot + 1)
                slot += 1
            first = int(slot_start[target])
            p1[target] = slot_price[first]
            p2[target] = slot_price[first + 1] if last > first else INF
        self.stats.forward_rounds += steps

    def _hand_slot(self, slot: int, person: int, edge: int, price: int) -> None:
        """`person` holds `slot` at `price`, through `edge` (one step of either direction)."""
        self.slot_holder[slot] = person
        self.slot_price[slot] = price
        self.person_slot[person] = slot
        self.person_edge[person] = edge
        self.profit[person] = int(self.benefit[edge]) - price

    def _swap_slots(self, slot: int, other: int) -> None:
        """Swap price and holder of two slots of one volunteer, and the holders' slots."""
        price, holder = self.slot_price, self.slot_holder
        price[slot], price[other] = price[other], price[slot]
        holder[slot], holder[other] = holder[other], holder[slot]
        for index in (slot, other):
            if holder[index] >= 0:
                self.person_slot[holder[index]] = index

    def _reverse_sequential(self, eps: int) -> None:
        """Reverse steps one volunteer at a time until no free slot has a positive price.

        The same step as `_reverse_round` for a single volunteer: its cheapest free slot at
        a positive price courts the person that gains most (at the second best - eps) or
        drops to 0 when nobody gains eps.
        """
        benefit, profit, edge_person = self.benefit, self.profit, self.edge_person
        slot_price, slot_holder, slot_owner = self.slot_price, self.slot_holder, self.slot_owner
        person_slot, pending = self.person_slot, self.pending
        slot_start, slots = self.slot_start, self.slots
        queue = [int(v) for v in np.flatnonzero(pending)]
        steps = 0
        while queue:
            owner = queue.pop()
            if not pending[owner]:
                continue
            pending[owner] = False
            first, end = int(slot_start[owner]), int(slot_start[owner] + slots[owner])
            free = [s for s in range(first, end) if slot_holder[s] < 0 and slot_price[s] > 0]
            if not free:
                continue
            steps += 1
            if steps > _MAX_STEPS:
                raise RuntimeError("auction did not converge")
            if len(free) > 1:
                pending[owner] = True  # more free slots: next step
                queue.append(owner)
            slot = free[0]
            edges = self.volunteer_edges[self.volunteer_ptr[owner] : self.volunteer_ptr[owner + 1]]
            persons = edge_person[edges]
            values = benefit[edges] - profit[persons]
            held = person_slot[persons]
            own = held >= 0
            own[own] = slot_owner[held[own]] == owner  # its holders are not courted
            values[own] = NEG
            if len(values) == 0 or int(values.max()) <= eps:
                slot_price[slot] = 0  # nobody gains eps even at price 0
                price = 0
            else:
                position = int(values.argmax())
                best_edge = int(edges[position])
                chosen = int(persons[position])
                values[position] = NEG
                second = int(values.max()) if len(values) > 1 else NEG
                price = max(second - eps, 0)
                old_slot = int(person_slot[chosen])
                if old_slot >= 0:
                    slot_holder[old_slot] = -1  # keeps its price: its owner is checked later
                    old_owner = int(slot_owner[old_slot])
                    pending[old_owner] = True
                    queue.append(old_owner)
                self._hand_slot(slot, chosen, best_edge, price)
            # The slot got cheaper: move it before the dearer ones (stable, as `_resort`).
            while slot > first and int(slot_price[slot - 1]) > price:
                self._swap_slots(slot - 1, slot)
                slot -= 1
            self.p1[owner] = slot_price[first]
            self.p2[owner] = slot_price[first + 1] if end - first > 1 else INF
        self.stats.reverse_rounds += steps

    def flatten_prices(self) -> None:
        """Let every holder pay its volunteer's cheapest slot price.

        Always safe: the cheapest price, which is what everybody else compares, does not
        change, and holders only gain. Afterwards a volunteer's dual is what each holder pays.
        """
        held = np.flatnonzero(self.slot_holder >= 0)
        cheapest = self.p1[self.slot_owner[held]]
        self.slot_price[held] = cheapest
        holder = self.slot_holder[held]
        self.profit[holder] = self.benefit[self.person_edge[holder]] - cheapest
        self._resort(np.flatnonzero(self.slots >= 2))
        self._refresh_prices(np.arange(self.n_objects))

    def lower_prices(self, amount: int) -> None:
        """Lower every slot price by `amount` (not below 0): P <- max(0, P - amount).

        Between phases only: slots stay sorted (the map is monotone), holders keep their
        slots and gain, and `run_phase` releases whoever then violates eps-slackness.
        """
        if amount <= 0 or len(self.slot_price) == 0:
            return
        np.subtract(self.slot_price, amount, out=self.slot_price)
        np.maximum(self.slot_price, 0, out=self.slot_price)
        held = np.flatnonzero(self.slot_holder >= 0)
        holder = self.slot_holder[held]
        self.profit[holder] = self.benefit[self.person_edge[holder]] - self.slot_price[held]
        self._refresh_prices(np.arange(self.n_objects))

    def install(self, person_edge: np.ndarray, price: np.ndarray) -> None:
        """Take an exactly optimal assignment and its duals as the state (after `set_graph`).

        `person_edge[r]` is r's edge or -1, `price[v]` a dual price (0 where v has spare
        capacity, see `exact.least_duals`). Every person is then 0-happy, no free slot has
        a positive price, so a later warm `run_phase` continues from here.
        """
        self.slot_holder[:] = -1
        self.slot_price[:] = 0
        self.pending[:] = False
        assigned = np.flatnonzero(person_edge >= 0)
        volunteer = self.edge_volunteer[person_edge[assigned]]
        order = np.argsort(volunteer, kind="stable")
        assigned, volunteer = assigned[order], volunteer[order]
        load = np.bincount(volunteer, minlength=self.n_objects)
        first = np.zeros(self.n_objects, dtype=np.int64)
        np.cumsum(load[:-1], out=first[1:])
        slot = self.slot_start[volunteer] + (np.arange(len(assigned)) - first[volunteer])
        self.slot_holder[slot] = assigned
        self.slot_price[slot] = price[volunteer]  # free slots stay at 0, where price is 0 too
        self.person_slot[:] = np.where(self.degree > 0, -2, -1)
        self.person_slot[assigned] = slot
        self.person_edge[:] = -1
        self.person_edge[assigned] = person_edge[assigned]
        self.profit[:] = 0
        self.profit[assigned] = self.benefit[person_edge[assigned]] - price[volunteer]
        self._refresh_prices(np.arange(self.n_objects))

    def run_phase(self, eps: int, final: bool) -> None:
        """Restore eps-complementary slackness for every person, then run to a stable state.

        Free slots at positive prices only matter for the final dual argument, so the
        reverse steps that remove them run in the final phase only.
        """
        persons = np.flatnonzero(self.degree > 0)
        if len(persons) == 0:
            return
        best = np.maximum(self.best_values(persons), 0)  # staying unassigned is worth 0
        slot = self.person_slot[persons]
        violating = (slot == -1) | (self.profit[persons] < best - eps)
        bidders = persons[violating]
        held = self.person_slot[bidders]
        held = held[held >= 0]
        self.slot_holder[held] = -1  # the slot keeps its price; a reverse step may lower it
        self.pending[self.slot_owner[held]] = True
        self.person_slot[bidders] = -1
        self.person_edge[bidders] = -1
        self.stats.phases += 1
        rounds = 0
        while True:
            while len(bidders):
                if len(bidders) <= SEQUENTIAL_LIMIT:
                    # Few bidders: one bid at a time in Python is cheaper than a round of
                    # a few dozen NumPy calls (late in a phase most rounds have 1-4 bidders).
                    self._forward_sequential(bidders, eps)
                    bidders = bidders[:0]
                    break
                bidders = self._forward_round(bidders, eps)
                self.stats.forward_rounds += 1
                rounds += 1
                if rounds > _MAX_ROUNDS:
                    raise RuntimeError("auction did not converge")
            if not final:
                break
            pending = np.count_nonzero(self.pending)
            if 0 < pending <= SEQUENTIAL_LIMIT:
                self._reverse_sequential(eps)
                break
            if not self._reverse_round(eps):
                break
            self.stats.reverse_rounds += 1
            rounds += 1
        if final:
            self.flatten_prices()
