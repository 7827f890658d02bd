"""Staff access tokens: short-lived HS256 JWTs, verified against the active key, then each
retired one.

The ``kid`` header is the same opaque label, :data:`KEY_ID`, on every token. It used to be a
fingerprint of the key; but anything computed from the secret alone, hashed or keyed, lets
whoever reads a token's header (or a log line quoting it) test guesses of
``WALLET_SECRET_KEY`` offline. Finding a retired key needs no id: a token is checked against
the active key, then the keys in ``WALLET_PREVIOUS_SECRET_KEYS`` (a handful of HMACs), so
rotating the key still needs no bookkeeping. A token's signature can itself check a guess,
which is why production refuses a secret under 32 bytes; the ``kid`` adds no test of its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from wallet_service.security.keys import derive_key

__all__ = [
    "KEY_ID",
    "AccessClaims",
    "InvalidToken",
    "TokenKeys",
    "issue_access_token",
    "read_access_token",
]

ISSUER = "wallet-service"
AUDIENCE = "wallet-service:staff"
_ALGORITHM = "HS256"
# Opaque and the same for every key (see the module docstring); never derived from a key.
KEY_ID = "wallet-secret-key"


class InvalidToken(Exception):
    """The token is expired, tampered with, or not one of ours."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    staff_id: uuid.UUID
    merchant_id: uuid.UUID
    # The account's token version when the token was issued: a password change or a
    # deactivation bumps the account's, which revokes every token issued before it.
    token_version: int
    expires_at: datetime


def _derive(key: bytes) -> bytes:
    # Domain separation: the server key also signs barcodes and pass tokens.
    return derive_key(key, "access-token")


class TokenKeys:
    """The active signing key and the retired ones still accepted, in the order tried."""

    def __init__(self, active: bytes, retired: list[bytes] | None = None) -> None:
        self._active = _derive(active)
        self.all: tuple[bytes, ...] = (self._active, *(_derive(r) for r in retired or []))

    @property
    def active(self) -> bytes:
        return self._active


def issue_access_token(
    keys: TokenKeys,
    *,
    staff_id: uuid.UUID,
    merchant_id: uuid.UUID,
    token_version: int,
    lifetime: timedelta,
    now: datetime,
) -> tuple[str, datetime]:
    expires_at = now + lifetime
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(staff_id),
        "mid": str(merchant_id),
        "ver": token_version,
        "iat": now,
        "exp": expires_at,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, keys.active, algorithm=_ALGORITHM, headers={"kid": KEY_ID})
    return token, expires_at


def _version(value: object) -> int:
    if type(value) is not int:
        raise InvalidToken("malformed token version")
    return value


def _verified_claims(keys: TokenKeys, token: str) -> dict[str, Any]:
    for key in keys.all:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[_ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                # Expiry is checked against the injected clock, not PyJWT's system time.
                options={
                    "require": ["exp", "iat", "sub", "aud", "iss", "ver"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            continue  # perhaps signed with the next key: claims are checked once one matches
    raise InvalidToken("not signed with any of our keys")


def read_access_token(keys: TokenKeys, token: str, now: datetime) -> AccessClaims:
    """The token's claims if it is ours and unexpired at ``now`` (the injected clock's)."""
    try:
        claims = _verified_claims(keys, token)
        expires_at = datetime.fromtimestamp(claims["exp"], UTC)
        if expires_at <= now:
            raise InvalidToken("the token has expired")
        return AccessClaims(
            staff_id=uuid.UUID(claims["sub"]),
            merchant_id=uuid.UUID(claims["mid"]),
            token_version=_version(claims["ver"]),
            expires_at=expires_at,
        )
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc
