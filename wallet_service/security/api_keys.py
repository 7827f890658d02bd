"""POS API keys: ``wsk_<prefix>_<secret>``, stored as prefix + SHA-256 of the secret.

The secret is 256 random bits, so a fast hash is enough (no dictionary to attack) and keeps
every POS request cheap; Argon2 is for human passwords. The prefix finds the row, then the
hash is compared in constant time. The clear key is shown once, at creation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from wallet_service.clock import Clock
from wallet_service.security.principal import Principal

__all__ = [
    "GeneratedKey",
    "RecentKeys",
    "generate_api_key",
    "hash_secret",
    "secret_matches",
    "split_api_key",
]

_SCHEME = "wsk"


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    prefix: str
    secret_hash: str
    clear: str

    def __repr__(self) -> str:  # never print the clear key by accident
        return f"GeneratedKey(prefix={self.prefix!r})"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_api_key() -> GeneratedKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return GeneratedKey(
        prefix=prefix, secret_hash=hash_secret(secret), clear=f"{_SCHEME}_{prefix}_{secret}"
    )


def split_api_key(key: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` for a well-formed key, else ``None``."""
    scheme, sep, rest = key.partition("_")
    prefix, sep2, secret = rest.partition("_")
    if scheme != _SCHEME or not sep or not sep2 or len(prefix) != 12 or not secret:
        return None
    return prefix, secret


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)


@dataclass
class RecentKeys:
    """API keys this process checked against the database in the last few seconds.

    A till sends every request with the same key; reading its row each time was a database
    round trip (and, for a scan, a transaction) per request. A key seen within
    ``ttl_seconds`` is checked against the hash remembered with it, in constant time as
    always. Revoking a key forgets it in this process at once; other processes stop
    accepting it within ``ttl_seconds``.
    """

    clock: Clock
    ttl_seconds: float = 5.0
    max_keys: int = 10_000
    _seen: dict[str, tuple[datetime, str, Principal]] = field(default_factory=dict)
    # Revoked here: never remembered again, even by a request that read the row before the
    # revocation committed.
    _revoked: set[str] = field(default_factory=set)

    def principal(self, prefix: str, secret: str) -> Principal | None:
        seen = self._seen.get(prefix)
        if seen is None or (self.clock.now() - seen[0]).total_seconds() > self.ttl_seconds:
            return None
        return seen[2] if secret_matches(secret, seen[1]) else None

    def remember(self, prefix: str, secret_hash: str, principal: Principal) -> None:
        if prefix in self._revoked:
            return
        self._seen.pop(prefix, None)  # re-inserted last: the dict stays oldest-first
        if len(self._seen) >= self.max_keys:
            self._seen.pop(next(iter(self._seen)))
        self._seen[prefix] = (self.clock.now(), secret_hash, principal)

    def forget(self, prefix: str) -> None:
        """The key was revoked: stop accepting it from memory, for good."""
        self._seen.pop(prefix, None)
        self._revoked.add(prefix)
