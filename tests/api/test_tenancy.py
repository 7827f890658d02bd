"""Tenant isolation: merchant A can neither see nor change anything of merchant B.

The route lists are read from the application itself, so a new endpoint is covered (or
makes this test fail until it is taught the new path parameter) without anyone remembering.
"""

from __future__ import annotations

import json
import re
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Tenant, make_tenant
from wallet_service.db.session import bound_clock, session_scope
from wallet_service.push.outbox import Topic, enqueue
from wallet_service.security.permissions import Role

PATH_PARAM = re.compile(r"{(\w+)}")
PUBLIC = {"/api/v1/auth/token", "/api/v1/auth/me"}
BODIES = {
    ("PATCH", "/api/v1/stores/{store_id}"): {"name": "hijacked"},
    ("PATCH", "/api/v1/programs/{program_id}"): {"name": "hijacked"},
    ("PATCH", "/api/v1/staff/{staff_id}"): {"role": "owner"},
    ("POST", "/api/v1/programs/{program_id}/members"): {"given_name": "Eve"},
    ("POST", "/api/v1/members/{member_id}/consents"): [{"purpose": "marketing", "granted": True}],
    ("POST", "/api/v1/transactions/{transaction_id}/reversal"): {"reason": "hijack"},
    ("PATCH", "/api/v1/webhook-endpoints/{endpoint_id}"): {"url": "http://attacker.example/in"},
}


async def _a_dead_letter_of(factory: async_sessionmaker[AsyncSession], victim: Tenant) -> str:
    async with session_scope(factory) as session:
        now = bound_clock(factory).now()
        row = enqueue(
            session, merchant_id=victim.merchant_id, topic=Topic.CARD, subject="x", now=now
        )
        row.dead_at = now
        await session.flush()
        return str(row.id)


async def _victim_ids(
    client: httpx.AsyncClient, victim: Tenant, factory: async_sessionmaker[AsyncSession]
) -> dict[str, str]:
    owner = victim.headers(Role.owner)
    endpoint = await client.post(
        "/api/v1/webhook-endpoints", json={"url": "https://hooks.victim.example/in"}, headers=owner
    )
    assert endpoint.status_code == 201, endpoint.text
    member = await client.post(
        f"/api/v1/programs/{victim.program_id}/members",
        json={"given_name": "Bob", "email": "bob@example.com"},
        headers=owner,
    )
    staff = await client.get("/api/v1/staff", headers=owner)
    keys = await client.get("/api/v1/api-keys", headers=owner)
    transaction_id = await _a_transaction_of(client, victim, member.json()["serial_number"])
    deliveries = await client.get("/api/v1/webhook-deliveries", headers=owner)
    return {
        "endpoint_id": endpoint.json()["id"],
        "delivery_id": deliveries.json()["data"][0]["id"],
        "store_id": str(victim.store_ids[0]),
        "program_id": str(victim.program_id),
        "member_id": member.json()["id"],
        "staff_id": staff.json()["data"][0]["id"],
        "key_id": keys.json()["data"][0]["id"],
        "transaction_id": transaction_id,
        "message_id": await _a_dead_letter_of(factory, victim),
    }


async def _a_transaction_of(client: httpx.AsyncClient, victim: Tenant, serial: str) -> str:
    scan = await client.post(
        "/api/v1/scans",
        json={"barcode": victim.barcode(serial), "amount": {"value": "10", "currency": "EUR"}},
        headers={**victim.headers(), "Idempotency-Key": "victim-scan"},
    )
    assert scan.status_code == 201, scan.text
    transaction_id: str = scan.json()["transaction_id"]
    return transaction_id


def _api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every documented ``/api/v1`` operation, read from the OpenAPI schema."""
    routes = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/v1/")
        for method in operations
    ]
    # Guard against a vacuous pass should the schema ever come back empty.
    assert len(routes) >= 20, routes
    return routes


def _all_ids(value: object) -> set[str]:
    text = json.dumps(value)
    return set(re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text))


async def test_merchant_a_cannot_read_or_change_anything_of_merchant_b(
    app: FastAPI, client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    attacker = await make_tenant(session_factory, client, "Attacker")
    victim = await make_tenant(session_factory, client, "Victim")
    victim_ids = await _victim_ids(client, victim, session_factory)
    victim_values = set(victim_ids.values()) | {str(victim.merchant_id)}
    attacker_owner = attacker.headers(Role.owner)

    for method, path in _api_routes(app):
        if path in PUBLIC:
            continue
        params = PATH_PARAM.findall(path)
        unknown = set(params) - set(victim_ids)
        assert not unknown, f"teach this test the path parameter(s) {unknown} of {path}"
        url = path.format(**victim_ids)
        body = BODIES.get((method, path), {} if method in {"POST", "PATCH"} else None)
        for headers in (attacker_owner, attacker.headers()):
            headers = {**headers, "Idempotency-Key": f"attack {method} {path}"}
            response = await client.request(method, url, json=body, headers=headers)
            if params:
                # Another tenant's row is indistinguishable from a missing one (404, not 403).
                assert response.status_code in (403, 404), (method, url, response.text)
                if response.status_code == 404:
                    assert response.json()["code"].endswith("_not_found")
            elif method == "GET" and response.status_code == 200:
                leaked = _all_ids(response.json()) & victim_values
                assert not leaked, (url, leaked)

    # Nothing of the victim's changed.
    victim_owner = victim.headers(Role.owner)
    store = await client.get(f"/api/v1/stores/{victim_ids['store_id']}", headers=victim_owner)
    program = await client.get(f"/api/v1/programs/{victim_ids['program_id']}", headers=victim_owner)
    members = await client.get("/api/v1/members", headers=victim_owner)
    keys = await client.get("/api/v1/api-keys", headers=victim_owner)
    assert store.json()["name"] != "hijacked" and program.json()["name"] != "hijacked"
    assert members.json()["count"] == 1
    assert all(k["revoked_at"] is None for k in keys.json()["data"])
    staff = await client.get(f"/api/v1/staff/{victim_ids['staff_id']}", headers=victim_owner)
    assert staff.status_code == 200
    hook = await client.get(
        f"/api/v1/webhook-endpoints/{victim_ids['endpoint_id']}", headers=victim_owner
    )
    assert hook.json()["url"] == "https://hooks.victim.example/in"


async def test_attackers_lists_contain_only_their_own_rows(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    attacker = await make_tenant(session_factory, client, "Attacker")
    victim = await make_tenant(session_factory, client, "Victim")
    await _victim_ids(client, victim, session_factory)
    for path in (
        "/api/v1/stores",
        "/api/v1/programs",
        "/api/v1/members",
        "/api/v1/staff",
        "/api/v1/webhook-endpoints",
        "/api/v1/webhook-deliveries",
        "/api/v1/outbox/dead",
    ):
        response = await client.get(path, headers=attacker.headers(Role.owner))
        assert response.status_code == 200
        for row in response.json()["data"]:
            assert uuid.UUID(row["id"])
        assert str(victim.merchant_id) not in response.text
        victim_rows = await client.get(path, headers=victim.headers(Role.owner))
        assert not _all_ids(victim_rows.json()["data"]) & _all_ids(response.json()["data"])
