"""Several dispatchers on one outbox: every row is sent by one of them, never by two."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from fastapi import FastAPI

from tests.apple.apns_standin import ApnsStandIn
from tests.factories import Tenant
from tests.push.conftest import Outbox, phone_with_pass
from tests.scanning.test_till import _scan
from wallet_service.clock import ManualClock
from wallet_service.config import Settings
from wallet_service.db.session import create_engine_for, create_session_factory
from wallet_service.dispatcher.loop import DispatchPolicy
from wallet_service.dispatcher.runner import build_dispatcher
from wallet_service.push.changes import COALESCE_WINDOW

CARDS = 40


async def test_two_workers_never_send_the_same_row_and_together_send_them_all(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    apns: ApnsStandIn,
    apns_settings: Settings,
    clock: ManualClock,
    outbox: Outbox,
) -> None:
    await outbox.deliver()  # the shop's set-up
    phones = [(await phone_with_pass(app, client, tenant))[1] for _ in range(CARDS)]
    await outbox.deliver()  # the enrolments: from here on, one row per card
    apns.delivered.clear()
    for phone in phones:
        assert (await _scan(client, tenant, tenant.barcode(phone.serial))).status_code == 201
    clock.advance(COALESCE_WINDOW)
    # Two workers, each with its own engine and connections, as two processes would have.
    engines = [create_engine_for(apns_settings.resolved_database_url) for _ in range(2)]
    workers = [
        build_dispatcher(
            apns_settings, create_session_factory(engine, clock), clock, app.state.google
        )
        for engine in engines
    ]
    for worker in workers:  # small batches, so the two interleave
        worker.dispatcher.policy = DispatchPolicy(batch_size=3)
    try:
        reports = await asyncio.gather(*(worker.dispatcher.drain() for worker in workers))
    finally:
        for worker in workers:
            await worker.aclose()
        for engine in engines:
            await engine.dispose()

    pushed = Counter(apns.delivered)
    assert set(pushed) == {phone.push_token for phone in phones}
    assert set(pushed.values()) == {1}  # one row per card, and no row went out twice
    assert sum(report.delivered for report in reports) == CARDS
