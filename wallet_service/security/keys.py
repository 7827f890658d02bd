"""Purpose-bound keys and URL tokens derived from the one server secret.

Each use (access tokens, barcode tokens, pass download links, ...) gets its own key, so a MAC
made for one purpose is never valid for another and one ``WALLET_SECRET_KEY`` is enough.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["KeyRing", "derive_key", "url_token", "url_token_matches"]


def derive_key(master: bytes, purpose: str) -> bytes:
    return hmac.new(master, b"wallet-service/" + purpose.encode(), hashlib.sha256).digest()


def url_token(key: bytes, value: str) -> str:
    """A 32-character, URL-safe MAC of ``value`` (160 bits: unguessable, short in a link)."""
    digest = hmac.new(key, value.encode(), hashlib.sha256).digest()[:20]
    return base64.b32encode(digest).decode().lower()


def url_token_matches(key: bytes, value: str, presented: str) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters, and a link is typed
    # by anyone.
    return hmac.compare_digest(url_token(key, value).encode(), presented.lower().encode("utf-8"))


@dataclass(frozen=True)
class KeyRing:
    """One purpose's keys: the active one signs, retired ones still verify.

    Passes, barcodes and links outlive a rotation of ``WALLET_SECRET_KEY`` (a pass's
    ``authenticationToken`` never changes on the device), so what was signed with a retired
    key keeps working as long as that key stays in ``WALLET_PREVIOUS_SECRET_KEYS``.
    """

    active: bytes
    retired: tuple[bytes, ...] = ()

    @classmethod
    def derive(cls, master: bytes, retired_masters: Sequence[bytes], purpose: str) -> KeyRing:
        return cls(
            derive_key(master, purpose), tuple(derive_key(m, purpose) for m in retired_masters)
        )

    @property
    def all(self) -> tuple[bytes, ...]:
        return (self.active, *self.retired)
