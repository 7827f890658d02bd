"""Loyalty programs: currency, card design and the earn/tier/reward rules."""
