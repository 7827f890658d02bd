"""A dispatcher wired for this deployment: card changes, program fan-outs, webhooks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wallet_service.clock import Clock
from wallet_service.config import Settings
from wallet_service.dispatcher.apple import ApplePusher
from wallet_service.dispatcher.cards import CardChanges, ProgramChanges
from wallet_service.dispatcher.loop import Dispatcher, DispatchPolicy, Handler
from wallet_service.dispatcher.webhooks import WebhookDeliveries
from wallet_service.google.wallet import GoogleWallet
from wallet_service.push.outbox import Topic

__all__ = ["Delivery", "build_dispatcher", "running"]


@dataclass
class Delivery:
    """A dispatcher and the connections it owns."""

    dispatcher: Dispatcher
    apple: ApplePusher

    async def aclose(self) -> None:
        await self.apple.aclose()


def build_dispatcher(
    settings: Settings,
    factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    google: GoogleWallet,
) -> Delivery:
    apple = ApplePusher(settings)
    handlers: dict[str, Handler] = {
        Topic.CARD: CardChanges(factory, clock, apple, google),
        Topic.PROGRAM: ProgramChanges(factory, clock, apple, google),
        Topic.WEBHOOK: WebhookDeliveries.from_settings(settings, factory, clock),
    }
    policy = DispatchPolicy(
        max_attempts=settings.outbox_max_attempts,
        poll_interval=timedelta(seconds=settings.outbox_poll_seconds),
    )
    return Delivery(Dispatcher(factory, clock, handlers, policy), apple)


@contextlib.asynccontextmanager
async def running(delivery: Delivery) -> AsyncIterator[None]:
    """Deliver in the background for the duration of the block."""
    task = asyncio.create_task(delivery.dispatcher.run_forever(), name="outbox-dispatcher")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await delivery.aclose()
