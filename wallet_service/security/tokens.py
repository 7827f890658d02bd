"""Staff access tokens: short-lived HS256 JWTs whose ``kid`` header names the signing key.

The key id is a fingerprint of the key, so rotating ``WALLET_SECRET_KEY`` (and keeping the
old one in ``WALLET_PREVIOUS_SECRET_KEYS`` until its tokens expire) needs no bookkeeping.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from wallet_service.security.keys import derive_key

__all__ = ["AccessClaims", "InvalidToken", "TokenKeys", "issue_access_token", "read_access_token"]

ISSUER = "wallet-service"
AUDIENCE = "wallet-service:staff"
_ALGORITHM = "HS256"


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


def _key_id(derived: bytes) -> str:
    return hashlib.sha256(derived).hexdigest()[:16]


class TokenKeys:
    """The active signing key and the retired ones still accepted."""

    def __init__(self, active: bytes, retired: list[bytes] | None = None) -> None:
        self._active = _derive(active)
        self.active_kid = _key_id(self._active)
        self._by_kid = {_key_id(k): k for k in (_derive(r) for r in retired or [])}
        self._by_kid[self.active_kid] = self._active

    @property
    def active(self) -> bytes:
        return self._active

    def lookup(self, kid: str) -> bytes | None:
        return self._by_kid.get(kid)


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
    token = jwt.encode(claims, keys.active, algorithm=_ALGORITHM, headers={"kid": keys.active_kid})
    return token, expires_at


def _version(value: object) -> int:
    if type(value) is not int:
        raise InvalidToken("malformed token version")
    return value


def read_access_token(keys: TokenKeys, token: str, now: datetime) -> AccessClaims:
    """The token's claims if it is ours and unexpired at ``now`` (the injected clock's)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = keys.lookup(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("unknown signing key")
        claims = jwt.decode(
            token,
            key,
            algorithms=[_ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            # Expiry is checked below against the injected clock, not PyJWT's system time.
            options={
                "require": ["exp", "iat", "sub", "aud", "iss", "ver"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
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
