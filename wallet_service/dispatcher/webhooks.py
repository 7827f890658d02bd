"""Delivering merchant webhooks: one outbox row (topic ``webhook``) per delivery.

Each group's subject is a :class:`~wallet_service.db.models.WebhookDelivery` id. Its event
is posted signed (``Wallet-Signature``) to the endpoint, and the attempt written into the
delivery log. A failure worth retrying is handed back to the outbox (backoff with jitter,
dead after the policy's attempts, the log marking the last one ``dead``); an answer that a
retry cannot change ends the row, the log showing why.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wallet_service.clock import Clock
from wallet_service.config import Environment, Settings
from wallet_service.db.session import session_scope
from wallet_service.dispatcher.loop import Delivered, Group, Outcome, Retry
from wallet_service.webhooks.secrets import WebhookSecrets
from wallet_service.webhooks.sender import Attempt, AttemptOutcome, Outgoing, WebhookSender
from wallet_service.webhooks.service import DeliveryTarget, record_attempt, targets
from wallet_service.webhooks.signing import HEADER, sign

__all__ = ["WebhookDeliveries"]

_DISABLED = Attempt(AttemptOutcome.refused, error="the endpoint is disabled")


@dataclass
class WebhookDeliveries:
    factory: async_sessionmaker[AsyncSession]
    clock: Clock
    secrets: WebhookSecrets
    sender: WebhookSender
    max_attempts: int

    @classmethod
    def from_settings(
        cls, settings: Settings, factory: async_sessionmaker[AsyncSession], clock: Clock
    ) -> WebhookDeliveries:
        return cls(
            factory,
            clock,
            WebhookSecrets.from_settings(settings),
            WebhookSender(production=settings.environment is Environment.production),
            settings.outbox_max_attempts,
        )

    def _request(self, target: DeliveryTarget) -> Outgoing:
        delivery, endpoint = target.delivery, target.endpoint
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        now = self.clock.now()
        return Outgoing(
            endpoint.url,
            body,
            {
                HEADER: sign(self.secrets.signing(endpoint, now), body, now),
                "Wallet-Event-Id": str(delivery.event_id),
                "Wallet-Event-Type": delivery.event_type,
                "Wallet-Delivery-Id": str(delivery.id),
            },
        )

    async def deliver(self, groups: Sequence[Group]) -> list[Outcome]:
        async with session_scope(self.factory) as session:
            found = await targets(session, [uuid.UUID(group.subject) for group in groups])
        attempts: dict[str, Attempt] = {}
        sending = [
            (group.subject, target)
            for group in groups
            if (target := found.get(uuid.UUID(group.subject))) is not None
        ]
        for subject, target in sending:
            if not target.endpoint.active:
                attempts[subject] = _DISABLED
        live = [(subject, target) for subject, target in sending if subject not in attempts]
        results = await self.sender.send([self._request(target) for _, target in live])
        attempts.update(
            (subject, result) for (subject, _), result in zip(live, results, strict=True)
        )
        outcomes: list[Outcome] = []
        now = self.clock.now()
        async with session_scope(self.factory) as session:
            for group in groups:
                attempt = attempts.get(group.subject)
                if attempt is None:  # the delivery is gone with its endpoint
                    outcomes.append(Delivered())
                    continue
                last = max(message.attempts for message in group.messages) >= self.max_attempts
                await record_attempt(session, uuid.UUID(group.subject), attempt, now, last=last)
                if attempt.outcome is AttemptOutcome.retry:
                    outcomes.append(Retry(attempt.error or "webhook not delivered"))
                else:  # delivered, or refused for good: the log says which
                    outcomes.append(Delivered())
        return outcomes
