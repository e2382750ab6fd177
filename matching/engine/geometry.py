"""Great-circle distances through chord lengths on the unit sphere.

The chord between two unit vectors is exact to a few ulps at every scale, including the
poles, the antimeridian and identical points (chord 0, distance 0), where formulas on
latitude and longitude lose precision. d = 2 R asin(chord / 2) is the great-circle
distance of geopy's `great_circle` (radius 6371.009 km). asin loses precision as the
chord nears 2 (nearly antipodal points: up to ~3e-4 km off), so beyond a quarter circle
the angle comes from atan2(|a x b|, a . b) instead, which is exact to a few ulps there.

Rule 3 of the contract compares geopy's own float with `max_km`, so a pair whose km lies
within `_BOUNDARY_KM` of the radius (`max_km` set to the very distance, a common test)
is decided by `geopy_km`, the same float operations as geopy on the original degrees
(`within_max_km`): the engine and geopy then agree bit for bit on which pairs are in range.
"""

from __future__ import annotations

import math

import numpy as np

EARTH_RADIUS_KM = 6371.009
# Chords above this (angles above ~89 degrees) use the atan2 form (asin is ill-conditioned).
_FAR_CHORD = 1.4
# Our km and geopy's differ by ~1e-12 km at most; pairs closer than this to their
# volunteer's max_km are re-measured exactly as geopy does.
_BOUNDARY_KM = 1e-9
_BOUNDARY_RELATIVE = 1e-12


def unit_xyz(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """Unit vectors (n, 3) for latitudes and longitudes in degrees."""
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    cos_lat = np.cos(lat)
    return np.stack([cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)], axis=-1).reshape(-1, 3)


def chord_to_km(chord: np.ndarray) -> np.ndarray:
    """Great-circle km for chord lengths on the unit sphere."""
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.minimum(np.asarray(chord, dtype=np.float64) * 0.5, 1.0))


def km_to_chord(km: np.ndarray | float) -> np.ndarray:
    """Chord length on the unit sphere for great-circle km (2 beyond half the circumference)."""
    half_angle = np.minimum(np.asarray(km, dtype=np.float64) / (2.0 * EARTH_RADIUS_KM), np.pi / 2)
    return 2.0 * np.sin(half_angle)


def _km_from_difference(a: np.ndarray, b: np.ndarray, difference: np.ndarray) -> np.ndarray:
    """km of row pairs (a, b) given difference = a - b: asin of the chord, atan2 when far."""
    km = chord_to_km(np.sqrt(np.einsum("ij,ij->i", difference, difference)))
    far = np.flatnonzero(km > chord_to_km(_FAR_CHORD))
    if len(far):
        a_far, b_far = a[far], b[far]
        sine = np.linalg.norm(np.cross(a_far, b_far), axis=1)
        cosine = np.einsum("ij,ij->i", a_far, b_far)
        km[far] = EARTH_RADIUS_KM * np.arctan2(sine, cosine)
    return km


def pair_km(xyz_a: np.ndarray, xyz_b: np.ndarray) -> np.ndarray:
    """Row-wise great-circle km between two (n, 3) arrays of unit vectors.

    Every distance the engine reports or compares with `max_km` comes from here (or, at
    the boundary, from `geopy_km` through `within_max_km`).
    """
    xyz_a = np.asarray(xyz_a, dtype=np.float64).reshape(-1, 3)
    xyz_b = np.asarray(xyz_b, dtype=np.float64).reshape(-1, 3)
    return _km_from_difference(xyz_a, xyz_b, xyz_a - xyz_b)


def indexed_pair_km(
    xyz_a: np.ndarray, index_a: np.ndarray, xyz_b: np.ndarray, index_b: np.ndarray
) -> np.ndarray:
    """`pair_km(xyz_a[index_a], xyz_b[index_b])`, bit for bit, with cheaper gathers."""
    a = np.take(xyz_a, index_a, axis=0)
    b = np.take(xyz_b, index_b, axis=0)
    return _km_from_difference(a, b, a - b)


def geopy_km(lat_a: float, lon_a: float, lat_b: float, lon_b: float) -> float:
    """geopy's `great_circle((lat_a, lon_a), (lat_b, lon_b)).km`, the same float operations."""
    lat1, lng1 = math.radians(float(lat_a or 0.0)), math.radians(float(lon_a or 0.0))
    lat2, lng2 = math.radians(float(lat_b or 0.0)), math.radians(float(lon_b or 0.0))
    sin_lat1, cos_lat1 = math.sin(lat1), math.cos(lat1)
    sin_lat2, cos_lat2 = math.sin(lat2), math.cos(lat2)
    delta_lng = lng2 - lng1
    cos_delta_lng, sin_delta_lng = math.cos(delta_lng), math.sin(delta_lng)
    d = math.atan2(
        math.sqrt(
            (cos_lat2 * sin_delta_lng) ** 2 + (cos_lat1 * sin_lat2 - sin_lat1 * cos_lat2 * cos_delta_lng) ** 2
        ),
        sin_lat1 * sin_lat2 + cos_lat1 * cos_lat2 * cos_delta_lng,
    )
    return EARTH_RADIUS_KM * d


def within_max_km(
    request_latlon: np.ndarray,
    requests: np.ndarray,
    volunteer_latlon: np.ndarray,
    volunteers: np.ndarray,
    km: np.ndarray,
    max_km: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Rule 3 exactly as geopy decides it: (distance <= max_km per pair, km to use).

    `km` are our distances of the pairs, `max_km` their volunteers' radii. Pairs within a
    hair of the radius are re-measured by `geopy_km(request, volunteer)`; their km is
    replaced by geopy's, so a reported km never exceeds the radius it was checked against.
    """
    ok = km <= max_km
    near = np.flatnonzero(np.abs(km - max_km) <= _BOUNDARY_KM + _BOUNDARY_RELATIVE * max_km)
    if len(near) == 0:
        return ok, km
    km = km.copy()
    for pair, r, v in zip(near.tolist(), requests[near].tolist(), volunteers[near].tolist(), strict=True):
        exact = geopy_km(*request_latlon[r], *volunteer_latlon[v])
        km[pair] = exact
        ok[pair] = exact <= max_km[pair]
    return ok, km
