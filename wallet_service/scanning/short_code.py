"""The short card code printed under the barcode, for typing when a scan fails.

``E91A-6201-0920-KQ``: the first 12 hex digits of the serial number and two check
characters (a MAC of those digits under the barcode key). The check rejects typos and
made-up codes without a database hit, like the full token; the 12 digits then find the
member by serial-number prefix.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from wallet_service.scanning.token import InvalidBarcode
from wallet_service.security.keys import KeyRing

__all__ = ["PREFIX_DIGITS", "issue_short_code", "serial_prefix_of"]

PREFIX_DIGITS = 12
_CHECK_CHARS = 2
_SHAPE = re.compile(rf"^[0-9A-F]{{{PREFIX_DIGITS}}}[A-Z2-7]{{{_CHECK_CHARS}}}$")


def _check(secret: bytes, digits: str) -> str:
    mac = hmac.new(secret, b"short-code/" + digits.encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode()[:_CHECK_CHARS]


def issue_short_code(secret: bytes, serial_number: str) -> str:
    digits = serial_number.replace("-", "")[:PREFIX_DIGITS].upper()
    code = digits + _check(secret, digits)
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def serial_prefix_of(keys: KeyRing, typed: str) -> str:
    """The serial-number prefix (``e91a6201-0920``) a typed code names, or ``InvalidBarcode``."""
    code = re.sub(r"[\s-]", "", typed).upper()
    if not _SHAPE.match(code):
        raise InvalidBarcode("This is not a card code.")
    digits, check = code[:PREFIX_DIGITS], code[PREFIX_DIGITS:]
    if not any(hmac.compare_digest(check, _check(key, digits)) for key in keys.all):
        raise InvalidBarcode("This card code has a typo.")
    lowered = digits.lower()
    return f"{lowered[:8]}-{lowered[8:]}"
