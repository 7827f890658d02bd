"""``Idempotency-Key``: a retry gets the stored answer whatever happened to the card since,
another caller's keys cannot pre-empt ours, and erasure leaves no personal data behind."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Tenant, coffee_rules, make_tenant
from wallet_service.db.models import IdempotencyRecord, LedgerTransaction, Member
from wallet_service.db.session import session_scope
from wallet_service.security.permissions import Role

RULES = coffee_rules(cost_points=10)
CAMILLE = {
    "given_name": "Camille",
    "family_name": "Martinez-Lefebvre",
    "email": "camille.ml@example.com",
    "birthday": "1990-04-12",
}


async def _enrol(
    client: httpx.AsyncClient, tenant: Tenant, key: str | None = None
) -> httpx.Response:
    headers = tenant.headers() if key is None else {**tenant.headers(), "Idempotency-Key": key}
    return await client.post(
        f"/api/v1/programs/{tenant.program_id}/members", json=CAMILLE, headers=headers
    )


async def _member(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/programs/{tenant.program_id}/members",
        json={**CAMILLE, **fields},
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text
    member: dict[str, Any] = response.json()
    return member


async def _scan(
    client: httpx.AsyncClient,
    barcode: str,
    key: str,
    headers: dict[str, str],
    amount: str = "5",
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        "/api/v1/scans",
        json={"barcode": barcode, "amount": {"value": amount, "currency": "EUR"}, **extra},
        headers={**headers, "Idempotency-Key": key},
    )


async def _second_key(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, str]:
    created = await client.post(
        "/api/v1/api-keys", json={"name": "Other integration"}, headers=tenant.headers(Role.owner)
    )
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['key']}"}


async def _end(client: httpx.AsyncClient, tenant: Tenant, member_id: str, how: str) -> None:
    response = await client.post(
        f"/api/v1/members/{member_id}/{how}", headers=tenant.headers(Role.owner)
    )
    assert response.status_code == 200, response.text


async def _transactions(factory: async_sessionmaker[AsyncSession], member_id: str) -> int:
    async with session_scope(factory) as session:
        count = await session.scalar(
            select(func.count()).where(LedgerTransaction.member_id == uuid.UUID(member_id))
        )
        return int(count or 0)


async def test_a_retried_scan_after_the_card_was_cancelled_gets_the_original_answer(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=RULES)
    member = await _member(client, tenant)
    barcode = tenant.barcode(member["serial_number"])
    first = await _scan(client, barcode, "receipt-1", tenant.headers())
    assert first.status_code == 201, first.text
    await _end(client, tenant, member["id"], "cancellation")

    retry = await _scan(client, barcode, "receipt-1", tenant.headers())
    assert retry.status_code == 201, retry.text
    assert retry.json() == first.json()
    fresh = await _scan(client, barcode, "receipt-2", tenant.headers())
    assert fresh.status_code == 409 and fresh.json()["code"] == "card_voided"
    assert await _transactions(session_factory, member["id"]) == 1


async def test_a_retried_redemption_after_the_card_was_cancelled_gets_the_original_answer(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=RULES)
    member = await _member(client, tenant)
    barcode = tenant.barcode(member["serial_number"])
    assert (await _scan(client, barcode, "earn", tenant.headers())).status_code == 201
    body = {"barcode": barcode, "reward_code": "coffee"}
    headers = {**tenant.headers(), "Idempotency-Key": "redeem-1"}
    first = await client.post("/api/v1/redemptions", json=body, headers=headers)
    assert first.status_code == 201, first.text
    await _end(client, tenant, member["id"], "cancellation")

    retry = await client.post("/api/v1/redemptions", json=body, headers=headers)
    assert retry.status_code == 201, retry.text
    assert retry.json() == first.json()
    assert await _transactions(session_factory, member["id"]) == 2


async def test_a_retried_scan_after_erasure_gets_the_original_answer_without_the_name(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=RULES)
    member = await _member(client, tenant)
    barcode = tenant.barcode(member["serial_number"])
    first = await _scan(client, barcode, "receipt-1", tenant.headers())
    assert first.json()["member"]["name"] == "Camille Martinez-Lefebvre"
    await _end(client, tenant, member["id"], "erasure")

    retry = await _scan(client, barcode, "receipt-1", tenant.headers())
    assert retry.status_code == 201, retry.text
    replayed = retry.json()
    assert replayed["transaction_id"] == first.json()["transaction_id"]
    assert replayed["points_earned"] == first.json()["points_earned"]
    assert replayed["member"]["name"] == "Member"
    assert replayed["member"]["status"] == "erased"
    assert await _transactions(session_factory, member["id"]) == 1


async def test_a_retried_enrolment_after_erasure_answers_without_personal_data_and_enrols_no_one(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    first = await _enrol(client, tenant, key="signup-42")
    assert first.status_code == 201, first.text
    member = first.json()
    await _end(client, tenant, member["id"], "erasure")

    retry = await _enrol(client, tenant, key="signup-42")
    assert retry.status_code == 201, retry.text
    replayed = retry.json()
    assert replayed["id"] == member["id"]
    assert replayed["status"] == "erased"
    assert replayed["given_name"] == replayed["family_name"] == ""
    assert replayed["email"] is None and replayed["birthday"] is None
    assert replayed["card_url"] == replayed["apple_pass_url"] == ""
    assert replayed["google_save_url"] is None
    async with session_scope(session_factory) as session:
        members = await session.scalar(
            select(func.count()).where(Member.merchant_id == tenant.merchant_id)
        )
    assert members == 1
    # The key still guards its request: another body under it is refused as before.
    other = await client.post(
        f"/api/v1/programs/{tenant.program_id}/members",
        json={"given_name": "Zoé"},
        headers={**tenant.headers(), "Idempotency-Key": "signup-42"},
    )
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"


async def test_after_erasure_the_stored_answers_hold_none_of_the_members_personal_data(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=RULES)
    member = (await _enrol(client, tenant, key="signup-1")).json()
    barcode = tenant.barcode(member["serial_number"])
    assert (await _scan(client, barcode, "receipt-1", tenant.headers())).status_code == 201
    redeemed = await client.post(
        "/api/v1/redemptions",
        json={"barcode": barcode, "reward_code": "coffee"},
        headers={**tenant.headers(), "Idempotency-Key": "redeem-1"},
    )
    assert redeemed.status_code == 201, redeemed.text
    reversed_ = await client.post(
        f"/api/v1/transactions/{redeemed.json()['transaction_id']}/reversal",
        json={"reason": "wrong card"},
        headers={**tenant.headers(), "Idempotency-Key": "undo-1"},
    )
    assert reversed_.status_code == 201, reversed_.text
    personal = ["Camille", "Martinez-Lefebvre", "camille.ml@example.com", "1990-04-12"]
    personal += [member["card_url"], member["apple_pass_url"]]

    async def stored() -> str:
        async with session_scope(session_factory) as session:
            rows = await session.scalars(
                select(IdempotencyRecord.response_body).where(
                    IdempotencyRecord.merchant_id == tenant.merchant_id
                )
            )
            bodies = list(rows)
        assert len(bodies) == 4
        return json.dumps(bodies)

    before = await stored()
    assert all(value in before for value in personal)
    await _end(client, tenant, member["id"], "erasure")
    after = await stored()
    assert [value for value in personal if value in after] == []


async def test_another_caller_cannot_pre_empt_an_online_order_id(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=RULES)
    customer = await _member(client, tenant)
    intruder = await _member(client, tenant, email="intruder@example.com")
    other_key = await _second_key(client, tenant)
    # Another integration (or a cashier) claims the web shop's next order id first, on its
    # own card, through the order id and through the header alike.
    claimed = await _scan(
        client,
        tenant.barcode(intruder["serial_number"]),
        "anything",
        other_key,
        channel="online",
        order_id="WEB-1001",
    )
    assert claimed.status_code == 201, claimed.text
    by_header = await _scan(
        client, tenant.barcode(intruder["serial_number"]), "online-order:WEB-1002", other_key
    )
    assert by_header.status_code == 201, by_header.text

    for order in ("WEB-1001", "WEB-1002"):
        shop = await _scan(
            client,
            tenant.barcode(customer["serial_number"]),
            str(uuid.uuid4()),
            tenant.headers(),
            amount="20",
            channel="online",
            order_id=order,
        )
        assert shop.status_code == 201, shop.text
        assert shop.json()["member"]["id"] == customer["id"]
        assert shop.json()["points_earned"] == 200
    assert await _transactions(session_factory, customer["id"]) == 2


async def test_another_api_key_using_the_same_key_gets_its_own_outcome(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=RULES)
    member = await _member(client, tenant)
    other_card = await _member(client, tenant, email="other@example.com")
    other_key = await _second_key(client, tenant)
    for key in ("order-77", "online-order:78"):
        # The other key uses the key first, on another card.
        theirs = await _scan(
            client, tenant.barcode(other_card["serial_number"]), key, other_key, "9"
        )
        assert theirs.status_code == 201, theirs.text

        mine = await _scan(
            client, tenant.barcode(member["serial_number"]), key, tenant.headers(), "3"
        )
        assert mine.status_code == 201, mine.text
        assert mine.json()["member"]["id"] == member["id"]
        assert mine.json()["points_earned"] == 30
        assert mine.json()["transaction_id"] != theirs.json()["transaction_id"]


async def test_a_cashier_retrying_from_another_till_gets_the_first_answer(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=RULES)
    member = await _member(client, tenant)
    barcode = tenant.barcode(member["serial_number"])
    first = await _scan(client, barcode, "receipt-9", tenant.headers(Role.cashier))
    # Signed in again on the next till: a new token, the same staff account.
    relogin = await client.post(
        "/api/v1/auth/token",
        data={"username": tenant.emails[Role.cashier], "password": "correct horse battery staple"},
    )
    assert relogin.status_code == 200, relogin.text
    other_till = {"Authorization": f"Bearer {relogin.json()['access_token']}"}
    again = await _scan(client, barcode, "receipt-9", other_till)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert await _transactions(session_factory, member["id"]) == 1


async def test_the_longest_key_allowed_is_stored_and_replayed(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=RULES)
    member = await _member(client, tenant)
    barcode = tenant.barcode(member["serial_number"])
    key = "k" * 255
    first = await _scan(client, barcode, key, tenant.headers())
    again = await _scan(client, barcode, key, tenant.headers())
    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json()
    assert await _transactions(session_factory, member["id"]) == 1
