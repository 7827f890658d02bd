"""The dispatch loop: lease a batch, hand each topic's groups to its handler, settle.

Rows with the same topic and subject form one group and one delivery (coalescing). A handler
answers each group with an :data:`Outcome`; the loop turns it into deletion, a later retry
with exponential backoff and jitter, a dead letter, or (for a fan-out with more to do) the
row due again at once. A handler that raises fails its whole batch, to be retried: nothing
is lost, and deliveries are at least once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wallet_service.clock import Clock
from wallet_service.db.models import OutboxMessage
from wallet_service.db.session import session_scope
from wallet_service.metrics import OUTBOX_DELIVERED, OUTBOX_DIED, OUTBOX_FAILED
from wallet_service.push.outbox import Lease, backoff, claim, complete, release

__all__ = [
    "Continue",
    "Delivered",
    "DispatchPolicy",
    "DispatchReport",
    "Dispatcher",
    "Group",
    "Handler",
    "Outcome",
    "Pause",
    "Retry",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Group:
    """The leased rows of one topic and subject: delivered as one."""

    topic: str
    subject: str
    messages: Sequence[OutboxMessage]

    @property
    def merchant_id(self) -> Any:
        return self.messages[0].merchant_id

    @property
    def payload(self) -> dict[str, Any]:
        """The oldest row's payload (rows that merge, such as card changes, read them all)."""
        return self.messages[0].payload

    @property
    def first_queued_at(self) -> datetime:
        return min(message.created_at for message in self.messages)


@dataclass(frozen=True)
class Delivered:
    pass


@dataclass(frozen=True)
class Retry:
    """Failed: try again after a backoff; ``payload`` is what remains to do (or all of it)."""

    error: str
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class Pause:
    """Not the rows' fault (e.g. Apple refused our certificate): try again after ``delay``
    without spending an attempt."""

    error: str
    delay: timedelta
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class Continue:
    """Part done (a fan-out page): the rest, due at once, without spending an attempt."""

    payload: dict[str, Any]


Outcome = Delivered | Retry | Pause | Continue


class Handler(Protocol):
    async def deliver(self, groups: Sequence[Group]) -> list[Outcome]:
        """One outcome per group, in order."""
        ...


@dataclass(frozen=True)
class DispatchPolicy:
    batch_size: int = 200
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 12
    backoff_base: timedelta = timedelta(seconds=5)
    backoff_cap: timedelta = timedelta(hours=1)
    poll_interval: timedelta = timedelta(seconds=0.25)


@dataclass
class DispatchReport:
    groups: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0


@dataclass
class Dispatcher:
    factory: async_sessionmaker[AsyncSession]
    clock: Clock
    handlers: dict[str, Handler]
    policy: DispatchPolicy = field(default_factory=DispatchPolicy)

    async def run_once(self) -> DispatchReport:
        """Lease one batch of due rows and deliver it."""
        async with session_scope(self.factory) as session:
            lease = await claim(
                session, self.clock.now(), limit=self.policy.batch_size, lease=self.policy.lease
            )
        if lease is None:
            return DispatchReport()
        groups = _grouped(lease.messages)
        outcomes: list[tuple[Group, Outcome]] = []
        for topic in dict.fromkeys(group.topic for group in groups):
            of_topic = [group for group in groups if group.topic == topic]
            outcomes.extend(zip(of_topic, await self._deliver(topic, of_topic), strict=True))
        return await self._settle(lease, outcomes)

    async def drain(self, *, rounds: int = 1000) -> DispatchReport:
        """Deliver until nothing is due (tests, benchmarks and the CLI)."""
        total = DispatchReport()
        for _ in range(rounds):
            report = await self.run_once()
            if not report.groups:
                break
            total.groups += report.groups
            total.delivered += report.delivered
            total.failed += report.failed
            total.dead += report.dead
        return total

    async def run_forever(self) -> None:
        """Deliver as rows fall due; a failing round is logged and the next one retries."""
        while True:
            try:
                report = await self.run_once()
            except Exception:
                logger.exception("outbox dispatch round failed")
                report = DispatchReport()
            if not report.groups:
                await asyncio.sleep(self.policy.poll_interval.total_seconds())

    async def _deliver(self, topic: str, groups: list[Group]) -> list[Outcome]:
        handler = self.handlers.get(topic)
        if handler is None:
            return [Retry(f"no handler for topic {topic!r}") for _ in groups]
        try:
            outcomes = await handler.deliver(groups)
        except Exception as exc:
            logger.exception("outbox handler %r failed", topic)
            return [Retry(f"{type(exc).__name__}: {exc}") for _ in groups]
        assert len(outcomes) == len(groups)
        return outcomes

    async def _settle(self, lease: Lease, outcomes: list[tuple[Group, Outcome]]) -> DispatchReport:
        report = DispatchReport(groups=len(outcomes))
        now = self.clock.now()
        async with session_scope(self.factory) as session:
            for group, outcome in outcomes:
                ids = [message.id for message in group.messages]
                if isinstance(outcome, Delivered):
                    await complete(session, lease, ids)
                    report.delivered += 1
                    OUTBOX_DELIVERED.labels(group.topic).inc(len(ids))
                    continue
                if isinstance(outcome, Continue):
                    await release(
                        session, lease, ids, now=now, due=now, error=None,
                        max_attempts=self.policy.max_attempts, spend_attempt=False,
                        payload=outcome.payload,
                    )  # fmt: skip
                    continue
                report.failed += 1
                OUTBOX_FAILED.labels(group.topic).inc()
                if isinstance(outcome, Pause):
                    due, spend = now + outcome.delay, False
                else:
                    attempts = max(message.attempts for message in group.messages)
                    delay = backoff(
                        attempts, base=self.policy.backoff_base, cap=self.policy.backoff_cap
                    )
                    due, spend = now + delay, True
                died = await release(
                    session, lease, ids, now=now, due=due, error=outcome.error,
                    max_attempts=self.policy.max_attempts, spend_attempt=spend,
                    payload=outcome.payload,
                )  # fmt: skip
                if died:
                    report.dead += died
                    OUTBOX_DIED.labels(group.topic).inc(died)
                    logger.warning(
                        "outbox %s %s is dead after %d attempts: %s",
                        group.topic, group.subject, self.policy.max_attempts, outcome.error,
                    )  # fmt: skip
        return report


def _grouped(messages: Sequence[OutboxMessage]) -> list[Group]:
    by_key: dict[tuple[str, str], list[OutboxMessage]] = {}
    for message in messages:
        by_key.setdefault((message.topic, message.subject), []).append(message)
    return [Group(topic, subject, rows) for (topic, subject), rows in by_key.items()]
