"""The one source of "now": every service, job and command asks an injected ``Clock``.

Expiry, birthdays, tiers' rolling windows, access tokens, rotating barcodes, idempotency
retention and PassKit tags all depend on the date. Reading it from one injected object
(``app.state.clock``, the worker's and the CLI's argument, the sessions' engine) means a test
can pin the date, a demo can seed history in the past, and nothing silently depends on the
machine's calendar.

Example::

    clock = ManualClock(datetime(2028, 2, 29, 23, 59, tzinfo=UTC))
    app = create_app(settings, clock=clock)
    clock.advance(timedelta(minutes=2))  # now 1 March, as if time had passed
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["TICK", "Clock", "ManualClock", "SystemClock"]

# How far a ManualClock moves on each reading: two events never share an instant, so
# "latest first" orderings stay the order things happened in.
TICK = timedelta(microseconds=1)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class SystemClock:
    """The machine's clock: production's."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that moves only when told to (and by one microsecond per reading).

    For tests and replays: set it to any instant, then :meth:`advance` it instead of waiting.
    """

    def __init__(self, at: datetime) -> None:
        self._at = _aware(at)

    def now(self) -> datetime:
        at = self._at
        self._at = at + TICK
        return at

    def set(self, at: datetime) -> None:
        self._at = _aware(at)

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def __repr__(self) -> str:
        return f"ManualClock({self._at.isoformat()})"


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a clock needs a timezone-aware instant")
    return at.astimezone(UTC)
