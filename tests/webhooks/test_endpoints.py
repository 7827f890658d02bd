"""Endpoints through the API: the secret shown once, rotation, strict input, tenancy."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import make_tenant
from tests.webhooks.conftest import Outbox, Shop
from tests.webhooks.receiver import WebhookReceiver
from wallet_service.clock import ManualClock
from wallet_service.security.permissions import Role
from wallet_service.webhooks.signing import verify


async def test_the_secret_is_shown_at_creation_and_never_again(shop: Shop) -> None:
    assert shop.secret.startswith("whsec_") and len(shop.secret) == 6 + 64
    endpoint_id = shop.endpoint["id"]
    read = await shop.client.get(f"/api/v1/webhook-endpoints/{endpoint_id}", headers=shop.owner)
    listed = await shop.client.get("/api/v1/webhook-endpoints", headers=shop.owner)
    assert read.status_code == listed.status_code == 200
    assert shop.secret not in read.text + listed.text
    assert listed.json()["count"] == 1
    assert read.json()["event_types"] == [] and read.json()["active"] is True


async def test_a_rotated_secret_signs_beside_the_old_one_for_the_grace_period(
    shop: Shop, receiver: WebhookReceiver, outbox: Outbox, clock: ManualClock
) -> None:
    rotated = await shop.client.post(
        f"/api/v1/webhook-endpoints/{shop.endpoint['id']}/secret-rotation",
        json={"keep_previous_hours": 1},
        headers=shop.owner,
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    new = rotated.json()["secret"]
    assert new != shop.secret and rotated.json()["secret_version"] == 2
    member = await shop.enrol()
    await shop.scan(member)
    await outbox()
    received = receiver.received[0]
    header = received.headers["wallet-signature"]
    assert header.count("v1=") == 2
    verify(new, header, received.body, clock.now())
    verify(shop.secret, header, received.body, clock.now())

    receiver.reset()
    clock.advance(timedelta(hours=2))
    await shop.scan(member, "3")
    await outbox()
    header = receiver.received[0].headers["wallet-signature"]
    assert header.count("v1=") == 1
    verify(new, header, receiver.received[0].body, clock.now())


async def test_bad_input_is_a_problem_with_a_stable_code(shop: Shop) -> None:
    for body in (
        {"url": "https://example.com/in", "event_types": ["card.exploded"]},
        {"url": "https://example.com/in", "colour": "red"},
        {"url": "https://example.com/in", "active": 1},
        {"url": "not a url"},
    ):
        answer = await shop.client.post("/api/v1/webhook-endpoints", json=body, headers=shop.owner)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] in {"validation_error", "webhook_url_not_allowed"}
    bad_filter = await shop.client.get(
        "/api/v1/webhook-deliveries", params={"status": "lost"}, headers=shop.owner
    )
    assert bad_filter.status_code == 422


async def test_a_merchant_cannot_see_or_touch_another_merchant_s_webhooks(
    shop: Shop,
    outbox: Outbox,
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await shop.scan(await shop.enrol())
    await outbox()
    (delivery, *_) = await shop.deliveries()
    other = await make_tenant(session_factory, client, "Rival")
    theirs = other.headers(Role.owner)
    endpoint = f"/api/v1/webhook-endpoints/{shop.endpoint['id']}"
    delivery_url = f"/api/v1/webhook-deliveries/{delivery['id']}"
    for method, url, body in (
        ("GET", endpoint, None),
        ("PATCH", endpoint, {"active": False}),
        ("DELETE", endpoint, None),
        ("POST", f"{endpoint}/secret-rotation", None),
        ("GET", delivery_url, None),
        ("POST", f"{delivery_url}/redelivery", None),
    ):
        answer = await client.request(method, url, json=body, headers=theirs)
        assert answer.status_code == 404, (method, url, answer.text)
        assert answer.json()["code"] in {"webhook_endpoint_not_found", "webhook_delivery_not_found"}
    for listing in ("/api/v1/webhook-endpoints", "/api/v1/webhook-deliveries"):
        assert (await client.get(listing, headers=theirs)).json() == {"data": [], "count": 0}
    filtered = await client.get(
        "/api/v1/webhook-deliveries", params={"endpoint_id": shop.endpoint["id"]}, headers=theirs
    )
    assert filtered.json()["count"] == 0
    # Untouched for its owner.
    mine = await client.get(endpoint, headers=shop.owner)
    assert mine.json()["active"] is True


async def test_managers_and_pos_keys_cannot_manage_webhooks(shop: Shop) -> None:
    for headers in (shop.tenant.headers(Role.manager), shop.tenant.headers()):
        answer = await shop.client.get("/api/v1/webhook-endpoints", headers=headers)
        assert answer.status_code == 403
