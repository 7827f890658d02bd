"""Events reach the merchant's receiver, signed, through the outbox; failures are retried,
then dead, and can be redelivered."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import coffee_rules, make_tenant
from tests.webhooks.conftest import Outbox, Shop, create_endpoint
from tests.webhooks.receiver import Received, WebhookReceiver
from wallet_service.clock import ManualClock
from wallet_service.db.models import OutboxMessage, WebhookDelivery
from wallet_service.push.outbox import Topic
from wallet_service.webhooks.signing import SignatureError, verify


def _readme_verifier(repo_root: Path) -> Any:
    """``verify_webhook`` exactly as the README's Webhooks section prints it."""
    readme = (repo_root / "README.md").read_text()
    section = readme.split("## Webhooks", 1)[1].split("\n## ", 1)[0]
    (code,) = [
        block
        for block in re.findall(r"```python\n(.*?)```", section, re.DOTALL)
        if "def verify_webhook" in block
    ]
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace["verify_webhook"]


def _signature(received: Received) -> str:
    return received.headers["wallet-signature"]


async def test_a_scan_reaches_the_receiver_as_card_scanned_and_balance_changed_signed(
    shop: Shop, receiver: WebhookReceiver, outbox: Outbox, clock: ManualClock
) -> None:
    member = await shop.enrol()
    scan = await shop.scan(member, "12.50")
    await outbox()

    (scanned,) = receiver.of_type("card.scanned")
    (balance,) = receiver.of_type("balance.changed")
    for received in (scanned, balance):
        assert received.path == "/hooks"
        assert received.headers["content-type"] == "application/json"
        verify(shop.secret, _signature(received), received.body, clock.now())
        event = json.loads(received.body)
        assert received.headers["wallet-event-id"] == event["id"]
        assert received.headers["wallet-event-type"] == event["type"]
        assert event["merchant_id"] == str(shop.tenant.merchant_id)
        assert event["data"]["member_id"] == member["id"]
        assert event["data"]["serial_number"] == member["serial_number"]
        # Ids only: the member's name and email never leave in a webhook.
        assert b"Camille" not in received.body and b"example.com" not in received.body
    scanned_data = json.loads(scanned.body)["data"]
    assert scanned_data["transaction_id"] == scan["transaction_id"]
    assert scanned_data["amount"] == {"value": "12.50", "currency": "EUR"}
    assert scanned_data["points_earned"] == 125
    assert scanned_data["store_id"] == str(shop.tenant.store_ids[0])
    balance_data = json.loads(balance.body)["data"]
    assert (balance_data["previous_points_balance"], balance_data["points_balance"]) == (0, 125)

    log = await shop.deliveries()
    assert {d["event_type"] for d in log} == {"card.scanned", "balance.changed"}
    assert all(d["status"] == "delivered" and d["attempts"] == 1 for d in log)
    assert all(d["last_status_code"] == 200 for d in log)


async def test_the_readme_snippet_verifies_a_real_delivery_and_refuses_tampering_and_replay(
    shop: Shop, receiver: WebhookReceiver, outbox: Outbox, clock: ManualClock, repo_root: Path
) -> None:
    verify_webhook = _readme_verifier(repo_root)
    await shop.scan(await shop.enrol())
    await outbox()
    received = receiver.of_type("card.scanned")[0]
    header, body, now = _signature(received), received.body, clock.now().timestamp()

    assert verify_webhook(shop.secret, header, body, now=now) is True
    tampered = body.replace(b'"points_earned":125', b'"points_earned":999')
    assert tampered != body
    assert verify_webhook(shop.secret, header, tampered, now=now) is False
    assert verify_webhook("whsec_" + "0" * 64, header, body, now=now) is False
    # Replayed six minutes later: outside the five-minute window.
    assert verify_webhook(shop.secret, header, body, now=now + 360) is False
    assert verify_webhook(shop.secret, header, body, now=now + 299) is True
    # The service's own verifier agrees.
    with pytest.raises(SignatureError):
        verify(shop.secret, header, tampered, clock.now())
    with pytest.raises(SignatureError):
        verify(shop.secret, header, body, clock.now() + timedelta(minutes=6))


async def test_a_receiver_error_is_retried_after_a_backoff_then_delivered(
    shop: Shop, receiver: WebhookReceiver, outbox: Outbox, clock: ManualClock
) -> None:
    await shop.scan(await shop.enrol())
    receiver.answer_next(500, 500)  # both events fail once
    await outbox()
    assert len(receiver.received) == 2
    log = await shop.deliveries()
    assert {(d["status"], d["attempts"], d["last_status_code"]) for d in log} == {
        ("failed", 1, 500)
    }
    assert all("500" in d["last_error"] for d in log)

    await outbox()  # not due yet: the backoff holds them back
    assert len(receiver.received) == 2

    clock.advance(timedelta(minutes=1))
    await outbox()
    assert len(receiver.received) == 4
    log = await shop.deliveries()
    assert {(d["status"], d["attempts"], d["last_status_code"]) for d in log} == {
        ("delivered", 2, 200)
    }
    # The retry is the same event, freshly signed.
    first, retry = receiver.received[0], receiver.received[2]
    assert first.headers["wallet-event-id"] in {
        r.headers["wallet-event-id"] for r in receiver.received[2:]
    }
    verify(shop.secret, _signature(retry), retry.body, clock.now())


async def test_after_the_last_attempt_a_delivery_is_dead_and_redelivery_sends_it_again(
    shop: Shop,
    receiver: WebhookReceiver,
    outbox: Outbox,
    clock: ManualClock,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    member = await shop.enrol()
    receiver.answer_always(503)
    await shop.scan(member)
    for _ in range(30):
        await outbox()
        clock.advance(timedelta(hours=2))
    await shop.sign_in_again()
    log = await shop.deliveries(status="dead")
    assert len(log) == 2
    assert {d["attempts"] for d in log} == {12}
    assert await shop.deliveries(status="failed") == []
    async with session_factory() as session:
        dead_rows = await session.scalar(
            select(func.count()).where(
                OutboxMessage.topic == Topic.WEBHOOK, OutboxMessage.dead_at.is_not(None)
            )
        )
    assert dead_rows == 2

    receiver.answer_always(None)
    receiver.reset()
    delivery = log[0]
    again = await shop.client.post(
        f"/api/v1/webhook-deliveries/{delivery['id']}/redelivery", headers=shop.owner
    )
    assert again.status_code == 202, again.text
    assert again.json()["status"] == "pending"
    await outbox()
    (received,) = receiver.received
    assert received.headers["wallet-event-id"] == delivery["event_id"]
    assert json.loads(received.body) == delivery["payload"]
    verify(shop.secret, _signature(received), received.body, clock.now())
    read = await shop.client.get(f"/api/v1/webhook-deliveries/{delivery['id']}", headers=shop.owner)
    assert read.json()["status"] == "delivered"
    assert read.json()["delivered_at"] is not None
    async with session_factory() as session:
        left = await session.scalar(
            select(func.count()).where(OutboxMessage.subject == delivery["id"])
        )
    assert left == 0  # the dead row was superseded by the redelivery, which went


async def test_a_client_error_is_not_retried(
    shop: Shop, receiver: WebhookReceiver, outbox: Outbox, clock: ManualClock
) -> None:
    receiver.answer_always(410)
    await shop.scan(await shop.enrol())
    await outbox()
    clock.advance(timedelta(minutes=10))  # any retry would be due by now
    await outbox()
    assert len(receiver.received) == 2
    log = await shop.deliveries()
    assert {(d["status"], d["attempts"], d["last_status_code"]) for d in log} == {("dead", 1, 410)}


async def test_an_endpoint_gets_only_the_event_types_it_subscribed_to(
    shop: Shop, receiver: WebhookReceiver, outbox: Outbox
) -> None:
    updated = await shop.client.patch(
        f"/api/v1/webhook-endpoints/{shop.endpoint['id']}",
        json={"event_types": ["card.scanned"]},
        headers=shop.owner,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["event_types"] == ["card.scanned"]
    assert "secret" not in updated.json()
    await shop.scan(await shop.enrol())
    await outbox()
    assert [r.event_type for r in receiver.received] == ["card.scanned"]


async def test_a_redemption_is_reward_redeemed_and_balance_changed(
    shop: Shop, receiver: WebhookReceiver, outbox: Outbox
) -> None:
    member = await shop.enrol()
    await shop.scan(member, "10")  # 100 points: one coffee
    redeemed = await shop.client.post(
        "/api/v1/redemptions",
        json={
            "barcode": shop.tenant.barcode(member["serial_number"]),
            "reward_code": "coffee",
            "store_id": str(shop.tenant.store_ids[0]),
        },
        headers={**shop.tenant.headers(), "Idempotency-Key": "redeem-1"},
    )
    assert redeemed.status_code == 201, redeemed.text
    await outbox()
    (reward,) = [e for e in receiver.events() if e["type"] == "reward.redeemed"]
    assert reward["data"]["reward_code"] == "coffee"
    assert reward["data"]["cost_points"] == 100
    assert reward["data"]["transaction_id"] == redeemed.json()["transaction_id"]
    balances = [e["data"] for e in receiver.events() if e["type"] == "balance.changed"]
    assert [(b["previous_points_balance"], b["points_balance"]) for b in balances] == [
        (0, 100),
        (100, 0),
    ] or sorted((b["previous_points_balance"], b["points_balance"]) for b in balances) == [
        (0, 100),
        (100, 0),
    ]


async def test_a_merchant_without_endpoints_writes_no_webhook_rows(
    shop: Shop, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    deleted = await shop.client.delete(
        f"/api/v1/webhook-endpoints/{shop.endpoint['id']}", headers=shop.owner
    )
    assert deleted.status_code == 204
    await shop.scan(await shop.enrol())
    async with session_factory() as session:
        deliveries = await session.scalar(select(func.count()).select_from(WebhookDelivery))
        queued = await session.scalar(
            select(func.count()).where(OutboxMessage.topic == Topic.WEBHOOK)
        )
    assert (deliveries, queued) == (0, 0)


async def test_a_disabled_endpoint_gets_nothing(
    shop: Shop,
    receiver: WebhookReceiver,
    outbox: Outbox,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    disabled = await shop.client.patch(
        f"/api/v1/webhook-endpoints/{shop.endpoint['id']}",
        json={"active": False},
        headers=shop.owner,
    )
    assert disabled.json()["active"] is False
    await shop.scan(await shop.enrol())
    await outbox()
    assert receiver.received == []
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


async def test_reaching_a_tier_is_tier_changed(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    receiver: WebhookReceiver,
    outbox: Outbox,
) -> None:
    rules = coffee_rules()
    rules["tiers"].append(
        {
            "code": "gold",
            "name": "Gold",
            "window_days": 30,
            "criteria": [{"metric": "points_earned", "threshold": "300"}],
        }
    )
    tenant = await make_tenant(session_factory, client, "Tiers", rules=rules)
    created = await create_endpoint(client, tenant, receiver.url, event_types=["tier.changed"])
    shop = Shop(client, tenant, created.json())
    member = await shop.enrol()
    await shop.scan(member, "10")  # 100 points: still a member
    await shop.scan(member, "25")  # 350 points earned: gold
    await outbox()
    (event,) = receiver.events()
    assert event["type"] == "tier.changed"
    assert (event["data"]["previous_tier"], event["data"]["tier"]) == ("member", "gold")
    assert event["data"]["member_id"] == member["id"]


async def test_redelivering_a_delivery_waiting_for_its_retry_sends_it_now(
    shop: Shop, receiver: WebhookReceiver, outbox: Outbox
) -> None:
    await shop.scan(await shop.enrol())
    receiver.answer_next(500, 500)
    await outbox()
    (waiting, *_) = await shop.deliveries(status="failed")
    again = await shop.client.post(
        f"/api/v1/webhook-deliveries/{waiting['id']}/redelivery", headers=shop.owner
    )
    assert again.status_code == 202, again.text
    await outbox()  # no clock advance: due at once
    read = await shop.client.get(f"/api/v1/webhook-deliveries/{waiting['id']}", headers=shop.owner)
    assert (read.json()["status"], read.json()["attempts"]) == ("delivered", 2)
