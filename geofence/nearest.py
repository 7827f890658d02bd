"""Great-circle distance and nearest-N selection.

A store list per merchant is small (tens to a few thousand), so a full scan with a bounded
heap is exact and fast enough; a spatial index can replace it behind ``nearest`` later.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from typing import NamedTuple, TypeVar

__all__ = ["EARTH_RADIUS_METRES", "Coordinates", "haversine_metres", "nearest"]

EARTH_RADIUS_METRES = 6_371_008.8
T = TypeVar("T")


class Coordinates(NamedTuple):
    latitude: float
    longitude: float


def haversine_metres(a: Coordinates, b: Coordinates) -> float:
    """Distance in metres along the Earth's surface between two points."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_METRES * math.asin(min(1.0, math.sqrt(h)))


def nearest(
    items: Iterable[T],
    origin: Coordinates,
    *,
    position: Callable[[T], Coordinates],
    limit: int,
) -> list[T]:
    """The ``limit`` items closest to ``origin``, nearest first (ties keep input order).

    >>> paris, lyon = Coordinates(48.85, 2.35), Coordinates(45.76, 4.83)
    >>> nearest([lyon, paris], Coordinates(48.8, 2.3), position=lambda c: c, limit=1)
    [Coordinates(latitude=48.85, longitude=2.35)]
    """
    if limit <= 0:
        return []
    ranked = (
        (haversine_metres(origin, position(item)), index, item) for index, item in enumerate(items)
    )
    return [item for _, _, item in heapq.nsmallest(limit, ranked, key=lambda r: (r[0], r[1]))]
