"""Fixtures for live cards: the APNs stand-in, a dispatcher pointed at it, a registered device."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from certificates.layout import CertificatePaths
from tests.apple.apns_standin import ApnsStandIn
from tests.conftest import PASS_TYPE_ID
from tests.factories import Tenant, deliver, make_tenant
from tests.scanning.test_till import SIMPLE_RULES, _member
from wallet_service.clock import ManualClock
from wallet_service.config import Settings
from wallet_service.dispatcher.loop import DispatchReport
from wallet_service.dispatcher.runner import Delivery, build_dispatcher


@pytest.fixture
async def apns(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ApnsStandIn]:
    root = CertificatePaths.in_directory(settings.certificates_dir).dev_root_certificate
    standin = ApnsStandIn(tmp_path_factory.mktemp("apns"), client_ca_file=root)
    await standin.start()
    try:
        yield standin
    finally:
        await standin.stop()


@pytest.fixture
def apns_settings(settings: Settings, apns: ApnsStandIn) -> Settings:
    return settings.model_copy(update={"apns_url": apns.url, "apns_ca_file": apns.ca_file})


@pytest.fixture
async def delivery(
    app: FastAPI, apns_settings: Settings, clock: ManualClock
) -> AsyncIterator[Delivery]:
    """The dispatcher `serve` or `worker` runs, pushing to the stand-in."""
    built = build_dispatcher(apns_settings, app.state.session_factory, clock, app.state.google)
    try:
        yield built
    finally:
        await built.aclose()


@dataclass
class Outbox:
    delivery: Delivery
    clock: ManualClock

    async def deliver(self) -> DispatchReport:
        return await deliver(self.delivery.dispatcher, self.clock)


@pytest.fixture
async def outbox(delivery: Delivery, clock: ManualClock) -> Outbox:
    return Outbox(delivery, clock)


@dataclass
class Phone:
    """A device holding one pass, speaking the PassKit web service as Wallet does."""

    client: httpx.AsyncClient
    device: str
    push_token: str
    serial: str
    authentication_token: str
    tag: str | None = None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"ApplePass {self.authentication_token}"}

    async def register(self) -> httpx.Response:
        return await self.client.post(
            f"/passkit/v1/devices/{self.device}/registrations/{PASS_TYPE_ID}/{self.serial}",
            json={"pushToken": self.push_token},
            headers=self.auth,
        )

    async def changed_serials(self) -> httpx.Response:
        """What Wallet asks after a push (and remembers the tag it gets)."""
        params = {"passesUpdatedSince": self.tag} if self.tag else {}
        answer = await self.client.get(
            f"/passkit/v1/devices/{self.device}/registrations/{PASS_TYPE_ID}", params=params
        )
        if answer.status_code == 200:
            self.tag = answer.json()["lastUpdated"]
        return answer

    async def fetch_pass(self) -> httpx.Response:
        return await self.client.get(
            f"/passkit/v1/passes/{PASS_TYPE_ID}/{self.serial}", headers=self.auth
        )


@pytest.fixture
async def tenant(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> Tenant:
    return await make_tenant(session_factory, client, rules=SIMPLE_RULES)


async def phone_with_pass(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, **member_fields: Any
) -> tuple[dict[str, Any], Phone]:
    """A member whose pass is on a phone that registered for its updates."""
    member = await _member(client, tenant, **member_fields)
    serial = member["serial_number"]
    phone = Phone(
        client,
        device=f"device-{uuid.uuid4().hex[:12]}",
        push_token=uuid.uuid4().hex * 2,
        serial=serial,
        authentication_token=app.state.apple.authentication_token(serial),
    )
    registered = await phone.register()
    assert registered.status_code == 201, registered.text
    assert (await phone.changed_serials()).status_code == 200  # its first tag
    return member, phone
