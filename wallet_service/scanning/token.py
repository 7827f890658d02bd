"""The barcode token printed on every pass: opaque, versioned, HMAC-signed.

Format: ``LW1.<serial>.<mac>`` where ``serial`` is the pass's UUID4 serial
number (16 bytes) and ``mac`` the first 10 bytes of HMAC-SHA256 over the
version and the serial, both in RFC 4648 base32 without padding. That is 47
characters of ``A-Z``, ``2-7`` and ``.``, which QR codes encode in their
compact alphanumeric mode and Code 128 scans reliably; the token names the
pass only, never the person. Verification needs no database: forgeries,
typos and garbage fail the MAC, compared in constant time. Scanners that
add whitespace or type lowercase are tolerated.

Example::

    token = issue_token(server_key, "3f0c2c6e-8a51-4d7e-9a59-2f1f4b8f6b1e")
    serial = verify_token(server_key, token)  # raises InvalidBarcode if tampered
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from collections.abc import Sequence

from wallet_service.loyalty.errors import DomainError

__all__ = ["FORMAT_PREFIX", "InvalidBarcode", "issue_token", "verify_token"]

FORMAT_PREFIX = "LW1"
# 80 bits: an online guesser limited by the till's scan rate never gets close,
# and 10 bytes are exactly 16 base32 characters with no padding bits.
_MAC_BYTES = 10
_SERIAL_CHARS = 26
_MAC_CHARS = 16
_MIN_SECRET_BYTES = 16
# Keeps this MAC distinct from any other use of the same server key.
_DOMAIN = b"wallet-service/barcode/"


class InvalidBarcode(DomainError):
    """The scanned text is not a barcode token this server issued."""

    code = "invalid_barcode"


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, bytes) or len(secret) < _MIN_SECRET_BYTES:
        raise ValueError(f"the barcode secret must be at least {_MIN_SECRET_BYTES} bytes")


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


def _unb32(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 8)
    return base64.b32decode(padded, casefold=False)


def _mac(secret: bytes, version: str, serial_bytes: bytes) -> bytes:
    message = _DOMAIN + version.encode("ascii") + b"." + serial_bytes
    return hmac.new(secret, message, hashlib.sha256).digest()[:_MAC_BYTES]


def _serial_bytes(serial: str) -> bytes:
    """The 16 bytes of a pass's UUID4 serial; ``ValueError`` for anything else."""
    try:
        parsed = uuid.UUID(serial)
    except (ValueError, AttributeError, TypeError):
        raise ValueError(f"serial {serial!r} is not a UUID") from None
    if parsed.version != 4:
        raise ValueError("pass serial numbers are UUID4")
    return parsed.bytes


def issue_token(secret: bytes, serial: str) -> str:
    """Return the barcode token for the pass with UUID4 ``serial``."""
    _check_secret(secret)
    serial_bytes = _serial_bytes(serial)
    mac = _mac(secret, FORMAT_PREFIX, serial_bytes)
    return f"{FORMAT_PREFIX}.{_b32(serial_bytes)}.{_b32(mac)}"


def _reject(reason: str) -> InvalidBarcode:
    return InvalidBarcode("this is not a valid loyalty barcode", reason=reason)


def _decode_serial(serial_text: str) -> bytes:
    """The serial bytes of a token's (uppercased) serial field, or ``InvalidBarcode``."""
    if len(serial_text) != _SERIAL_CHARS:
        raise _reject("format")
    try:
        serial_bytes = _unb32(serial_text)
    except (binascii.Error, ValueError):
        raise _reject("format") from None
    # Base32 leaves spare low bits in the last character; accept only the
    # canonical spelling so one pass has exactly one valid token.
    if _b32(serial_bytes) != serial_text:
        raise _reject("format")
    return serial_bytes


def verify_token(secret: bytes, token: str, *, previous_secrets: Sequence[bytes] = ()) -> str:
    """Return the serial named by ``token`` or raise ``InvalidBarcode``.

    ``previous_secrets`` lets passes issued before a key rotation keep
    scanning until they have all been reissued.
    """
    _check_secret(secret)
    for old_secret in previous_secrets:
        _check_secret(old_secret)
    if not isinstance(token, str):
        raise _reject("format")
    parts = token.strip().upper().split(".")
    if len(parts) != 3:
        raise _reject("format")
    version, serial_text, mac_text = parts
    if version != FORMAT_PREFIX:
        raise _reject("version")
    if len(mac_text) != _MAC_CHARS:
        raise _reject("format")
    serial_bytes = _decode_serial(serial_text)
    try:
        provided_mac = _unb32(mac_text)
    except (binascii.Error, ValueError):
        raise _reject("format") from None
    matches = [
        hmac.compare_digest(_mac(key, version, serial_bytes), provided_mac)
        for key in (secret, *previous_secrets)
    ]
    if not any(matches):
        raise _reject("signature")
    return str(uuid.UUID(bytes=serial_bytes))
