"""Fixtures for the webhook tests: a receiver on loopback, a merchant with an endpoint on it,
and the app's dispatcher to deliver what the outbox holds."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import PASSWORD, Tenant, coffee_rules, deliver, make_tenant
from tests.webhooks.receiver import WebhookReceiver
from wallet_service.clock import ManualClock
from wallet_service.dispatcher.loop import DispatchReport
from wallet_service.security.permissions import Role


@pytest.fixture(scope="session")
def receiver_server() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def receiver(receiver_server: WebhookReceiver) -> Iterator[WebhookReceiver]:
    receiver_server.reset()
    yield receiver_server
    receiver_server.reset()


Outbox = Callable[[], Awaitable[DispatchReport]]


@pytest.fixture
def outbox(app: FastAPI, clock: ManualClock) -> Outbox:
    """Deliver what the outbox holds, as the app's dispatcher would."""
    return lambda: deliver(app.state.delivery.dispatcher, clock)


@pytest.fixture
async def tenant(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> Tenant:
    return await make_tenant(session_factory, client, "Hooks", rules=coffee_rules())


@dataclass
class Shop:
    """A merchant with an endpoint on the receiver, and calls the tests make."""

    client: httpx.AsyncClient
    tenant: Tenant
    endpoint: dict[str, Any]

    @property
    def owner(self) -> dict[str, str]:
        return self.tenant.headers(Role.owner)

    @property
    def secret(self) -> str:
        secret: str = self.endpoint["secret"]
        return secret

    async def enrol(self) -> dict[str, Any]:
        response = await self.client.post(
            f"/api/v1/programs/{self.tenant.program_id}/members",
            json={"given_name": "Camille", "email": "camille@example.com"},
            headers=self.owner,
        )
        assert response.status_code == 201, response.text
        member: dict[str, Any] = response.json()
        return member

    async def scan(self, member: dict[str, Any], value: str = "12.50") -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/scans",
            json={
                "barcode": self.tenant.barcode(member["serial_number"]),
                "amount": {"value": value, "currency": "EUR"},
                "store_id": str(self.tenant.store_ids[0]),
            },
            headers={**self.tenant.headers(), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 201, response.text
        scan: dict[str, Any] = response.json()
        return scan

    async def sign_in_again(self) -> None:
        """A fresh owner token, after the clock moved past the last one's 15 minutes."""
        response = await self.client.post(
            "/api/v1/auth/token",
            data={
                "username": self.tenant.emails[Role.owner],
                "password": PASSWORD,
                "merchant": self.tenant.slug,
            },
        )
        assert response.status_code == 200, response.text
        self.tenant.tokens[Role.owner] = response.json()["access_token"]

    async def deliveries(self, **params: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            "/api/v1/webhook-deliveries", params=params, headers=self.owner
        )
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data


async def create_endpoint(
    client: httpx.AsyncClient, tenant: Tenant, url: str, **fields: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/webhook-endpoints",
        json={"url": url, **fields},
        headers=tenant.headers(Role.owner),
    )


@pytest.fixture
async def shop(client: httpx.AsyncClient, tenant: Tenant, receiver: WebhookReceiver) -> Shop:
    created = await create_endpoint(client, tenant, receiver.url, description="CRM")
    assert created.status_code == 201, created.text
    return Shop(client, tenant, created.json())
