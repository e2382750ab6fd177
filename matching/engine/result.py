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


@dataclass(frozen=True)
class Scale:
    """Integer benefits: M * (rank(priority) * big - round(km * per_km)), see docs/engine.md."""

    per_km: float  # integer units per km
    big: int  # one priority rank is worth more than any total of rounded km
    multiplier: int  # M > number of requests, so eps = 1 is below 1/n of a unit
    ranks: np.ndarray = field(repr=False)  # dense rank (1..K) of each request's priority

    def benefit(self, requests: np.ndarray, km: np.ndarray) -> np.ndarray:
        units = np.rint(km * self.per_km).astype(np.int64)
        return self.multiplier * (self.ranks[requests] * self.big - units)

    def benefit_upper_bound(self, requests: np.ndarray, km_at_least: np.ndarray) -> np.ndarray:
        """Largest benefit a pair of these requests at >= km_at_least could have."""
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
            "unassigned": [{"request": item.request, "reason": item.reason} for item in self.unassigned],
            "matched": self.matched,
            "total_priority": self.total_priority,
            "total_km": self.total_km,
            "certificate": self.certificate,
        }
