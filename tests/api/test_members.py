"""Enrolling members and recording their consents."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import make_tenant
from wallet_service.security.permissions import Role


async def test_pos_enrols_a_member_with_a_random_serial_and_consents(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    response = await client.post(
        f"/api/v1/programs/{tenant.program_id}/members",
        json={
            "given_name": "Camille",
            "family_name": "Martin",
            "email": "Camille@Example.com",
            "birthday": "1990-04-12",
            "home_store_id": str(tenant.store_ids[1]),
            "consents": [{"purpose": "marketing_email", "granted": True}],
        },
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text
    member = response.json()
    assert uuid.UUID(member["serial_number"]).version == 4
    assert member["email"] == "camille@example.com"
    assert member["points_balance"] == 0 and member["status"] == "active"
    assert member["consents"][0]["purpose"] == "marketing_email"
    assert member["consents"][0]["source"] == "api_key"

    withdrawn = await client.post(
        f"/api/v1/members/{member['id']}/consents",
        json=[{"purpose": "marketing_email", "granted": False}],
        headers=tenant.headers(Role.manager),
    )
    assert withdrawn.json()["consents"] == [
        {**withdrawn.json()["consents"][0], "purpose": "marketing_email", "granted": False}
    ]
    fetched = await client.get(f"/api/v1/members/{member['id']}", headers=tenant.headers())
    assert fetched.json()["consents"][0]["granted"] is False


async def test_the_same_email_cannot_join_a_program_twice(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    url = f"/api/v1/programs/{tenant.program_id}/members"
    first = await client.post(url, json={"email": "a@example.com"}, headers=tenant.headers())
    second = await client.post(url, json={"email": "A@example.com"}, headers=tenant.headers())
    assert first.status_code == 201
    assert second.status_code == 409 and second.json()["code"] == "member_exists"


async def test_members_are_listed_per_program(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    other_program = await client.post(
        "/api/v1/programs",
        json={"name": "Other", "currency": "EUR"},
        headers=tenant.headers(Role.owner),
    )
    for program_id in (tenant.program_id, tenant.program_id, other_program.json()["id"]):
        await client.post(
            f"/api/v1/programs/{program_id}/members", json={}, headers=tenant.headers()
        )
    everyone = await client.get("/api/v1/members", headers=tenant.headers())
    first = await client.get(
        "/api/v1/members", params={"program_id": str(tenant.program_id)}, headers=tenant.headers()
    )
    page = await client.get("/api/v1/members", params={"limit": 1}, headers=tenant.headers())
    assert everyone.json()["count"] == 3
    assert first.json()["count"] == 2
    assert page.json()["count"] == 3 and len(page.json()["data"]) == 1


async def test_enrolling_into_an_unknown_program_is_404(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    response = await client.post(
        f"/api/v1/programs/{uuid.uuid4()}/members", json={}, headers=tenant.headers()
    )
    assert response.status_code == 404 and response.json()["code"] == "program_not_found"


async def test_concurrent_enrolments_of_one_email_give_one_member_and_clean_409s(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)

    async def enrol() -> httpx.Response:
        return await client.post(
            f"/api/v1/programs/{tenant.program_id}/members",
            json={"email": "double.click@example.com"},
            headers=tenant.headers(),
        )

    responses = await asyncio.gather(*(enrol() for _ in range(6)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1 and set(statuses) <= {201, 409}, statuses
    for response in responses:
        if response.status_code == 409:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] in {"member_exists", "conflict"}
    members = await client.get("/api/v1/members", headers=tenant.headers())
    assert members.json()["count"] == 1


async def test_absurd_pagination_is_a_validation_problem(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    response = await client.get(
        "/api/v1/members", params={"offset": 10**30}, headers=tenant.headers()
    )
    assert response.status_code == 422 and response.json()["code"] == "validation_error"


async def test_a_double_submitted_enrolment_with_one_key_enrols_and_welcomes_once(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    url = f"/api/v1/programs/{tenant.program_id}/members"
    headers = {**tenant.headers(), "Idempotency-Key": "signup-form-7f3a"}
    first = await client.post(url, json={"given_name": "Noa"}, headers=headers)
    again = await client.post(url, json={"given_name": "Noa"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = await client.post(url, json={"given_name": "Zoé"}, headers=headers)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    members = await client.get("/api/v1/members", headers=tenant.headers())
    assert members.json()["count"] == 1
