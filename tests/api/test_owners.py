"""A merchant always keeps an active owner: nobody can demote or deactivate the last one,
not even two owners demoting each other at the same moment."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Tenant, make_tenant
from wallet_service.db.models import StaffUser
from wallet_service.db.session import session_scope
from wallet_service.security.permissions import Role


async def _staff(client: httpx.AsyncClient, tenant: Tenant, role: Role) -> dict[str, Any]:
    listed = await client.get("/api/v1/staff", headers=tenant.headers(Role.owner))
    found: dict[str, Any] = next(s for s in listed.json()["data"] if s["role"] == role.value)
    return found


async def _active_owners(factory: async_sessionmaker[AsyncSession], tenant: Tenant) -> int:
    async with session_scope(factory) as session:
        count = await session.scalar(
            select(func.count()).where(
                StaffUser.merchant_id == tenant.merchant_id,
                StaffUser.role == Role.owner,
                StaffUser.is_active.is_(True),
            )
        )
    return int(count or 0)


async def test_the_last_owner_cannot_be_demoted_or_deactivated(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    owner = await _staff(client, tenant, Role.owner)
    url = f"/api/v1/staff/{owner['id']}"
    for change in (
        {"role": "manager"},
        {"is_active": False},
        {"role": "cashier", "is_active": False},
    ):
        response = await client.patch(url, json=change, headers=tenant.headers(Role.owner))
        assert response.status_code == 409, (change, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "last_owner"
    assert await _active_owners(session_factory, tenant) == 1
    # Changing other things about the last owner is fine.
    renamed = await client.patch(
        url, json={"full_name": "Ada", "role": "owner"}, headers=tenant.headers(Role.owner)
    )
    assert renamed.status_code == 200, renamed.text


async def test_an_owner_steps_down_once_another_owner_exists(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    owner = await _staff(client, tenant, Role.owner)
    manager = await _staff(client, tenant, Role.manager)
    promoted = await client.patch(
        f"/api/v1/staff/{manager['id']}", json={"role": "owner"}, headers=tenant.headers(Role.owner)
    )
    assert promoted.status_code == 200, promoted.text
    stepped_down = await client.patch(
        f"/api/v1/staff/{owner['id']}", json={"role": "manager"}, headers=tenant.headers(Role.owner)
    )
    assert stepped_down.status_code == 200, stepped_down.text
    # An owner that is already inactive does not count as the one kept.
    deactivated = await client.patch(
        f"/api/v1/staff/{manager['id']}",
        json={"is_active": False},
        headers=tenant.headers(Role.manager),
    )
    assert deactivated.status_code == 409 and deactivated.json()["code"] == "last_owner"


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    for _ in range(3):  # the race is a matter of timing: give it several chances
        tenant = await make_tenant(session_factory, client)
        owner = await _staff(client, tenant, Role.owner)
        second = await _staff(client, tenant, Role.manager)
        promoted = await client.patch(
            f"/api/v1/staff/{second['id']}",
            json={"role": "owner"},
            headers=tenant.headers(Role.owner),
        )
        assert promoted.status_code == 200, promoted.text
        # The promoted manager's token now acts as an owner's: each demotes the other.
        answers = await asyncio.gather(
            client.patch(
                f"/api/v1/staff/{second['id']}",
                json={"role": "cashier"},
                headers=tenant.headers(Role.owner),
            ),
            client.patch(
                f"/api/v1/staff/{owner['id']}",
                json={"role": "cashier"},
                headers=tenant.headers(Role.manager),
            ),
        )
        assert sorted(a.status_code for a in answers) in ([200, 403], [200, 409]), [
            a.text for a in answers
        ]
        assert await _active_owners(session_factory, tenant) == 1
