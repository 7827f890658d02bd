"""Choosing the stores a pass lists: the nearest ones, at most N."""

from __future__ import annotations

from geofence import Coordinates, haversine_metres, nearest

PARIS = Coordinates(48.8566, 2.3522)
LYON = Coordinates(45.7640, 4.8357)
MARSEILLE = Coordinates(43.2965, 5.3698)


def test_distance_paris_to_lyon_is_about_392_km() -> None:
    assert 390_000 < haversine_metres(PARIS, LYON) < 394_000
    assert haversine_metres(PARIS, PARIS) == 0


def test_nearest_orders_by_distance_and_caps_the_count() -> None:
    stores = [MARSEILLE, PARIS, LYON]
    assert nearest(stores, Coordinates(48.0, 2.5), position=lambda c: c, limit=2) == [PARIS, LYON]
    assert nearest(stores, MARSEILLE, position=lambda c: c, limit=10) == [MARSEILLE, LYON, PARIS]
    assert nearest(stores, PARIS, position=lambda c: c, limit=0) == []


def test_distance_is_symmetric_across_the_antimeridian() -> None:
    fiji, samoa = Coordinates(-17.7, 178.0), Coordinates(-13.8, -172.0)
    assert haversine_metres(fiji, samoa) == haversine_metres(samoa, fiji)
    assert haversine_metres(fiji, samoa) < 1_200_000
