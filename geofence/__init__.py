"""Pure geography: distances, nearest stores, and (later) campaign geofences.

No I/O and no framework imports: callers pass plain coordinates in and get plain values out.
"""

from geofence.nearest import Coordinates, haversine_metres, nearest

__all__ = ["Coordinates", "haversine_metres", "nearest"]
