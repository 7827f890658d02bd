"""Purpose-bound keys and URL tokens derived from the one server secret.

Each use (access tokens, barcode tokens, pass download links, ...) gets its own key, so a MAC
made for one purpose is never valid for another and one ``WALLET_SECRET_KEY`` is enough.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["derive_key", "url_token", "url_token_matches"]


def derive_key(master: bytes, purpose: str) -> bytes:
    return hmac.new(master, b"wallet-service/" + purpose.encode(), hashlib.sha256).digest()


def url_token(key: bytes, value: str) -> str:
    """A 32-character, URL-safe MAC of ``value`` (160 bits: unguessable, short in a link)."""
    digest = hmac.new(key, value.encode(), hashlib.sha256).digest()[:20]
    return base64.b32encode(digest).decode().lower()


def url_token_matches(key: bytes, value: str, presented: str) -> bool:
    return hmac.compare_digest(url_token(key, value), presented.lower())
