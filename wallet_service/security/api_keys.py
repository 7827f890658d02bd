"""POS API keys: ``wsk_<prefix>_<secret>``, stored as prefix + SHA-256 of the secret.

The secret is 256 random bits, so a fast hash is enough (no dictionary to attack) and keeps
every POS request cheap; Argon2 is for human passwords. The prefix finds the row, then the
hash is compared in constant time. The clear key is shown once, at creation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

__all__ = ["GeneratedKey", "generate_api_key", "hash_secret", "secret_matches", "split_api_key"]

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
