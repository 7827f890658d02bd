"""Google cards that tell their holder what changed, within Google's limits: messages added
with addMessage stay on the card whatever syncs follow, at most three notifications per pass
in any 24 hours (the fourth change goes out silently), a failed call costs nothing, and every
request to Google waits its turn in the issuer's request budget."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Tenant
from tests.google.conftest import Outbox
from tests.google.discovery import assert_valid
from tests.google.issuer import ISSUER
from tests.google.standin import Call, GoogleStandIn
from tests.scanning.test_till import _member, _scan
from tests.sleeping import ClockSleep
from wallet_service.clock import ManualClock
from wallet_service.db.session import session_scope
from wallet_service.google.client import GoogleWalletError
from wallet_service.google.notifications import recent_notifications
from wallet_service.google.wallet import GoogleWallet


async def _scanned(client: httpx.AsyncClient, tenant: Tenant, member: dict[str, Any]) -> int:
    """Scan the card at the till; its new points balance."""
    scanned = await _scan(client, tenant, tenant.barcode(member["serial_number"]), "20.00")
    assert scanned.status_code == 201, scanned.text
    balance: int = scanned.json()["member"]["points_balance"]
    return balance


def _object_writes(standin: GoogleStandIn) -> list[Call]:
    return [
        call
        for call in standin.calls
        if "/loyaltyObject" in call.path and call.method in {"PUT", "PATCH", "POST"}
    ]


async def _used_budget(
    factory: async_sessionmaker[AsyncSession], tenant: Tenant, member: dict[str, Any], now: Any
) -> int:
    async with session_scope(factory) as session:
        return await recent_notifications(session, tenant.merchant_id, uuid.UUID(member["id"]), now)


async def test_messages_added_with_add_message_survive_a_later_balance_sync(
    client: httpx.AsyncClient,
    tenant: Tenant,
    session_factory: async_sessionmaker[AsyncSession],
    google: GoogleWallet,
    google_standin: GoogleStandIn,
    outbox: Outbox,
) -> None:
    member = await _member(client, tenant)
    await outbox()  # enrolment's outbox row inserts the object
    await outbox()  # enrolment's outbox row inserts the object
    member_id = uuid.UUID(member["id"])
    object_id = f"{ISSUER}.{member['serial_number']}"
    await google.add_message(
        session_factory, member_id, "Double points", "All week in store", notify=False
    )

    balance = await _scanned(client, tenant, member)
    await google.sync_member(session_factory, member_id)

    stored = google_standin.objects[object_id]
    assert_valid("LoyaltyObject", stored)
    assert stored["loyaltyPoints"]["balance"] == {"int": balance}
    [message] = stored["messages"]
    assert (message["header"], message["body"]) == ("Double points", "All week in store")
    assert message["messageType"] == "TEXT"
    writes = _object_writes(google_standin)
    assert "PUT" not in {call.method for call in writes}  # an update would replace the lot
    assert all("messages" not in call.json for call in writes if call.method == "PATCH")


async def test_the_fourth_notifying_update_in_24_hours_is_silent_and_the_next_day_notifies(
    client: httpx.AsyncClient,
    tenant: Tenant,
    session_factory: async_sessionmaker[AsyncSession],
    google: GoogleWallet,
    google_standin: GoogleStandIn,
    clock: ManualClock,
) -> None:
    member = await _member(client, tenant)
    member_id = uuid.UUID(member["id"])
    object_id = f"{ISSUER}.{member['serial_number']}"
    await google.sync_member(session_factory, member_id)  # the new card reaches Google

    notified = []
    for _ in range(4):
        await _scanned(client, tenant, member)
        clock.advance(timedelta(hours=1))
        notified.append(await google.sync_member(session_factory, member_id, notify=True))

    assert notified == [True, True, True, False]
    assert [(n.resource_id, n.via) for n in google_standin.notifications] == [
        (object_id, "update")
    ] * 3
    assert all("loyaltyPoints" in n.changed for n in google_standin.notifications)
    patches = [call for call in _object_writes(google_standin) if call.method == "PATCH"]
    assert [call.json.get("notifyPreference") for call in patches[-4:]] == [
        "NOTIFY_ON_UPDATE",
        "NOTIFY_ON_UPDATE",
        "NOTIFY_ON_UPDATE",
        None,
    ]
    assert_valid("LoyaltyObject", patches[-4].json)  # where Google's discovery document puts it
    assert "notifyPreference" not in google_standin.objects[object_id]  # ephemeral
    assert await _used_budget(session_factory, tenant, member, clock.now()) == 3

    clock.advance(timedelta(hours=21))  # 24 hours after the first notification
    await _scanned(client, tenant, member)
    assert await google.sync_member(session_factory, member_id, notify=True)
    assert len(google_standin.notifications) == 4


async def test_a_notifying_message_counts_in_the_same_budget_and_goes_silent_past_it(
    client: httpx.AsyncClient,
    tenant: Tenant,
    session_factory: async_sessionmaker[AsyncSession],
    google: GoogleWallet,
    google_standin: GoogleStandIn,
    outbox: Outbox,
) -> None:
    member = await _member(client, tenant)
    await outbox()  # enrolment's outbox row inserts the object
    member_id = uuid.UUID(member["id"])
    object_id = f"{ISSUER}.{member['serial_number']}"
    for _ in range(2):
        await _scanned(client, tenant, member)
        assert await google.sync_member(session_factory, member_id, notify=True)

    third = await google.add_message(
        session_factory, member_id, "Birthday", "A coffee on us", notify=True
    )
    fourth = await google.add_message(
        session_factory, member_id, "Win-back", "We miss you", notify=True
    )

    assert (third, fourth) == (True, False)
    types = [message["messageType"] for message in google_standin.objects[object_id]["messages"]]
    assert types == ["TEXT_AND_NOTIFY", "TEXT"]
    assert [n.via for n in google_standin.notifications] == ["update", "update", "message"]
    request = google_standin.calls[-1].json
    assert_valid("AddMessageRequest", request)


async def test_a_failed_google_call_does_not_use_the_budget(
    client: httpx.AsyncClient,
    tenant: Tenant,
    session_factory: async_sessionmaker[AsyncSession],
    google: GoogleWallet,
    google_standin: GoogleStandIn,
    clock: ManualClock,
    outbox: Outbox,
) -> None:
    member = await _member(client, tenant)
    await outbox()  # enrolment's outbox row inserts the object
    member_id = uuid.UUID(member["id"])
    await _scanned(client, tenant, member)

    google_standin.fail_next(503, "backendError", "Google is having a moment")
    with pytest.raises(GoogleWalletError):
        await google.sync_member(session_factory, member_id, notify=True)
    google_standin.fail_next(429, "rateLimitExceeded", "slow down")
    with pytest.raises(GoogleWalletError):
        await google.add_message(session_factory, member_id, "Offer", "Today", notify=True)

    assert await _used_budget(session_factory, tenant, member, clock.now()) == 0
    assert google_standin.notifications == []
    assert [await google.sync_member(session_factory, member_id, notify=True) for _ in "abc"] == [
        True,
        True,
        True,
    ]


async def test_a_card_new_to_google_is_inserted_without_a_notification(
    client: httpx.AsyncClient,
    tenant: Tenant,
    session_factory: async_sessionmaker[AsyncSession],
    google: GoogleWallet,
    google_standin: GoogleStandIn,
    clock: ManualClock,
) -> None:
    member = await _member(client, tenant)  # not yet sent to Google
    object_id = f"{ISSUER}.{member['serial_number']}"

    notified = await google.sync_member(session_factory, uuid.UUID(member["id"]), notify=True)

    assert notified is False
    assert object_id in google_standin.objects
    assert [call.method for call in _object_writes(google_standin)[-2:]] == ["PATCH", "POST"]
    assert await _used_budget(session_factory, tenant, member, clock.now()) == 0


async def test_the_cards_own_message_is_replaced_and_added_messages_are_kept(
    client: httpx.AsyncClient,
    tenant: Tenant,
    session_factory: async_sessionmaker[AsyncSession],
    google: GoogleWallet,
    google_standin: GoogleStandIn,
    outbox: Outbox,
) -> None:
    member = await _member(client, tenant)
    await outbox()  # enrolment's outbox row inserts the object
    object_id = f"{ISSUER}.{member['serial_number']}"
    added = {"id": "offer-1", "header": "Offer", "body": "Two for one", "messageType": "TEXT"}
    stale = {"id": "points-expiring", "header": "Points expiring soon", "body": "old news"}
    google_standin.objects[object_id]["messages"] = [stale, added]  # points since used up

    await google.sync_member(session_factory, uuid.UUID(member["id"]))
    await google.sync_member(session_factory, uuid.UUID(member["id"]))

    assert google_standin.objects[object_id]["messages"] == [added]
    message_patches = [
        call
        for call in _object_writes(google_standin)
        if call.method == "PATCH" and "messages" in call.json
    ]
    assert len(message_patches) == 1  # once right, the messages are left alone


async def test_every_google_request_waits_its_turn_in_the_issuers_budget(
    client: httpx.AsyncClient,
    tenant: Tenant,
    session_factory: async_sessionmaker[AsyncSession],
    google: GoogleWallet,
    google_standin: GoogleStandIn,
    google_sleep: ClockSleep,
    clock: ManualClock,
    outbox: Outbox,
) -> None:
    member = await _member(client, tenant)
    await outbox()  # enrolment's outbox row inserts the object
    clock.advance(timedelta(seconds=10))  # an idle bucket is full again
    google_sleep.waits.clear()
    calls_before = len(google_standin.calls)

    for _ in range(3):
        await google.sync_member(session_factory, uuid.UUID(member["id"]))
    await google.add_message(session_factory, uuid.UUID(member["id"]), "Hi", "Hello", notify=False)

    sent = len(google_standin.calls) - calls_before
    assert sent == 4
    # 20 requests/s by default: each after the first waited 50 ms on the test clock.
    assert [round(wait, 3) for wait in google_sleep.waits] == [0.05] * (sent - 1)
