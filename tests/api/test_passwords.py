"""Staff passwords: a policy that refuses weak ones, and changes that revoke old tokens."""

from __future__ import annotations

import httpx
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import PASSWORD, make_tenant
from wallet_service.db.models import StaffUser
from wallet_service.db.session import session_scope
from wallet_service.security.password_policy import password_problem
from wallet_service.security.permissions import Role

WEAK = {
    "aaaaaaaaaa": "at least 12 characters",
    "password12": "at least 12 characters",
    " " * 10: "blank",
    " " * 14: "blank",
    "\x00" * 14: "NUL",
    "aaaaaaaaaaaa": "too few different characters",
    "password1234": "too common",
    "Password1234!": "too common",
    "qwertyuiop123": "too common",
}


@pytest.mark.parametrize(("password", "reason"), WEAK.items(), ids=[repr(p) for p in WEAK])
async def test_weak_passwords_are_refused_with_a_422_saying_why(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    password: str,
    reason: str,
) -> None:
    tenant = await make_tenant(session_factory, client)
    response = await client.post(
        "/api/v1/staff",
        json={"email": "new@example.com", "password": password, "role": "cashier"},
        headers=tenant.headers(Role.owner),
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", "password"]
    assert reason in error["msg"]
    assert password.strip() == "" or password not in response.text  # never echoed back


def test_long_passphrases_in_any_script_are_accepted() -> None:
    for good in (
        "correct horse battery staple",
        "Tr0ub4dor&3 xyz",
        "пароль-для-кассы",
        "咖啡店收银台的密码很长很长",
    ):
        assert password_problem(good) is None, good


async def test_changing_a_password_revokes_the_tokens_issued_before(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    me = await client.get("/api/v1/auth/me", headers=tenant.headers(Role.cashier))
    cashier_id = me.json()["id"]

    changed = await client.patch(
        f"/api/v1/staff/{cashier_id}",
        json={"password": "a brand new till passphrase"},
        headers=tenant.headers(Role.owner),
    )
    assert changed.status_code == 200

    stale = await client.get("/api/v1/auth/me", headers=tenant.headers(Role.cashier))
    assert stale.status_code == 401
    assert stale.json()["code"] == "invalid_token"
    relogin = await client.post(
        "/api/v1/auth/token",
        data={"username": tenant.emails[Role.cashier], "password": "a brand new till passphrase"},
    )
    fresh = {"Authorization": f"Bearer {relogin.json()['access_token']}"}
    assert (await client.get("/api/v1/auth/me", headers=fresh)).status_code == 200
    # The owner's own token is untouched.
    assert (await client.get("/api/v1/auth/me", headers=tenant.headers(Role.owner))).is_success


async def test_a_deactivated_accounts_tokens_stay_dead_after_reactivation(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    me = await client.get("/api/v1/auth/me", headers=tenant.headers(Role.cashier))
    url = f"/api/v1/staff/{me.json()['id']}"
    owner = tenant.headers(Role.owner)

    assert (await client.patch(url, json={"is_active": False}, headers=owner)).is_success
    assert (await client.patch(url, json={"is_active": True}, headers=owner)).is_success

    stale = await client.get("/api/v1/auth/me", headers=tenant.headers(Role.cashier))
    assert stale.status_code == 401
    relogin = await client.post(
        "/api/v1/auth/token", data={"username": tenant.emails[Role.cashier], "password": PASSWORD}
    )
    assert relogin.status_code == 200


async def test_a_hash_made_with_older_parameters_is_upgraded_at_the_next_sign_in(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    email = tenant.emails[Role.cashier]
    four_lanes = PasswordHash((Argon2Hasher(parallelism=4),)).hash(PASSWORD)
    async with session_scope(session_factory) as session:
        await session.execute(
            update(StaffUser).where(StaffUser.email == email).values(password_hash=four_lanes)
        )

    form = {"username": email, "password": PASSWORD, "merchant": tenant.slug}
    assert (await client.post("/api/v1/auth/token", data=form)).status_code == 200

    async with session_scope(session_factory) as session:
        stored = await session.scalar(
            select(StaffUser.password_hash).where(StaffUser.email == email)
        )
    assert stored is not None and stored != four_lanes and ",p=1$" in stored
    assert (await client.post("/api/v1/auth/token", data=form)).status_code == 200
