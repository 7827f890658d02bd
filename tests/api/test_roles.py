"""Roles: what owners, managers, marketers, cashiers and POS keys may do.

The customer base and the till are in test_least_privilege.py.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import make_tenant
from wallet_service.security.permissions import Role

OWNER_ONLY = [
    ("GET", "/api/v1/staff", None),
    (
        "POST",
        "/api/v1/staff",
        {"email": "new@example.com", "password": "plum tart in the rain", "role": "cashier"},
    ),
    ("GET", "/api/v1/api-keys", None),
    ("POST", "/api/v1/api-keys", {"name": "till"}),
    ("PATCH", "/api/v1/merchant", {"name": "Renamed"}),
]


@pytest.mark.parametrize(("method", "path", "body"), OWNER_ONLY)
async def test_only_owners_call_owner_endpoints(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    method: str,
    path: str,
    body: dict[str, object] | None,
) -> None:
    tenant = await make_tenant(session_factory, client)
    for role in (Role.cashier, Role.marketer, Role.manager):
        response = await client.request(method, path, json=body, headers=tenant.headers(role))
        assert response.status_code == 403, (role, response.text)
        assert response.json()["code"] == "permission_denied"
    response = await client.request(method, path, json=body, headers=tenant.headers(Role.owner))
    assert response.status_code in (200, 201), response.text


async def test_cashier_cannot_change_stores_or_programs(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    headers = tenant.headers(Role.cashier)
    store = await client.patch(
        f"/api/v1/stores/{tenant.store_ids[0]}", json={"name": "Mine"}, headers=headers
    )
    program = await client.post(
        "/api/v1/programs", json={"name": "P", "currency": "EUR"}, headers=headers
    )
    assert store.status_code == program.status_code == 403


async def test_marketer_manages_programs_and_stores(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    headers = tenant.headers(Role.marketer)
    created = await client.post(
        "/api/v1/programs",
        json={"name": "Summer", "currency": "EUR", "template": "stamps"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    store = await client.post(
        "/api/v1/stores",
        json={"name": "Lyon", "latitude": 45.76, "longitude": 4.83, "timezone": "Europe/Paris"},
        headers=headers,
    )
    assert store.status_code == 201, store.text


async def test_role_change_applies_to_existing_tokens(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    staff = await client.get("/api/v1/staff", headers=tenant.headers(Role.owner))
    cashier = next(s for s in staff.json()["data"] if s["role"] == "cashier")
    promoted = await client.patch(
        f"/api/v1/staff/{cashier['id']}", json={"role": "owner"}, headers=tenant.headers(Role.owner)
    )
    assert promoted.status_code == 200
    response = await client.get("/api/v1/staff", headers=tenant.headers(Role.cashier))
    assert response.status_code == 200
