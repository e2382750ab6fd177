"""The result of a solve, and its JSON form (the spec's keys plus "certificate")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

REASONS = ("no_skill", "out_of_range", "no_common_slot", "excluded", "capacity")


@dataclass(frozen=True)
class Assignment:
    request: str
    volunteer: str
    km: float


@dataclass(frozen=True)
class Unassigned:
    request: str
    reason: str
    places: int = 1  # places left unfilled (version 2's `needs` minus the pairs it got)


@dataclass(frozen=True)
class Scale:
    """Integer benefits M * (rank(priority) * big - round(cost * per_km)), see docs/engine.md.

    cost(r, v) = km + extra_km[v] - (bonus_km if (r, v) is preferred else 0), the contract's
    version 2 cost (the km when no version 2 field is used).
    """

    per_km: float  # integer units per km
    big: int  # one priority rank is worth more than any difference of rounded cost totals
    multiplier: int  # M > number of persons of the graph, so eps = 1 is below 1/n of a unit
    ranks: np.ndarray = field(repr=False)  # dense rank (1..K) of each request's priority
    extra_km: np.ndarray | None = field(default=None, repr=False)  # per volunteer, >= 0
    bonus_km: float = 0.0
    preferred_keys: np.ndarray | None = field(default=None, repr=False)  # sorted r * n_volunteers + v
    n_volunteers: int = 1
    lap_only: bool = False  # units too fine for the auction's M: LAPJVsp solves (M = 1)

    def cost_km(self, requests: np.ndarray, volunteers: np.ndarray, km: np.ndarray) -> np.ndarray:
        """The contract's cost of each pair (km + extra_km - continuity bonus)."""
        cost = np.asarray(km, dtype=np.float64)
        if self.extra_km is not None and len(self.extra_km):
            cost = cost + self.extra_km[volunteers]
        if self.bonus_km > 0 and self.preferred_keys is not None and len(self.preferred_keys):
            cost = cost - self.bonus_km * self.is_preferred(requests, volunteers)
        return cost

    def is_preferred(self, requests: np.ndarray, volunteers: np.ndarray) -> np.ndarray:
        keys_all = self.preferred_keys
        if keys_all is None or len(keys_all) == 0:
            return np.zeros(len(requests), dtype=bool)
        keys = np.asarray(requests, dtype=np.int64) * max(self.n_volunteers, 1) + volunteers
        position = np.minimum(np.searchsorted(keys_all, keys), len(keys_all) - 1)
        return keys_all[position] == keys

    def units(self, requests: np.ndarray, volunteers: np.ndarray, km: np.ndarray) -> np.ndarray:
        return np.rint(self.cost_km(requests, volunteers, km) * self.per_km).astype(np.int64)

    def benefit(self, requests: np.ndarray, volunteers: np.ndarray, km: np.ndarray) -> np.ndarray:
        units = self.units(requests, volunteers, km)
        return self.multiplier * (self.ranks[requests] * self.big - units)

    def benefit_upper_bound(self, requests: np.ndarray, km_at_least: np.ndarray) -> np.ndarray:
        """Largest benefit a pair of these requests at >= km_at_least could have, for pairs
        that are not preferred (those are always in the graph): extra_km >= 0 only adds."""
        units = np.floor(np.minimum(km_at_least, 1e12) * self.per_km).astype(np.int64)
        return self.multiplier * (self.ranks[requests] * self.big - units)


@dataclass
class Result:
    """An optimal assignment; `certificate` says how optimality was proven."""

    assignments: list[Assignment]
    unassigned: list[Unassigned]
    matched: int
    total_priority: int
    total_km: float
    certificate: dict[str, Any]
    total_cost: float | None = None  # None: equal to total_km (no version 2 field used)
    # Dual prices of the volunteers in `scale` units, for `certify` (not part of the JSON).
    volunteer_duals: np.ndarray | None = field(default=None, repr=False)
    scale: Scale | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The spec's result object, plus the "certificate" key."""
        return {
            "assignments": [
                {"request": item.request, "volunteer": item.volunteer, "km": item.km}
                for item in self.assignments
            ],
            "unassigned": [
                {"request": item.request, "places": item.places, "reason": item.reason}
                for item in self.unassigned
            ],
            "matched": self.matched,
            "total_priority": self.total_priority,
            "total_km": self.total_km,
            "total_cost": self.total_km if self.total_cost is None else self.total_cost,
            "certificate": self.certificate,
        }
