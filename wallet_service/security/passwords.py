"""Password hashing with Argon2id (pwdlib; passlib is unmaintained and breaks on bcrypt 4+)."""

from __future__ import annotations

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

__all__ = ["hash_password", "verify_password", "verify_password_or_dummy"]

_hasher = PasswordHash((Argon2Hasher(),))
# Checked against when the account does not exist, so an unknown email costs as much time
# as a wrong password and response timing does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-used-only-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return _hasher.verify(password, password_hash)


def verify_password_or_dummy(password: str, password_hash: str | None) -> bool:
    """Verify against the real hash, or burn the same time on a dummy one and fail."""
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    return _hasher.verify(password, password_hash)
