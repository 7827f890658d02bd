"""Specifications of the pure loyalty domain, runnable without a database."""
