"""Points on the map, and the coarse version of them that strangers may see."""

from __future__ import annotations

from dataclasses import dataclass

# A grid of about 550 m x 530 m around Leuven's latitude: a volunteer who has not
# accepted sees the centre of the cell, never the house.
COARSE_LATITUDE_STEP = 0.005
COARSE_LONGITUDE_STEP = 0.0075


@dataclass(frozen=True)
class Location:
    """A point with the address it came from and the neighbourhood it lies in."""

    latitude: float
    longitude: float
    address: str = ""
    neighbourhood: str = ""


def coarse_point(latitude: float, longitude: float) -> tuple[float, float]:
    """The centre of the grid cell holding the point."""

    def snap(value: float, step: float) -> float:
        return round((value // step) * step + step / 2, 5)

    return snap(latitude, COARSE_LATITUDE_STEP), snap(longitude, COARSE_LONGITUDE_STEP)
