"""The till stays cheap: a batch of scans reads webhook endpoints once, for all merchants."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import coffee_rules, make_tenant
from tests.scanning.test_group_commit import _all_at_once, _principal, _request
from tests.scanning.test_till import _member
from tests.statements import statements_sent
from tests.webhooks.conftest import create_endpoint
from tests.webhooks.receiver import WebhookReceiver
from wallet_service.db.models import WebhookDelivery
from wallet_service.scanning.batcher import ScanBatcher


def _reads_endpoints(statement: str) -> bool:
    return statement.upper().startswith("SELECT") and "FROM WEBHOOK_ENDPOINT" in statement.upper()


async def test_a_batch_of_scans_reads_the_endpoints_of_all_its_merchants_in_one_query(
    app: FastAPI,
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    receiver: WebhookReceiver,
) -> None:
    hooked = await make_tenant(session_factory, client, "Hooked", rules=coffee_rules())
    plain = await make_tenant(session_factory, client, "Plain", rules=coffee_rules())
    assert (await create_endpoint(client, hooked, receiver.url)).status_code == 201
    hooked_key, plain_key = (
        await _principal(session_factory, hooked),
        await _principal(session_factory, plain),
    )
    hooked_member, plain_member = await _member(client, hooked), await _member(client, plain)
    scans = [
        _request(hooked_key, hooked_member["serial_number"]),
        _request(plain_key, plain_member["serial_number"]),
        _request(hooked_key, hooked_member["serial_number"]),
        _request(plain_key, plain_member["serial_number"]),
    ]
    batcher = ScanBatcher(session_factory)
    try:
        with statements_sent(app, _reads_endpoints) as reads:
            results = await _all_at_once(batcher, scans)
    finally:
        await batcher.close()
    assert not any(isinstance(r, Exception) for r in results), results
    assert len(reads) == 1
    async with session_factory() as session:
        rows = await session.execute(
            select(WebhookDelivery.merchant_id, WebhookDelivery.event_type, func.count()).group_by(
                WebhookDelivery.merchant_id, WebhookDelivery.event_type
            )
        )
        counts = {(m, t): n for m, t, n in rows.all()}
    # Two scans, each a card.scanned and a balance.changed, for the hooked merchant only.
    assert counts == {
        (hooked.merchant_id, "card.scanned"): 2,
        (hooked.merchant_id, "balance.changed"): 2,
    }
