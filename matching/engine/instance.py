"""The instance: validation of the JSON-shaped dict and its array form.

`parse_instance` checks every record against the contract (docs/matching-contract.md) and raises
`InvalidInstance` with one line naming the record and the field. The returned `Instance`
holds NumPy arrays only, so the solver never touches Python dicts again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any

import numpy as np

from matching.engine.geometry import unit_xyz


class InvalidInstance(ValueError):
    """The instance breaks the contract; the message is one line naming record and field."""


@dataclass(frozen=True, eq=False)
class Instance:
    """A validated instance in array form (row i of each request array is `request_ids[i]`).

    Skills and slots are bitsets (`uint64` words, one row per person) over the skills that
    some request needs and the slots that some volunteer offers; anything outside those
    can never make a pair feasible, so it is dropped.
    """

    request_ids: list[str]
    request_xyz: np.ndarray  # (n, 3) unit vectors
    request_priority: np.ndarray  # (n,) int64 >= 1 (object dtype if some exceed int64)
    request_skills: np.ndarray  # (n, skill_words) uint64
    request_slots: np.ndarray  # (n, slot_words) uint64, only slots some volunteer offers
    request_any_slot: np.ndarray  # (n,) bool: empty slot list, fits any slot
    volunteer_ids: list[str]
    volunteer_xyz: np.ndarray  # (m, 3)
    volunteer_max_km: np.ndarray  # (m,) float64 > 0
    volunteer_capacity: np.ndarray  # (m,) int64 >= 0
    volunteer_skills: np.ndarray  # (m, skill_words) uint64
    volunteer_slots: np.ndarray  # (m, slot_words) uint64
    exclude_request: np.ndarray  # (e,) int64 request index
    exclude_volunteer: np.ndarray  # (e,) int64 volunteer index
    # Degrees as given (lat, lon): rule 3 at the boundary is decided by geopy's own formula.
    request_latlon: np.ndarray  # (n, 2) float64
    volunteer_latlon: np.ndarray  # (m, 2) float64
    # Version 2 (defaults give version 1's meaning).
    request_needs: np.ndarray | None = None  # (n,) int64 >= 1, capped at the number of volunteers
    request_needs_given: list[int] | None = None  # as written (may exceed int64), for `places`
    volunteer_extra_km: np.ndarray | None = None  # (m,) float64 >= 0
    preferred_request: np.ndarray | None = None  # (p,) int64: (request, volunteer) pairs, unique
    preferred_volunteer: np.ndarray | None = None
    continuity_bonus_km: float = 0.0

    def __post_init__(self) -> None:
        n, m = len(self.request_ids), len(self.volunteer_ids)
        empty = np.zeros(0, dtype=np.int64)
        defaults = {
            "request_needs": np.ones(n, dtype=np.int64),
            "volunteer_extra_km": np.zeros(m),
            "preferred_request": empty,
            "preferred_volunteer": empty,
        }
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if self.request_needs_given is None:
            object.__setattr__(self, "request_needs_given", [int(x) for x in self.request_needs])

    @property
    def uses_version_2(self) -> bool:
        """Whether any version 2 field changes costs or places."""
        return bool(
            (self.request_needs > 1).any()
            or (self.volunteer_extra_km > 0).any()
            or (self.continuity_bonus_km > 0 and len(self.preferred_request) > 0)
        )

    def preferred_keys(self) -> np.ndarray:
        """Sorted unique `request * n_volunteers + volunteer` keys of the preferred pairs."""
        return np.unique(self.preferred_request * max(self.n_volunteers, 1) + self.preferred_volunteer)

    @property
    def n_requests(self) -> int:
        return len(self.request_ids)

    @property
    def n_volunteers(self) -> int:
        return len(self.volunteer_ids)

    def excluded_keys(self) -> np.ndarray:
        """Sorted unique `request * n_volunteers + volunteer` keys of the excluded pairs."""
        return np.unique(self.exclude_request * max(self.n_volunteers, 1) + self.exclude_volunteer)


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return type(value).__name__ if isinstance(value, list) else "object"
    return repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    # JSON has one number type; 2.0 is accepted as the integer 2, 2.5 is not.
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


class _Record:
    """Reads fields of one record, raising InvalidInstance that names the record."""

    def __init__(self, kind: str, index: int, data: Any) -> None:
        self.label = f"{kind}[{index}]"
        if not isinstance(data, dict):
            raise InvalidInstance(f"{self.label}: expected an object, got {_describe(data)}")
        self.data = data
        record_id = data.get("id")
        if isinstance(record_id, str) and record_id:
            self.label = f'{self.label} ("{record_id}")'

    def fail(self, message: str) -> InvalidInstance:
        return InvalidInstance(f"{self.label}: {message}")

    def get(self, field: str, default: Any = ...) -> Any:
        if field not in self.data:
            if default is ...:
                raise self.fail(f'missing field "{field}"')
            return default
        return self.data[field]

    def identifier(self) -> str:
        value = self.get("id")
        if not isinstance(value, str):
            raise self.fail(f"id must be a string, got {_describe(value)}")
        if not value:
            raise self.fail("id must not be empty")
        return value

    def number(self, field: str, low: float, high: float, *, low_open: bool = False) -> float:
        value = self.get(field)
        if not _is_number(value):
            raise self.fail(f"{field} must be a number, got {_describe(value)}")
        try:
            value = float(value)
        except OverflowError:  # a JSON integer beyond float range (e.g. 400 digits)
            raise self.fail(f"{field} is not a finite number (an integer too large for a float)") from None
        if not math.isfinite(value):
            raise self.fail(f"{field} {value} is not a finite number")
        if low_open and value <= low:
            raise self.fail(f"{field} {value} must be > {low:g}")
        if not low_open and not low <= value <= high:
            raise self.fail(f"{field} {value} is outside {low:g}..{high:g}")
        return value

    def integer(self, field: str, minimum: int, default: int) -> int:
        value = self.get(field, default)
        if not _is_integer(value):
            raise self.fail(f"{field} must be an integer, got {_describe(value)}")
        value = int(value)
        if value < minimum:
            raise self.fail(f"{field} {value} must be >= {minimum}")
        return value

    def strings(self, field: str) -> list[str]:
        value = self.get(field)
        if not isinstance(value, list):
            raise self.fail(f"{field} must be a list of strings, got {_describe(value)}")
        for position, item in enumerate(value):
            if not isinstance(item, str):
                raise self.fail(f"{field}[{position}] must be a string, got {_describe(item)}")
        return value

    def integers(self, field: str) -> list[int]:
        value = self.get(field)
        if not isinstance(value, list):
            raise self.fail(f"{field} must be a list of integers, got {_describe(value)}")
        for position, item in enumerate(value):
            if not _is_integer(item):
                raise self.fail(f"{field}[{position}] must be an integer, got {_describe(item)}")
        return [int(item) for item in value]


def _bitsets(rows: list[list], index: dict, words: int) -> np.ndarray:
    """One row of `words` uint64 per input row, bit `index[item]` set for each known item."""
    bits = np.zeros((len(rows), words), dtype=np.uint64)
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    total = int(lengths.sum())
    if total == 0:
        return bits
    # index.get over every item in C (map), not a Python loop: 0.2 s less at 100k x 100k.
    position_array = np.fromiter(
        map(index.get, chain.from_iterable(rows), repeat(-1)), dtype=np.int64, count=total
    )
    row_array = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
    known = position_array >= 0
    row_array, position_array = row_array[known], position_array[known]
    values = np.left_shift(np.uint64(1), (position_array % 64).astype(np.uint64))
    np.bitwise_or.at(bits, (row_array, position_array // 64), values)
    return bits


def _list(data: dict, field: str, *, required: bool) -> list:
    if field not in data:
        if required:
            raise InvalidInstance(f'instance: missing field "{field}"')
        return []
    value = data[field]
    if not isinstance(value, list):
        raise InvalidInstance(f"instance: {field} must be a list, got {_describe(value)}")
    return value


def _requests_checked(raw_requests: list) -> tuple:
    """Every request record, each field checked with a message naming record and field."""
    request_ids: list[str] = []
    request_coords: list[tuple[float, float]] = []
    request_priority: list[int] = []
    request_skills: list[list[str]] = []
    request_slots: list[list[int]] = []
    request_index: dict[str, int] = {}
    request_needs: list[int] = []
    request_preferred: list[list[str]] = []
    for position, raw in enumerate(raw_requests):
        record = _Record("requests", position, raw)
        request_id = record.identifier()
        if request_id in request_index:
            raise record.fail(f'duplicate id "{request_id}" (also requests[{request_index[request_id]}])')
        request_index[request_id] = position
        request_ids.append(request_id)
        request_coords.append((record.number("lat", -90, 90), record.number("lon", -180, 180)))
        request_skills.append(record.strings("skills"))
        request_slots.append(record.integers("slots"))
        request_priority.append(record.integer("priority", 1, 1))
        request_needs.append(record.integer("needs", 1, 1))
        request_preferred.append(record.strings("preferred") if "preferred" in record.data else [])

    return (
        request_ids,
        request_coords,
        request_priority,
        request_skills,
        request_slots,
        request_index,
        request_needs,
        request_preferred,
    )


def _volunteers_checked(raw_volunteers: list, request_count: int) -> tuple:
    """Every volunteer record, each field checked with a message naming record and field."""
    volunteer_ids: list[str] = []
    volunteer_coords: list[tuple[float, float]] = []
    volunteer_max_km: list[float] = []
    volunteer_capacity: list[int] = []
    volunteer_skills: list[list[str]] = []
    volunteer_slots: list[list[int]] = []
    volunteer_index: dict[str, int] = {}
    volunteer_extra_km: list[float] = []
    for position, raw in enumerate(raw_volunteers):
        record = _Record("volunteers", position, raw)
        volunteer_id = record.identifier()
        if volunteer_id in volunteer_index:
            raise record.fail(
                f'duplicate id "{volunteer_id}" (also volunteers[{volunteer_index[volunteer_id]}])'
            )
        volunteer_index[volunteer_id] = position
        volunteer_ids.append(volunteer_id)
        volunteer_coords.append((record.number("lat", -90, 90), record.number("lon", -180, 180)))
        volunteer_skills.append(record.strings("skills"))
        volunteer_slots.append(record.integers("slots"))
        volunteer_max_km.append(record.number("max_km", 0, math.inf, low_open=True))
        # A volunteer never takes more than every request: larger capacities (legal JSON
        # integers of any size) are capped so that they fit int64.
        volunteer_capacity.append(min(record.integer("capacity", 0, 1), request_count))
        volunteer_extra_km.append(
            record.number("extra_km", 0, math.inf) if "extra_km" in record.data else 0.0
        )

    return (
        volunteer_ids,
        volunteer_coords,
        volunteer_max_km,
        volunteer_capacity,
        volunteer_skills,
        volunteer_slots,
        volunteer_index,
        volunteer_extra_km,
    )


_PLAIN_NUMBERS = (int, float)  # exact types: a bool is not a number here


def _finite(value: Any) -> float | None:
    """A JSON number as a finite float, or None (then the careful reader says why)."""
    if type(value) not in _PLAIN_NUMBERS:
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _all_strings(value: Any) -> bool:
    return type(value) is list and set(map(type, value)) <= {str}


def _all_integers(value: Any) -> bool:
    return type(value) is list and set(map(type, value)) <= {int}  # exact: no bools


def _requests_quick(raw_requests: list) -> tuple | None:
    """The request records when every one is in its plain form: the same lists as
    `_requests_checked` (at 100k records about three times quicker), or None."""
    request_ids: list[str] = []
    request_coords: list[tuple[float, float]] = []
    request_priority: list[int] = []
    request_skills: list[list[str]] = []
    request_slots: list[list[int]] = []
    request_index: dict[str, int] = {}
    request_needs: list[int] = []
    request_preferred: list[list[str]] = []
    for position, raw in enumerate(raw_requests):
        if type(raw) is not dict:
            return None
        request_id = raw.get("id")
        lat, lon = _finite(raw.get("lat")), _finite(raw.get("lon"))
        skills, slots = raw.get("skills"), raw.get("slots")
        priority, needs = raw.get("priority", 1), raw.get("needs", 1)
        preferred = raw.get("preferred", [])
        if not (
            type(request_id) is str
            and request_id
            and request_id not in request_index
            and lat is not None
            and -90 <= lat <= 90
            and lon is not None
            and -180 <= lon <= 180
            and _all_strings(skills)
            and _all_integers(slots)
            and type(priority) is int
            and priority >= 1
            and type(needs) is int
            and needs >= 1
            and _all_strings(preferred)
        ):
            return None
        request_index[request_id] = position
        request_ids.append(request_id)
        request_coords.append((lat, lon))
        request_skills.append(skills)
        request_slots.append(slots)
        request_priority.append(priority)
        request_needs.append(needs)
        request_preferred.append(preferred)
    return (
        request_ids,
        request_coords,
        request_priority,
        request_skills,
        request_slots,
        request_index,
        request_needs,
        request_preferred,
    )


def _volunteers_quick(raw_volunteers: list, request_count: int) -> tuple | None:
    """The volunteer records when every one is in its plain form: the same lists as
    `_volunteers_checked`, or None."""
    volunteer_ids: list[str] = []
    volunteer_coords: list[tuple[float, float]] = []
    volunteer_max_km: list[float] = []
    volunteer_capacity: list[int] = []
    volunteer_skills: list[list[str]] = []
    volunteer_slots: list[list[int]] = []
    volunteer_index: dict[str, int] = {}
    volunteer_extra_km: list[float] = []
    for position, raw in enumerate(raw_volunteers):
        if type(raw) is not dict:
            return None
        volunteer_id = raw.get("id")
        lat, lon = _finite(raw.get("lat")), _finite(raw.get("lon"))
        skills, slots = raw.get("skills"), raw.get("slots")
        max_km, capacity = _finite(raw.get("max_km")), raw.get("capacity", 1)
        extra_km = _finite(raw.get("extra_km", 0.0))
        if not (
            type(volunteer_id) is str
            and volunteer_id
            and volunteer_id not in volunteer_index
            and lat is not None
            and -90 <= lat <= 90
            and lon is not None
            and -180 <= lon <= 180
            and _all_strings(skills)
            and _all_integers(slots)
            and max_km is not None
            and max_km > 0
            and type(capacity) is int
            and capacity >= 0
            and extra_km is not None
            and extra_km >= 0
        ):
            return None
        volunteer_index[volunteer_id] = position
        volunteer_ids.append(volunteer_id)
        volunteer_coords.append((lat, lon))
        volunteer_skills.append(skills)
        volunteer_slots.append(slots)
        volunteer_max_km.append(max_km)
        volunteer_capacity.append(min(capacity, request_count))
        volunteer_extra_km.append(extra_km)
    return (
        volunteer_ids,
        volunteer_coords,
        volunteer_max_km,
        volunteer_capacity,
        volunteer_skills,
        volunteer_slots,
        volunteer_index,
        volunteer_extra_km,
    )


def parse_instance(data: dict) -> Instance:
    """Validate an instance dict (the spec's JSON) and return its array form.

    Raises `InvalidInstance` with one line naming the offending record and field, e.g.
    ``volunteers[12] ("v13"): lat 91.0 is outside -90..90``.
    """
    if not isinstance(data, dict):
        raise InvalidInstance(f"instance: expected an object, got {_describe(data)}")
    raw_requests = _list(data, "requests", required=True)
    raw_volunteers = _list(data, "volunteers", required=True)
    raw_exclude = _list(data, "exclude", required=False)
    bonus = 0.0
    if "continuity_bonus_km" in data:
        top = _Record("instance", 0, data)
        top.label = "instance"
        bonus = top.number("continuity_bonus_km", 0, math.inf)

    # The common case is read by the quick readers; any record they do not take as it is
    # (an error to name, or a legal form they leave out, such as 2.0 for an integer) sends
    # the whole list through the careful ones, which name the first problem.
    (
        request_ids,
        request_coords,
        request_priority,
        request_skills,
        request_slots,
        request_index,
        request_needs,
        request_preferred,
    ) = _requests_quick(raw_requests) or _requests_checked(raw_requests)
    (volunteer_ids, volunteer_coords, volunteer_max_km, volunteer_capacity, volunteer_skills,
     volunteer_slots, volunteer_index, volunteer_extra_km) = _volunteers_quick(
        raw_volunteers, len(raw_requests)
    ) or _volunteers_checked(raw_volunteers, len(raw_requests))  # fmt: skip

    exclude_request: list[int] = []
    exclude_volunteer: list[int] = []
    for position, pair in enumerate(raw_exclude):
        label = f"exclude[{position}]"
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(item, str) for item in pair)):
            raise InvalidInstance(
                f"{label}: expected a pair [request id, volunteer id], got {_describe(pair)}"
            )
        if pair[0] not in request_index:
            raise InvalidInstance(f'{label}: unknown request id "{pair[0]}"')
        if pair[1] not in volunteer_index:
            raise InvalidInstance(f'{label}: unknown volunteer id "{pair[1]}"')
        exclude_request.append(request_index[pair[0]])
        exclude_volunteer.append(volunteer_index[pair[1]])

    # Preferred ids that name no volunteer are ignored; an id listed twice counts once.
    preferred_pairs = sorted(
        {
            (r, volunteer_index[vid])
            for r, listed in enumerate(request_preferred)
            for vid in listed
            if vid in volunteer_index
        }
    )

    # Bit positions: only skills some request needs and slots some volunteer offers matter.
    skill_index = {skill: i for i, skill in enumerate(sorted({s for row in request_skills for s in row}))}
    slot_index = {slot: i for i, slot in enumerate(sorted({s for row in volunteer_slots for s in row}))}
    skill_words = max(1, -(-len(skill_index) // 64))
    slot_words = max(1, -(-len(slot_index) // 64))

    request_latlon = np.asarray(request_coords, dtype=np.float64).reshape(-1, 2)
    volunteer_latlon = np.asarray(volunteer_coords, dtype=np.float64).reshape(-1, 2)

    return Instance(
        request_ids=request_ids,
        request_xyz=unit_xyz(request_latlon[:, 0], request_latlon[:, 1]),
        # Priorities beyond int64 are legal JSON integers; keep them exact as Python ints.
        request_priority=np.asarray(
            request_priority, dtype=np.int64 if all(p < 2**62 for p in request_priority) else object
        ),
        request_skills=_bitsets(request_skills, skill_index, skill_words),
        request_slots=_bitsets(request_slots, slot_index, slot_words),
        request_any_slot=np.asarray([not row for row in request_slots], dtype=bool),
        volunteer_ids=volunteer_ids,
        volunteer_xyz=unit_xyz(volunteer_latlon[:, 0], volunteer_latlon[:, 1]),
        volunteer_max_km=np.asarray(volunteer_max_km, dtype=np.float64),
        volunteer_capacity=np.asarray(volunteer_capacity, dtype=np.int64),
        volunteer_skills=_bitsets(volunteer_skills, skill_index, skill_words),
        volunteer_slots=_bitsets(volunteer_slots, slot_index, slot_words),
        exclude_request=np.asarray(exclude_request, dtype=np.int64),
        exclude_volunteer=np.asarray(exclude_volunteer, dtype=np.int64),
        request_latlon=request_latlon,
        volunteer_latlon=volunteer_latlon,
        # One volunteer fills at most one place of a request: more places than volunteers
        # can never be filled (and huge legal integers must fit int64).
        request_needs=np.asarray([min(k, len(raw_volunteers) or 1) for k in request_needs], dtype=np.int64),
        request_needs_given=request_needs,
        volunteer_extra_km=np.asarray(volunteer_extra_km, dtype=np.float64),
        preferred_request=np.asarray([r for r, _ in preferred_pairs], dtype=np.int64),
        preferred_volunteer=np.asarray([v for _, v in preferred_pairs], dtype=np.int64),
        continuity_bonus_km=bonus,
    )
