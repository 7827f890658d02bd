"""An iPhone adding the card (a new PassKit registration) and removing it (the
unregistration) are recorded as the card's installs and removals, once each."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.apple.test_web_service import PUSH_TOKEN, _download, _enrol, _pass_json
from tests.conftest import PASS_TYPE_ID
from tests.factories import Tenant, make_tenant
from wallet_service.clock import ManualClock
from wallet_service.db.models import InstallEvent, Member, PassPlatform
from wallet_service.db.session import session_scope
from wallet_service.installs.service import install_events
from wallet_service.security.principal import MerchantScope

IPHONE = "iphone0device0library0id"
IPAD = "ipad0device0library0id"


async def _events(
    factory: async_sessionmaker[AsyncSession], tenant: Tenant, member_id: str
) -> list[tuple[PassPlatform, InstallEvent, str | None]]:
    async with session_scope(factory) as session:
        member = await session.get(Member, uuid.UUID(member_id))
        assert member is not None
        scope = MerchantScope.for_operator(tenant.merchant_id)
        return [
            (event.platform, event.event, event.device_library_identifier)
            for event in await install_events(session, scope, member)
        ]


async def test_adding_and_removing_the_pass_on_each_device_is_recorded_once(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _enrol(client, tenant)
    token = str(_pass_json((await _download(client, member)).content)["authenticationToken"])
    auth = {"Authorization": f"ApplePass {token}"}

    def registration(device: str) -> str:
        return (
            f"/passkit/v1/devices/{device}/registrations/{PASS_TYPE_ID}/{member['serial_number']}"
        )

    answers = [
        await client.post(registration(IPHONE), json={"pushToken": PUSH_TOKEN}, headers=auth),
        # Wallet registers again when the push token changes: not a second install.
        await client.post(registration(IPHONE), json={"pushToken": "e" * 64}, headers=auth),
        await client.post(registration(IPAD), json={"pushToken": PUSH_TOKEN}, headers=auth),
        await client.delete(registration(IPHONE), headers=auth),
        # Nothing left to remove: nothing recorded.
        await client.delete(registration(IPHONE), headers=auth),
    ]

    assert [answer.status_code for answer in answers] == [201, 200, 201, 200, 200]
    apple = PassPlatform.apple
    assert await _events(session_factory, tenant, member["id"]) == [
        (apple, InstallEvent.installed, IPHONE),
        (apple, InstallEvent.installed, IPAD),
        (apple, InstallEvent.removed, IPHONE),
    ]


async def test_a_refused_registration_records_no_install(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _enrol(client, tenant)
    path = f"/passkit/v1/devices/{IPHONE}/registrations/{PASS_TYPE_ID}/{member['serial_number']}"

    answer = await client.post(
        path, json={"pushToken": PUSH_TOKEN}, headers={"Authorization": "ApplePass " + "x" * 32}
    )

    assert answer.status_code == 401
    assert await _events(session_factory, tenant, member["id"]) == []
