"""At the till: scans credit exactly once, redemptions never overspend, errors are clear."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Tenant, coffee_rules, make_tenant
from wallet_service.db.models import LedgerEntry, LedgerTransaction, Member
from wallet_service.db.session import session_scope
from wallet_service.loyalty.examples import coffee_shop_rules
from wallet_service.scanning.short_code import issue_short_code
from wallet_service.security.permissions import Role

# The coffee shop, plus a reward with one item in stock.
SIMPLE_RULES = coffee_rules()
SIMPLE_RULES["rewards"].append(
    {
        "code": "mug",
        "name": "Branded mug",
        "kind": "free_product",
        "cost_points": 10,
        "product_sku": "MUG",
        "stock": 1,
    }
)


async def _member(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/programs/{tenant.program_id}/members",
        json={"given_name": "Camille", **fields},
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text
    member: dict[str, Any] = response.json()
    return member


async def _scan(
    client: httpx.AsyncClient,
    tenant: Tenant,
    barcode: str,
    amount: str = "12.50",
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        "/api/v1/scans",
        json={"barcode": barcode, "amount": {"value": amount, "currency": "EUR"}, **extra},
        headers={**(headers or tenant.headers()), "Idempotency-Key": key or str(uuid.uuid4())},
    )


async def _redeem(
    client: httpx.AsyncClient,
    tenant: Tenant,
    barcode: str,
    reward_code: str,
    key: str | None = None,
) -> httpx.Response:
    return await client.post(
        "/api/v1/redemptions",
        json={"barcode": barcode, "reward_code": reward_code},
        headers={**tenant.headers(), "Idempotency-Key": key or str(uuid.uuid4())},
    )


async def _ledger_counts(
    factory: async_sessionmaker[AsyncSession], member_id: str
) -> tuple[int, int, int]:
    """(transactions, sum of entry points, cached balance) for one member."""
    async with session_scope(factory) as session:
        member = await session.get(Member, uuid.UUID(member_id))
        assert member is not None
        transactions = await session.scalar(
            select(func.count()).where(LedgerTransaction.member_id == member.id)
        )
        points = await session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.member_id == member.id
            )
        )
        return int(transactions or 0), int(points or 0), member.points_balance


async def test_a_scan_credits_points_and_returns_the_card_state(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=coffee_shop_rules())
    member = await _member(client, tenant)
    assert member["points_balance"] == 50  # welcome bonus
    response = await _scan(client, tenant, tenant.barcode(member["serial_number"]), "12.50")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["points_earned"] == 125
    assert body["member"]["points_balance"] == 175
    assert body["member"]["tier"] == {"code": "curious", "name": "Curious"}
    assert body["member"]["progress_text"]
    assert body["cashback_earned"] == "0.25"
    assert body["stamps_earned"] == 1
    assert {r["code"] for r in body["rewards"] if r["usable"]} >= {"free-espresso", "plant-a-tree"}
    assert await _ledger_counts(session_factory, member["id"]) == (2, 175, 175)


async def test_retrying_a_scan_with_the_same_key_credits_once(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    barcode = tenant.barcode(member["serial_number"])
    first = await _scan(client, tenant, barcode, "5", key="till-1-receipt-42")
    again = await _scan(client, tenant, barcode, "5", key="till-1-receipt-42")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert await _ledger_counts(session_factory, member["id"]) == (1, 50, 50)

    different = await _scan(client, tenant, barcode, "6", key="till-1-receipt-42")
    assert different.status_code == 409
    assert different.json()["code"] == "idempotency_key_reused"


async def test_concurrent_retries_of_one_scan_credit_once(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    barcode = tenant.barcode(member["serial_number"])
    responses = await asyncio.gather(
        *(_scan(client, tenant, barcode, "5", key="flaky-network") for _ in range(10))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["transaction_id"] for r in responses}) == 1
    assert await _ledger_counts(session_factory, member["id"]) == (1, 50, 50)


async def test_mutating_calls_without_an_idempotency_key_are_refused(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    response = await client.post(
        "/api/v1/scans",
        json={
            "barcode": tenant.barcode(member["serial_number"]),
            "amount": {"value": "5", "currency": "EUR"},
        },
        headers=tenant.headers(),
    )
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"


async def test_fifty_concurrent_redemptions_never_overspend(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    barcode = tenant.barcode(member["serial_number"])
    assert (await _scan(client, tenant, barcode, "100")).json()["member"]["points_balance"] == 1000

    responses = await asyncio.gather(
        *(_redeem(client, tenant, barcode, "coffee") for _ in range(50))
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 10, statuses
    assert statuses.count(409) == 40
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"insufficient_points"}
    assert await _ledger_counts(session_factory, member["id"]) == (11, 0, 0)


async def test_limited_stock_runs_out_across_members(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    barcodes = []
    for _ in range(2):
        member = await _member(client, tenant)
        barcodes.append(tenant.barcode(member["serial_number"]))
        await _scan(client, tenant, barcodes[-1], "10")
    results = []
    for barcode in barcodes:
        results.append(await _redeem(client, tenant, barcode, "mug"))
    assert results[0].status_code == 201, results[0].text
    assert results[1].status_code == 409
    assert results[1].json()["code"] == "reward_out_of_stock"

    # Reversing the first redemption puts the mug back on the shelf.
    reversal = await client.post(
        f"/api/v1/transactions/{results[0].json()['transaction_id']}/reversal",
        json={"reason": "customer changed their mind"},
        headers={**tenant.headers(), "Idempotency-Key": "undo-mug"},
    )
    assert reversal.status_code == 201, reversal.text
    retry = await _redeem(client, tenant, barcodes[1], "mug")
    assert retry.status_code == 201, retry.text


async def test_a_mistaken_scan_is_reversed_exactly_once(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    scan = await _scan(client, tenant, tenant.barcode(member["serial_number"]), "30")
    url = f"/api/v1/transactions/{scan.json()['transaction_id']}/reversal"
    body = {"reason": "wrong customer"}
    first = await client.post(url, json=body, headers={**tenant.headers(), "Idempotency-Key": "r1"})
    assert first.status_code == 201, first.text
    assert first.json()["member"]["points_balance"] == 0
    replay = await client.post(
        url, json=body, headers={**tenant.headers(), "Idempotency-Key": "r1"}
    )
    assert replay.json() == first.json()
    twice = await client.post(url, json=body, headers={**tenant.headers(), "Idempotency-Key": "r2"})
    assert twice.status_code == 409 and twice.json()["code"] == "already_reversed"
    assert await _ledger_counts(session_factory, member["id"]) == (2, 0, 0)


async def test_online_orders_land_on_the_same_account_keyed_by_order_id(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    barcode = tenant.barcode(member["serial_number"])
    await _scan(client, tenant, barcode, "10")
    order = {
        "barcode": barcode,
        "amount": {"value": "20", "currency": "EUR"},
        "channel": "online",
        "order_id": "WEB-1001",
    }
    first = await client.post("/api/v1/scans", json=order, headers=tenant.headers())
    again = await client.post("/api/v1/scans", json=order, headers=tenant.headers())
    assert first.status_code == again.status_code == 201
    assert again.json()["member"]["points_balance"] == 300
    assert await _ledger_counts(session_factory, member["id"]) == (2, 300, 300)


async def test_lookup_shows_the_card_without_crediting(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=coffee_shop_rules())
    member = await _member(client, tenant, family_name="Martin")
    response = await client.get(
        "/api/v1/scans/lookup",
        params={"barcode": "  " + tenant.barcode(member["serial_number"]).lower() + "\n"},
        headers=tenant.headers(Role.cashier),
    )
    assert response.status_code == 200, response.text
    assert response.json()["member"]["name"] == "Camille Martin"
    assert response.json()["member"]["points_balance"] == 50
    assert await _ledger_counts(session_factory, member["id"]) == (1, 50, 50)


async def test_balance_changes_bump_the_pass_version(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)

    async def version() -> int:
        async with session_scope(session_factory) as session:
            row = await session.get(Member, uuid.UUID(member["id"]))
            assert row is not None
            return row.pass_version

    before = await version()
    await _scan(client, tenant, tenant.barcode(member["serial_number"]), "3")
    assert await version() == before + 1
    await _scan(client, tenant, tenant.barcode(member["serial_number"]), "0.01")  # earns nothing
    assert await version() == before + 1


@pytest.mark.parametrize(
    ("barcode", "code", "status"),
    [
        ("LW1.NOTAREALTOKEN.AAAA", "invalid_barcode", 422),
        ("hello world", "invalid_barcode", 422),
        ("", "validation_error", 422),
    ],
)
async def test_forged_or_garbled_barcodes_are_rejected(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    barcode: str,
    code: str,
    status: int,
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    response = await _scan(client, tenant, barcode)
    assert response.status_code == status and response.json()["code"] == code


async def test_a_typo_in_a_real_token_is_rejected(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    token = tenant.barcode(member["serial_number"])
    typo = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    response = await _scan(client, tenant, typo)
    assert response.status_code == 422 and response.json()["code"] == "invalid_barcode"


async def test_unknown_member_and_other_merchants_cards_look_the_same(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, "Mine", rules=SIMPLE_RULES)
    other = await make_tenant(session_factory, client, "Theirs", rules=SIMPLE_RULES)
    theirs = await _member(client, other)
    unknown = await _scan(client, tenant, tenant.barcode(str(uuid.uuid4())))
    foreign = await _scan(client, tenant, tenant.barcode(theirs["serial_number"]))
    for response in (unknown, foreign):
        assert response.status_code == 404 and response.json()["code"] == "member_not_found"
    assert await _ledger_counts(session_factory, theirs["id"]) == (0, 0, 0)


async def test_a_voided_card_cannot_be_scanned(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    async with session_scope(session_factory) as session:
        row = await session.get(Member, uuid.UUID(member["id"]))
        assert row is not None
        from wallet_service.db.models import MemberStatus

        row.status = MemberStatus.cancelled
    response = await _scan(client, tenant, tenant.barcode(member["serial_number"]))
    assert response.status_code == 409 and response.json()["code"] == "card_voided"


async def test_rewards_reserved_for_a_tier_are_refused_with_a_clear_code(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=coffee_shop_rules())
    member = await _member(client, tenant)
    barcode = tenant.barcode(member["serial_number"])
    await _scan(client, tenant, barcode, "40")
    response = await _redeem(client, tenant, barcode, "ten-percent-off", "tier")
    assert response.status_code == 422
    assert response.json()["code"] == "reward_not_allowed_for_tier"
    unknown = await _redeem(client, tenant, barcode, "no-such-reward", "unknown")
    assert unknown.status_code == 404 and unknown.json()["code"] == "reward_not_found"


async def test_a_reward_with_a_minimum_basket_is_only_given_against_a_big_enough_basket(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=coffee_shop_rules())
    member = await _member(client, tenant)
    barcode = tenant.barcode(member["serial_number"])
    scanned = await _scan(client, tenant, barcode, "20.00")
    offered = {r["code"]: r for r in scanned.json()["rewards"]}
    assert offered["two-euros-off"]["minimum_basket"] == "5.00"
    assert offered["free-espresso"]["minimum_basket"] is None

    async def redeem(**basket: str) -> httpx.Response:
        return await client.post(
            "/api/v1/redemptions",
            json={"barcode": barcode, "reward_code": "two-euros-off", **basket},
            headers={**tenant.headers(), "Idempotency-Key": str(uuid.uuid4())},
        )

    unsaid = await redeem()
    assert unsaid.status_code == 422 and unsaid.json()["code"] == "basket_amount_required"
    too_small = await redeem(basket_amount="4.99")
    assert too_small.status_code == 422 and too_small.json()["code"] == "below_minimum_basket"
    given = await redeem(basket_amount="6.00")
    assert given.status_code == 201, given.text
    assert given.json()["reward"]["discount_amount"] == "2.00"
    assert await _ledger_counts(session_factory, member["id"]) == (3, 50, 50)


async def test_cashiers_can_only_scan_at_their_own_store(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    barcode = tenant.barcode(member["serial_number"])
    cashier = tenant.headers(Role.cashier)
    elsewhere = await _scan(
        client, tenant, barcode, headers=cashier, store_id=str(tenant.store_ids[1])
    )
    assert elsewhere.status_code == 403 and elsewhere.json()["code"] == "store_not_allowed"
    at_home = await _scan(client, tenant, barcode, headers=cashier)
    assert at_home.status_code == 201


async def test_amount_in_the_wrong_currency_is_refused(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    response = await client.post(
        "/api/v1/scans",
        json={
            "barcode": tenant.barcode(member["serial_number"]),
            "amount": {"value": "10", "currency": "USD"},
        },
        headers={**tenant.headers(), "Idempotency-Key": "usd"},
    )
    assert response.status_code == 422 and response.json()["code"] == "currency_mismatch"


async def test_program_rules_are_validated_with_the_offending_path(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    rules = {**SIMPLE_RULES, "earn": {"points_per_currency_unit": "ten"}}
    response = await client.patch(
        f"/api/v1/programs/{tenant.program_id}",
        json={"rules": rules},
        headers=tenant.headers(Role.owner),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_program_rules"
    assert response.json()["path"].startswith("earn")


async def test_the_short_code_under_the_barcode_can_be_typed_instead(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    code = issue_short_code(tenant.barcode_key, member["serial_number"])
    assert len(code) == 17 and code.count("-") == 3
    typed = await _scan(client, tenant, code.lower().replace("-", " "), "5")
    assert typed.status_code == 201, typed.text
    assert typed.json()["member"]["id"] == member["id"]
    typo = code[:-1] + ("A" if code[-1] != "A" else "B")
    refused = await _scan(client, tenant, typo, "5")
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_barcode"


async def test_a_store_bound_cashier_cannot_reverse_transactions_of_no_store(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    online = await _scan(
        client,
        tenant,
        tenant.barcode(member["serial_number"]),
        "10",
        channel="online",
        order_id="WEB-7",
    )
    response = await client.post(
        f"/api/v1/transactions/{online.json()['transaction_id']}/reversal",
        json={"reason": "not mine"},
        headers={**tenant.headers(Role.cashier), "Idempotency-Key": "cashier-undo"},
    )
    assert response.status_code == 403 and response.json()["code"] == "store_not_allowed"


async def test_an_online_order_retried_with_a_fresh_key_is_credited_once(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    barcode = tenant.barcode(member["serial_number"])
    for _ in range(2):
        await _scan(client, tenant, barcode, "10", channel="online", order_id="WEB-8")
    assert await _ledger_counts(session_factory, member["id"]) == (1, 100, 100)


async def test_absurd_amounts_are_refused(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    response = await _scan(client, tenant, tenant.barcode(member["serial_number"]), "1e20")
    assert response.status_code == 422 and response.json()["code"] == "validation_error"


async def test_two_tills_numbering_receipts_alike_do_not_collide(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    second_till = await client.post(
        "/api/v1/api-keys", json={"name": "Till 2"}, headers=tenant.headers(Role.owner)
    )
    till_two = {"Authorization": f"Bearer {second_till.json()['key']}"}
    member = await _member(client, tenant)
    barcode = tenant.barcode(member["serial_number"])
    first = await _scan(client, tenant, barcode, "5", key="receipt-0001")
    second = await _scan(client, tenant, barcode, "5", key="receipt-0001", headers=till_two)
    assert first.status_code == second.status_code == 201
    assert first.json()["transaction_id"] != second.json()["transaction_id"]
    assert await _ledger_counts(session_factory, member["id"]) == (2, 100, 100)
