"""Stores: where members shop, where cashiers scan, and where geolocated offers appear."""
