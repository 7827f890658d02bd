"""One webhook POST and what its answer means.

2xx: delivered. 408, 425, 429, 5xx, timeouts and connection failures: try again later (the
outbox's backoff). Any other answer (3xx, since redirects are not followed, or 4xx) and an
address refused as unsafe: refused for good, as the same request would be refused again;
the merchant redelivers from the log once the receiver is fixed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import httpx

from wallet_service.webhooks.destinations import (
    PinnedTransport,
    UnsafeConnection,
    UnsafeDestination,
    check_url,
)

__all__ = ["Attempt", "AttemptOutcome", "Outgoing", "WebhookSender"]

TIMEOUT = 10.0  # seconds, for each of connecting, sending and reading
CONCURRENCY = 16
USER_AGENT = "wallet-service-webhooks/1"
_RETRIED_STATUSES = frozenset({408, 425, 429})


class AttemptOutcome(StrEnum):
    delivered = "delivered"
    retry = "retry"
    refused = "refused"


@dataclass(frozen=True)
class Attempt:
    outcome: AttemptOutcome
    status_code: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Outgoing:
    url: str
    body: bytes
    headers: dict[str, str]


def _judge(status: int) -> Attempt:
    if 200 <= status < 300:
        return Attempt(AttemptOutcome.delivered, status)
    error = f"the endpoint answered HTTP {status}"
    if status in _RETRIED_STATUSES or status >= 500:
        return Attempt(AttemptOutcome.retry, status, error)
    return Attempt(AttemptOutcome.refused, status, error)


@dataclass(frozen=True)
class WebhookSender:
    """Posts a batch of deliveries over one short-lived client (closed with the batch)."""

    production: bool
    timeout: float = TIMEOUT

    async def send(self, requests: Sequence[Outgoing]) -> list[Attempt]:
        slots = asyncio.Semaphore(CONCURRENCY)
        transport = PinnedTransport(production=self.production)
        async with httpx.AsyncClient(
            transport=transport, timeout=self.timeout, follow_redirects=False, trust_env=False
        ) as http:

            async def one(request: Outgoing) -> Attempt:
                async with slots:
                    return await self._post(http, request)

            return list(await asyncio.gather(*(one(r) for r in requests)))

    async def _post(self, http: httpx.AsyncClient, request: Outgoing) -> Attempt:
        try:
            check_url(request.url, production=self.production)
        except UnsafeDestination as refused:
            return Attempt(AttemptOutcome.refused, error=f"unsafe destination: {refused}")
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **request.headers}
        try:
            response = await http.post(request.url, content=request.body, headers=headers)
        except httpx.ConnectError as exc:
            if isinstance(exc.__cause__, UnsafeConnection):
                return Attempt(AttemptOutcome.refused, error=f"unsafe destination: {exc}")
            return Attempt(AttemptOutcome.retry, error=f"connection failed: {exc}")
        except httpx.TimeoutException:
            return Attempt(AttemptOutcome.retry, error="timed out")
        except httpx.HTTPError as exc:
            return Attempt(AttemptOutcome.retry, error=f"{type(exc).__name__}: {exc}")
        return _judge(response.status_code)
