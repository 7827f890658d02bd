"""Wallet loyalty service: loyalty programs carried as live Apple and Google Wallet passes."""

__all__ = ["__version__"]

__version__ = "0.1.0"
