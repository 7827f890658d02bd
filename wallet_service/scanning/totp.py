"""RFC 6238 time-based one-time passwords for rotating barcodes.

A Google Wallet pass may show a barcode that changes every 30 seconds so a
screenshot stops working; the code is HOTP (RFC 4226) of the 30-second step
counter under a per-pass secret. The scanner accepts the current step and,
by default, the previous one (a code shown just before a rollover). Codes are
compared in constant time. ``match_totp_step`` returns the matched step so
the caller can refuse a second use of the same step (replay).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime
from typing import Literal

__all__ = [
    "DEFAULT_DIGITS",
    "STEP_SECONDS",
    "TotpAlgorithm",
    "match_totp_step",
    "totp_at",
    "totp_step",
    "verify_totp",
]

STEP_SECONDS = 30
DEFAULT_DIGITS = 6
TotpAlgorithm = Literal["sha1", "sha256", "sha512"]
_MIN_DIGITS = 6
# 10 digits is the most a 31-bit truncated HOTP value can fill.
_MAX_DIGITS = 10


def _epoch_seconds(at: datetime | float) -> float:
    if isinstance(at, datetime):
        if at.utcoffset() is None:
            raise ValueError("TOTP needs a timezone-aware datetime")
        seconds = at.timestamp()
    else:
        seconds = float(at)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("TOTP time must be a finite instant after 1970-01-01")
    return seconds


def _check_digits(digits: int) -> None:
    if not _MIN_DIGITS <= digits <= _MAX_DIGITS:
        raise ValueError(f"digits must be between {_MIN_DIGITS} and {_MAX_DIGITS}")


def totp_step(at: datetime | float, step_seconds: int = STEP_SECONDS) -> int:
    """Return the RFC 6238 counter ``T = floor((at - T0) / X)`` with ``T0 = 0``."""
    return int(_epoch_seconds(at) // step_seconds)


def _hotp(secret: bytes, counter: int, digits: int, algorithm: TotpAlgorithm) -> str:
    digest = hmac.new(secret, counter.to_bytes(8, "big"), getattr(hashlib, algorithm)).digest()
    offset = digest[-1] & 0x0F
    value = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp_at(
    secret: bytes,
    at: datetime | float,
    digits: int = DEFAULT_DIGITS,
    *,
    step_seconds: int = STEP_SECONDS,
    algorithm: TotpAlgorithm = "sha1",
) -> str:
    """Return the code valid at ``at`` (aware datetime or Unix seconds), zero-padded."""
    _check_digits(digits)
    return _hotp(secret, totp_step(at, step_seconds), digits, algorithm)


def match_totp_step(
    secret: bytes,
    code: str,
    now: datetime | float,
    accept_previous_steps: int = 1,
    *,
    accept_next_steps: int = 0,
    digits: int = DEFAULT_DIGITS,
    step_seconds: int = STEP_SECONDS,
    algorithm: TotpAlgorithm = "sha1",
) -> int | None:
    """Return the step ``code`` belongs to (current, up to N previous or up to M next),
    else ``None``."""
    _check_digits(digits)
    if accept_previous_steps < 0 or accept_next_steps < 0:
        raise ValueError("accepted steps must not be negative")
    candidate = "".join(code.split()) if isinstance(code, str) else ""
    if len(candidate) != digits or not (candidate.isascii() and candidate.isdigit()):
        return None
    current = totp_step(now, step_seconds)
    matched = None
    # Every candidate step is computed and compared so timing does not reveal which one matched.
    for step in range(current + accept_next_steps, max(current - accept_previous_steps, 0) - 1, -1):
        expected = _hotp(secret, step, digits, algorithm)
        if hmac.compare_digest(expected, candidate) and matched is None:
            matched = step
    return matched


def verify_totp(
    secret: bytes,
    code: str,
    now: datetime | float,
    accept_previous_steps: int = 1,
    *,
    digits: int = DEFAULT_DIGITS,
    step_seconds: int = STEP_SECONDS,
    algorithm: TotpAlgorithm = "sha1",
) -> bool:
    """Tell whether ``code`` is valid now or in one of the previous accepted steps."""
    return (
        match_totp_step(
            secret,
            code,
            now,
            accept_previous_steps,
            digits=digits,
            step_seconds=step_seconds,
            algorithm=algorithm,
        )
        is not None
    )
