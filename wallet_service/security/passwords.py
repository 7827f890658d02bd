"""Password hashing with Argon2id (pwdlib; passlib is unmaintained and breaks on bcrypt 4+).

Argon2 is deliberately slow (tens of milliseconds of CPU and memory per check), so it never
runs on the event loop: :func:`check_password` and :func:`new_password_hash` hash in worker
threads, at most ``HASHING_CONCURRENCY`` at a time, so a flood of wrong passwords queues
behind the cap instead of stalling every other request (argon2-cffi releases the GIL while it
hashes). Callers must not hold a database connection while they wait.
"""

from __future__ import annotations

import asyncio
import os
import weakref

import anyio
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

__all__ = [
    "HASHING_CONCURRENCY",
    "check_password",
    "hash_password",
    "needs_rehash",
    "new_password_hash",
    "verify_password",
    "verify_password_or_dummy",
]

# One lane (p=1) instead of argon2-cffi's four: with p=4 a single check spreads over every
# core, so the cap below could not leave any core to the tills (measured: scan p50 under a
# login flood on PostgreSQL 2.2-3.6x quiet with p=4). Memory (64 MiB) and passes (3) are
# what make a guess expensive; lanes only speed up the defender. Hashes made before keep
# their own parameters, which are read from the hash, until the password changes.
_hasher = PasswordHash((Argon2Hasher(parallelism=1),))
# Checked against when the account does not exist, so an unknown email costs as much time
# as a wrong password and response timing does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-used-only-for-timing")
# Half the cores: the other half keeps serving the tills while logins are checked.
HASHING_CONCURRENCY = max(1, (os.cpu_count() or 2) // 2)
# One cap per event loop (a server process has one; tests and the CLI may run several).
_slots_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _slots() -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    slots = _slots_by_loop.get(loop)
    if slots is None:
        slots = _slots_by_loop[loop] = anyio.CapacityLimiter(HASHING_CONCURRENCY)
    return slots


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's (say, four lanes)."""
    return _hasher.current_hasher.check_needs_rehash(password_hash)


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


async def check_password(password: str, password_hash: str | None) -> bool:
    """:func:`verify_password_or_dummy` in a worker thread, within the hashing cap."""
    return await anyio.to_thread.run_sync(
        verify_password_or_dummy, password, password_hash, limiter=_slots()
    )


async def new_password_hash(password: str) -> str:
    """:func:`hash_password` in a worker thread, within the hashing cap."""
    return await anyio.to_thread.run_sync(hash_password, password, limiter=_slots())
