"""The ``Wallet-Signature`` header: HMAC-SHA256 over the timestamp and the raw body.

``Wallet-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]``, each ``v1`` being
``HMAC-SHA256(secret, f"{t}.{body}")`` for one of the endpoint's current secrets (two while
a rotated secret is still honoured). A receiver accepts the request when one ``v1`` matches
its secret and ``t`` is within :data:`TOLERANCE` of its clock: an old request replayed later
is refused. The README shows the same check in plain standard-library Python.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

__all__ = ["HEADER", "TOLERANCE", "SignatureError", "sign", "signature", "verify"]

HEADER = "Wallet-Signature"
# Seconds a receiver accepts between the signature's timestamp and its own clock.
TOLERANCE = 300


class SignatureError(ValueError):
    """The header is malformed, no signature matches, or it is outside the replay window."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secrets: Sequence[str], body: bytes, now: datetime) -> str:
    """The header's value for ``body`` sent at ``now``, one ``v1`` per secret."""
    timestamp = int(now.timestamp())
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets)])


def verify(secret: str, header: str, body: bytes, now: datetime, tolerance: int = TOLERANCE) -> int:
    """Check ``header`` against ``body``; the signed timestamp, or :class:`SignatureError`."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("malformed signature header")
    if abs(now.timestamp() - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance window")
    expected = signature(secret, timestamp, body).encode()
    if not any(hmac.compare_digest(expected, c.encode("utf-8")) for c in candidates):
        raise SignatureError("no signature matches")
    return timestamp
