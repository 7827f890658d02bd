"""A stand-in for ``asyncio.sleep`` that lets the injected clock do the waiting.

Code that paces itself (the Google request throttle) takes an async ``sleep``; handing it a
``ClockSleep`` moves the ``ManualClock`` forward instead of waiting, and records each wait so
a test can read the spacing it asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from wallet_service.clock import ManualClock

__all__ = ["ClockSleep"]


@dataclass
class ClockSleep:
    clock: ManualClock
    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))
