"""Progressive sign-in lockout that an attacker cannot turn against the account's owner.

Failures are counted per (account, client address). After ``FREE_FAILURES`` in a row from one
address, that address waits before its next try: 30 s, then twice as long after each further
failure, up to an hour. A success from the address clears its count. An attacker guessing
from elsewhere therefore locks out only themselves: the owner at the till, on another
address, signs in as usual.

A distributed guess (many addresses, few tries each) is capped per account instead: past
``ACCOUNT_FAILURES_PER_HOUR`` failures across all addresses, only addresses that have signed
in to the account successfully before (remembered for ``KNOWN_ADDRESS_DAYS``) may try, until
the hour ends.

Accounts are keyed by a hash of what names them at sign-in (the merchant and the lower-cased
email), whether or not one exists, so the lock reveals nothing about which accounts exist.
"""

from __future__ import annotations

import hashlib
import math

from wallet_service.clock import Clock
from wallet_service.errors import TooManyRequests
from wallet_service.rate_limits.counters import Counters

__all__ = ["LoginLockout"]

FREE_FAILURES = 5
FIRST_LOCK_SECONDS = 30
MAX_LOCK_SECONDS = 3600
FAILURE_MEMORY_SECONDS = 24 * 3600
ACCOUNT_FAILURES_PER_HOUR = 50
KNOWN_ADDRESS_DAYS = 30


def _account(account: str) -> str:
    return hashlib.sha256(account.strip().lower().encode()).hexdigest()[:32]


class LoginLockout:
    """Sign-in lockout. Unlike rate limits it fails closed: with its counters unreachable,
    sign-in answers 503 rather than let guesses through unchecked."""

    def __init__(
        self,
        counters: Counters,
        clock: Clock,
        *,
        enabled: bool = True,
        account_failures_per_hour: int = ACCOUNT_FAILURES_PER_HOUR,
    ) -> None:
        self.counters = counters
        self._clock = clock
        self.enabled = enabled
        self._account_failures_per_hour = account_failures_per_hour

    def _keys(self, account: str, address: str) -> tuple[str, str, str, str]:
        account = _account(account)
        hour = math.floor(self._clock.now().timestamp() / 3600)
        return (
            f"lock:failures:{account}:{address}",
            f"lock:until:{account}:{address}",
            f"lock:account:{account}:{hour}",
            f"lock:known:{account}:{address}",
        )

    async def check(self, account: str, address: str) -> None:
        """``TooManyRequests`` (code ``login_locked``) while this address must wait."""
        if not self.enabled:
            return
        _, until_key, account_key, known_key = self._keys(account, address)
        now = self._clock.now().timestamp()
        locked_until_ms = await self.counters.read(until_key)
        if locked_until_ms > now * 1000:
            raise TooManyRequests(
                "Too many failed sign-ins from here; wait before trying again.",
                retry_after=math.ceil(locked_until_ms / 1000 - now),
                code="login_locked",
            )
        if await self.counters.read(account_key) >= self._account_failures_per_hour and not (
            await self.counters.read(known_key)
        ):
            raise TooManyRequests(
                "Too many failed sign-ins to this account; try again later or from a "
                "device that has signed in before.",
                retry_after=math.ceil(3600 - now % 3600),
                code="login_locked",
            )

    async def failed(self, account: str, address: str) -> None:
        if not self.enabled:
            return
        failures_key, until_key, account_key, _ = self._keys(account, address)
        failures = await self.counters.increment(failures_key, FAILURE_MEMORY_SECONDS)
        await self.counters.increment(account_key, 3600)
        if failures >= FREE_FAILURES:
            doublings = min(failures - FREE_FAILURES, 8)  # bounded: no huge powers of two
            wait = min(FIRST_LOCK_SECONDS * 2**doublings, MAX_LOCK_SECONDS)
            now = self._clock.now().timestamp()
            # Milliseconds: the counters hold integers, and Retry-After must not round up.
            await self.counters.write(until_key, math.floor((now + wait) * 1000), wait + 1)

    async def succeeded(self, account: str, address: str) -> None:
        if not self.enabled:
            return
        failures_key, until_key, _, known_key = self._keys(account, address)
        await self.counters.delete(failures_key, until_key)
        await self.counters.write(known_key, 1, KNOWN_ADDRESS_DAYS * 86400)
