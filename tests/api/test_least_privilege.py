"""Least privilege at the till: default POS keys and cashiers look cards up and scan, nothing
more; the customer base and erasure are for owners, managers and keys given the scope."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Tenant, coffee_rules, make_tenant
from wallet_service.security.permissions import Role

RULES = coffee_rules()


async def _new_key(
    client: httpx.AsyncClient, tenant: Tenant, **fields: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "Till 3", **fields},
        headers=tenant.headers(Role.owner),
    )
    assert created.status_code == 201, created.text
    return created.json(), {"Authorization": f"Bearer {created.json()['key']}"}


async def _enrol(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/programs/{tenant.program_id}/members",
        json={"given_name": "Camille", "email": "camille@example.com"},
        headers=tenant.headers(Role.owner),
    )
    assert response.status_code == 201, response.text
    member: dict[str, Any] = response.json()
    return member


def _posting(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": str(uuid.uuid4())}


async def _member_routes(
    client: httpx.AsyncClient, tenant: Tenant, member_id: str, headers: dict[str, str]
) -> dict[str, int]:
    """Status of each customer-base route for these credentials."""
    return {
        "list": (await client.get("/api/v1/members", headers=headers)).status_code,
        "read": (await client.get(f"/api/v1/members/{member_id}", headers=headers)).status_code,
        "enrol": (
            await client.post(
                f"/api/v1/programs/{tenant.program_id}/members",
                json={"given_name": "Eve"},
                headers=headers,
            )
        ).status_code,
        "erase": (
            await client.post(f"/api/v1/members/{member_id}/erasure", headers=headers)
        ).status_code,
    }


async def test_a_new_pos_key_gets_only_lookup_and_scans_by_default(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    key, headers = await _new_key(client, tenant)
    assert key["scopes"] == ["cards:lookup", "scans:write"]
    me = await client.get("/api/v1/auth/me", headers=headers)
    assert me.json()["permissions"] == ["cards:lookup", "scans:write"]


async def test_a_store_bound_pos_key_cannot_list_read_enrol_or_erase_members(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _enrol(client, tenant)
    _, headers = await _new_key(client, tenant, store_id=str(tenant.store_ids[0]))
    statuses = await _member_routes(client, tenant, member["id"], headers)
    assert statuses == {"list": 403, "read": 403, "enrol": 403, "erase": 403}
    listed = await client.get("/api/v1/members", headers=headers)
    assert listed.json()["code"] == "permission_denied"
    assert "camille" not in listed.text.lower()
    # Nobody was erased.
    still = await client.get(f"/api/v1/members/{member['id']}", headers=tenant.headers(Role.owner))
    assert still.json()["email"] == "camille@example.com"


async def test_a_default_pos_key_looks_a_card_up_scans_redeems_and_reverses(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=RULES)
    member = await _enrol(client, tenant)
    barcode = tenant.barcode(member["serial_number"])
    _, headers = await _new_key(client, tenant)

    looked_up = await client.get(
        "/api/v1/scans/lookup", params={"barcode": barcode}, headers=headers
    )
    assert looked_up.status_code == 200, looked_up.text
    assert looked_up.json()["member"]["name"] == "Camille"
    scan = await client.post(
        "/api/v1/scans",
        json={"barcode": barcode, "amount": {"value": "30", "currency": "EUR"}},
        headers=_posting(headers),
    )
    assert scan.status_code == 201, scan.text
    redemption = await client.post(
        "/api/v1/redemptions",
        json={"barcode": barcode, "reward_code": "coffee"},
        headers=_posting(headers),
    )
    assert redemption.status_code == 201, redemption.text
    assert redemption.json()["member"]["points_balance"] == 200
    reversal = await client.post(
        f"/api/v1/transactions/{redemption.json()['transaction_id']}/reversal",
        json={"reason": "changed their mind"},
        headers=_posting(headers),
    )
    assert reversal.status_code == 201, reversal.text
    assert reversal.json()["member"]["points_balance"] == 300


async def test_a_key_given_members_read_explicitly_lists_members(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _enrol(client, tenant)
    _, headers = await _new_key(client, tenant, scopes=["members:read"])
    listed = await client.get("/api/v1/members", headers=headers)
    assert listed.status_code == 200, listed.text
    assert [m["id"] for m in listed.json()["data"]] == [member["id"]]
    # Reading is not erasing.
    erased = await client.post(f"/api/v1/members/{member['id']}/erasure", headers=headers)
    assert erased.status_code == 403


async def test_a_key_given_members_erase_explicitly_erases(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _enrol(client, tenant)
    _, headers = await _new_key(client, tenant, scopes=["members:erase"])
    erased = await client.post(f"/api/v1/members/{member['id']}/erasure", headers=headers)
    assert erased.status_code == 200, erased.text
    assert erased.json()["email"] is None


async def test_api_keys_still_cannot_be_given_administration(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    for scope in ("staff:manage", "api_keys:manage", "merchant:write", "programs:write"):
        response = await client.post(
            "/api/v1/api-keys",
            json={"name": "evil", "scopes": ["cards:lookup", scope]},
            headers=tenant.headers(Role.owner),
        )
        assert response.status_code == 422, (scope, response.text)


async def test_a_cashier_looks_up_and_scans_but_cannot_list_read_enrol_or_erase_members(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _enrol(client, tenant)
    headers = tenant.headers(Role.cashier)
    barcode = tenant.barcode(member["serial_number"])
    looked_up = await client.get(
        "/api/v1/scans/lookup", params={"barcode": barcode}, headers=headers
    )
    assert looked_up.status_code == 200, looked_up.text
    statuses = await _member_routes(client, tenant, member["id"], headers)
    assert statuses == {"list": 403, "read": 403, "enrol": 403, "erase": 403}


async def test_a_marketer_does_not_page_through_the_customer_base(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _enrol(client, tenant)
    statuses = await _member_routes(client, tenant, member["id"], tenant.headers(Role.marketer))
    assert statuses == {"list": 403, "read": 403, "enrol": 403, "erase": 403}


async def test_a_manager_lists_reads_enrols_and_erases_members(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _enrol(client, tenant)
    statuses = await _member_routes(client, tenant, member["id"], tenant.headers(Role.manager))
    assert statuses == {"list": 200, "read": 200, "enrol": 201, "erase": 200}
    erased = await client.get(f"/api/v1/members/{member['id']}", headers=tenant.headers(Role.owner))
    assert erased.json()["email"] is None and erased.json()["status"] == "erased"
