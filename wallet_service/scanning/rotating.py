"""The rotating barcode of a Google Wallet pass: ``LWR1.<serial>.<6 digits>``.

Google's app renders the pass object's ``valuePattern`` (``LWR1.<serial>.{totp_value_0}``)
with a fresh RFC 6238 code every 30 seconds (TOTP_SHA1, 6 digits), so a screenshot stops
scanning within a minute. ``serial`` is the pass's UUID4 serial in the same unpadded RFC 4648
base32 as the static token (26 characters of ``A-Z2-7``); the whole text stays in the QR
alphanumeric set.

Each pass has its own 20-byte TOTP secret, derived from the server's barcode key and the
serial: nothing is stored, the same key always gives the same secret, and a retired key
still verifies the codes of passes issued before a rotation. The secret goes to Google as
Base16 (``totp_secret(...).hex()``). The till accepts the code of the current step, of the
previous one (a code shown just before a rollover) and of the next one (a phone whose clock
runs a few seconds fast), never further; verification needs no database. Scanners that add
whitespace or type lowercase are tolerated.

Example::

    pattern = value_pattern(serial)             # into the Google pass object
    secret_hex = totp_secret(key, serial).hex() # its totpDetails parameter
    serial = verify_rotating(keys, scanned, now)  # raises InvalidBarcode
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime
from typing import Final

from wallet_service.scanning.token import (
    _b32,
    _check_secret,
    _decode_serial,
    _reject,
    _serial_bytes,
)
from wallet_service.scanning.totp import DEFAULT_DIGITS, STEP_SECONDS, match_totp_step
from wallet_service.security.keys import KeyRing

__all__ = [
    "DIGITS",
    "FORMAT_PREFIX",
    "PERIOD_MILLIS",
    "SECRET_BYTES",
    "is_rotating",
    "totp_secret",
    "value_pattern",
    "verify_rotating",
]

FORMAT_PREFIX: Final = "LWR1"
DIGITS: Final = DEFAULT_DIGITS
PERIOD_MILLIS: Final = STEP_SECONDS * 1000
# RFC 4226 recommends a 160-bit secret for HMAC-SHA1.
SECRET_BYTES: Final = 20
# The placeholder Google's app replaces with the current code of the first TOTP parameter.
_CODE_PLACEHOLDER = "{totp_value_0}"
# Keeps these secrets distinct from every other MAC made with the barcode key.
_DOMAIN = b"wallet-service/rotating-barcode/" + FORMAT_PREFIX.encode("ascii") + b"/"
# A code shown just before a rollover still scans; one two steps old does not. A phone
# whose clock runs a few seconds fast shows the next step's code early: that scans too.
_PREVIOUS_STEPS = 1
_NEXT_STEPS = 1


def _secret(barcode_key: bytes, serial_bytes: bytes) -> bytes:
    return hmac.new(barcode_key, _DOMAIN + serial_bytes, hashlib.sha256).digest()[:SECRET_BYTES]


def totp_secret(barcode_key: bytes, serial: str) -> bytes:
    """The 20-byte TOTP secret of the pass with UUID4 ``serial`` (send it as ``.hex()``)."""
    _check_secret(barcode_key)
    return _secret(barcode_key, _serial_bytes(serial))


def value_pattern(serial: str) -> str:
    """The barcode text Google's app renders: ``LWR1.<serial b32>.{totp_value_0}``."""
    return f"{FORMAT_PREFIX}.{_b32(_serial_bytes(serial))}.{_CODE_PLACEHOLDER}"


def _normalised(barcode: str) -> str:
    return barcode.strip().upper()


def is_rotating(barcode: str) -> bool:
    """Whether ``barcode`` claims to be a rotating code (it may still be invalid)."""
    return isinstance(barcode, str) and _normalised(barcode).startswith(FORMAT_PREFIX + ".")


def verify_rotating(keys: KeyRing, barcode: str, now: datetime) -> str:
    """Return the serial a rotating code names, or raise ``InvalidBarcode``.

    The code must be the pass's code for the step of ``now``, the one before or the one
    after, under the
    active barcode key or a retired one. Reasons: ``format`` (not ``LWR1.<serial>.<6
    digits>``), ``expired_or_wrong_code`` (well formed, but not a code of those steps).
    """
    for key in keys.all:
        _check_secret(key)
    if not isinstance(barcode, str):
        raise _reject("format")
    parts = _normalised(barcode).split(".")
    if len(parts) != 3 or parts[0] != FORMAT_PREFIX:
        raise _reject("format")
    _, serial_text, code = parts
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        raise _reject("format")
    serial_bytes = _decode_serial(serial_text)
    # Every key is tried, so timing does not tell which one (if any) matched.
    matches = [
        match_totp_step(
            _secret(key, serial_bytes),
            code,
            now,
            _PREVIOUS_STEPS,
            accept_next_steps=_NEXT_STEPS,
            digits=DIGITS,
            step_seconds=STEP_SECONDS,
            algorithm="sha1",
        )
        is not None
        for key in keys.all
    ]
    if not any(matches):
        raise _reject("expired_or_wrong_code")
    return str(uuid.UUID(bytes=serial_bytes))
