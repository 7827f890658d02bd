"""The ``authenticationToken`` of an Apple pass, derived instead of stored.

Devices send ``Authorization: ApplePass <token>`` to the PassKit web service.
Apple asks for at least 16 characters and warns that a token must not change
across updates (not every copy of a pass gets every update). Deriving it as
HMAC-SHA256 of the serial number under a server key meets both: it is stable
across reissues, nothing secret is kept per pass, and rotating the server key
is an explicit, visible decision. Tokens are compared in constant time.

Example::

    token = derive_authentication_token(settings_key, member.serial)
    if not tokens_match(presented, token): ...
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["MIN_SECRET_KEY_BYTES", "derive_authentication_token", "tokens_match"]

#: Shorter keys would make the HMAC guessable; 32 random bytes is the norm.
MIN_SECRET_KEY_BYTES = 16
# Domain separation: the same server key may also sign barcode tokens, and a
# MAC computed for one purpose must never be valid for another.
_CONTEXT = b"wallet-service/apple-pass-authentication-token/v1\x00"


def derive_authentication_token(secret_key: bytes, serial_number: str) -> str:
    """Return the pass's URL-safe token (43 characters, no padding) for ``serial_number``."""
    if len(secret_key) < MIN_SECRET_KEY_BYTES:
        raise ValueError(f"secret_key must be at least {MIN_SECRET_KEY_BYTES} bytes")
    if not serial_number:
        raise ValueError("serial_number must not be empty")
    digest = hmac.new(secret_key, _CONTEXT + serial_number.encode("utf-8"), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")


def tokens_match(presented: str, expected: str) -> bool:
    """Compare two tokens in constant time (the presented one comes from the network)."""
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))
