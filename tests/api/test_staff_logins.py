"""Staff emails are unique per merchant: one person may work for two merchants, signs in to
each by naming it, and no owner learns which emails other merchants use."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import PASSWORD, Tenant, make_tenant
from wallet_service.security.permissions import Role

EMAIL = "sam@example.com"
OTHER_PASSWORD = "another long passphrase here"


async def _hire(
    client: httpx.AsyncClient, tenant: Tenant, email: str, password: str
) -> httpx.Response:
    return await client.post(
        "/api/v1/staff",
        json={"email": email, "password": password, "role": "cashier"},
        headers=tenant.headers(Role.owner),
    )


async def _sign_in(
    client: httpx.AsyncClient, email: str, password: str, merchant: str | None
) -> httpx.Response:
    form = {"username": email, "password": password}
    if merchant is not None:
        form["merchant"] = merchant
    return await client.post("/api/v1/auth/token", data=form)


async def test_creating_staff_with_an_email_used_at_another_merchant_reveals_nothing(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    first = await make_tenant(session_factory, client, name="Bakery")
    second = await make_tenant(session_factory, client, name="Florist")
    used_elsewhere = first.emails[Role.owner]
    created = await _hire(client, second, used_elsewhere, OTHER_PASSWORD)
    assert created.status_code == 201, created.text
    assert set(created.json()) == {
        "id", "email", "full_name", "role", "store_id", "is_active", "created_at"
    }  # fmt: skip
    # Within one merchant, the email is still one account.
    again = await _hire(client, second, used_elsewhere.upper(), OTHER_PASSWORD)
    assert again.status_code == 409 and again.json()["code"] == "staff_email_taken"


async def test_the_same_email_at_two_merchants_signs_in_to_each_by_naming_it(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    first = await make_tenant(session_factory, client, name="Bakery")
    second = await make_tenant(session_factory, client, name="Florist")
    assert (await _hire(client, first, EMAIL, PASSWORD)).status_code == 201
    assert (await _hire(client, second, EMAIL, OTHER_PASSWORD)).status_code == 201

    for tenant, password in ((first, PASSWORD), (second, OTHER_PASSWORD)):
        signed_in = await _sign_in(client, EMAIL, password, tenant.slug)
        assert signed_in.status_code == 200, signed_in.text
        token = signed_in.json()["access_token"]
        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["merchant_id"] == str(tenant.merchant_id)

    # One merchant's password does not open the other merchant's account.
    crossed = await _sign_in(client, EMAIL, OTHER_PASSWORD, first.slug)
    assert crossed.status_code == 401 and crossed.json()["code"] == "invalid_credentials"
    # Without the merchant, an email known at two merchants names neither: the same answer
    # as a wrong password, so it says nothing about other merchants either.
    unnamed = await _sign_in(client, EMAIL, PASSWORD, None)
    assert unnamed.status_code == 401 and unnamed.json()["code"] == "invalid_credentials"
    unknown = await _sign_in(client, EMAIL, PASSWORD, "no-such-merchant")
    assert unknown.status_code == 401 and unknown.json()["code"] == "invalid_credentials"


async def test_an_email_known_at_one_merchant_still_signs_in_without_naming_it(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    signed_in = await _sign_in(client, tenant.emails[Role.cashier], PASSWORD, None)
    assert signed_in.status_code == 200, signed_in.text
