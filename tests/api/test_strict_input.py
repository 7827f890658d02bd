"""Request bodies are read strictly: what a client did not mean is refused, not guessed."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.api.test_problems import assert_problem
from tests.factories import Tenant, make_tenant
from wallet_service.security.permissions import Role

EASTERN_ARABIC_FIVE = "\u0665"  # ARABIC-INDIC DIGIT FIVE: Decimal() reads it as 5


async def _member(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/programs/{tenant.program_id}/members",
        json={"given_name": "Camille"},
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text
    member: dict[str, Any] = response.json()
    return member


async def _scan(
    client: httpx.AsyncClient, tenant: Tenant, member: dict[str, Any], **body: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/scans",
        json={"barcode": tenant.barcode(member["serial_number"]), **body},
        headers={**tenant.headers(), "Idempotency-Key": str(uuid.uuid4())},
    )


@pytest.mark.parametrize(
    "body",
    [
        {"name": "S", "latitude": 48.8, "longitude": False},
        {"name": "S", "latitude": True, "longitude": 2.3},
        {"name": "S", "latitude": "48.8", "longitude": 2.3},
    ],
)
async def test_a_store_position_must_be_numbers_not_booleans_or_strings(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession], body: object
) -> None:
    tenant = await make_tenant(session_factory, client)
    headers = tenant.headers(Role.owner)
    created = await client.post("/api/v1/stores", json=body, headers=headers)
    assert_problem(created, 422, "validation_error")
    store = f"/api/v1/stores/{tenant.store_ids[0]}"
    patched = await client.patch(store, json={"longitude": False}, headers=headers)
    assert_problem(patched, 422, "validation_error")
    assert (await client.get(store, headers=headers)).json()["longitude"] == 2.35


@pytest.mark.parametrize(
    "amount",
    [
        EASTERN_ARABIC_FIVE,
        "\uff15",  # fullwidth five
        "1_0",
        " 5",
        True,
    ],
)
async def test_a_scan_amount_is_ascii_digits_or_a_json_number(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession], amount: object
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _member(client, tenant)
    scanned = await _scan(client, tenant, member, amount={"value": amount, "currency": "EUR"})
    assert_problem(scanned, 422, "validation_error")
    card = await client.get(f"/api/v1/members/{member['id']}", headers=tenant.headers())
    assert card.json()["points_balance"] == 0


@pytest.mark.parametrize("amount", ["12.50", "5", 5, 12.5])
async def test_a_scan_amount_may_be_a_decimal_string_or_a_json_number(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession], amount: object
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _member(client, tenant)
    scanned = await _scan(client, tenant, member, amount={"value": amount, "currency": "EUR"})
    assert scanned.status_code == 201, scanned.text


@pytest.mark.parametrize(
    "line",
    [
        {"sku": "A", "quantity": True, "unit_price": "1.00"},
        {"sku": "A", "quantity": "2", "unit_price": "1.00"},
        {"sku": "A", "quantity": 2.0, "unit_price": "1.00"},
        {"sku": "A", "quantity": 1, "unit_price": EASTERN_ARABIC_FIVE},
        {"sku": "A", "quantity": 1, "unit_price": False},
    ],
)
async def test_basket_lines_take_integer_quantities_and_ascii_prices(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession], line: object
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _member(client, tenant)
    scanned = await _scan(
        client, tenant, member, amount={"value": "5", "currency": "EUR"}, lines=[line]
    )
    assert_problem(scanned, 422, "validation_error")


async def test_a_redemption_basket_amount_is_ascii_digits(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _member(client, tenant)
    redeemed = await client.post(
        "/api/v1/redemptions",
        json={
            "barcode": tenant.barcode(member["serial_number"]),
            "reward_code": "coffee",
            "basket_amount": EASTERN_ARABIC_FIVE,
        },
        headers={**tenant.headers(), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert_problem(redeemed, 422, "validation_error")


@pytest.mark.parametrize("granted", [1, 0, "true", "yes"])
async def test_a_consent_is_granted_with_true_or_false_only(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession], granted: object
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _member(client, tenant)
    response = await client.post(
        f"/api/v1/members/{member['id']}/consents",
        json=[{"purpose": "marketing_email", "granted": granted}],
        headers=tenant.headers(),
    )
    assert_problem(response, 422, "validation_error")


async def test_flags_of_programs_and_staff_are_booleans_not_numbers(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    headers = tenant.headers(Role.owner)
    program = await client.patch(
        f"/api/v1/programs/{tenant.program_id}", json={"rotating_barcode": 1}, headers=headers
    )
    assert_problem(program, 422, "validation_error")
    staff = (await client.get("/api/v1/staff", headers=headers)).json()["data"][0]
    deactivated = await client.patch(
        f"/api/v1/staff/{staff['id']}", json={"is_active": 0}, headers=headers
    )
    assert_problem(deactivated, 422, "validation_error")


async def test_program_rules_refuse_non_ascii_digits(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    rules = {
        "version": 1,
        "currency": "EUR",
        "earn": {"points_per_currency_unit": EASTERN_ARABIC_FIVE},
    }
    response = await client.patch(
        f"/api/v1/programs/{tenant.program_id}",
        json={"rules": rules},
        headers=tenant.headers(Role.owner),
    )
    problem = assert_problem(response, 422, "invalid_program_rules")
    assert "points_per_currency_unit" in str(problem)


async def test_an_unknown_field_is_refused_with_a_422_that_names_it(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    response = await client.post(
        f"/api/v1/programs/{tenant.program_id}/members",
        json={"first_name": "Camille", "email": "camille@example.com"},
        headers=tenant.headers(),
    )
    problem = assert_problem(response, 422, "validation_error")
    assert "first_name" in str(problem["detail"])
    assert {"loc": ["body", "first_name"], "msg": "Extra inputs are not permitted"}.items() <= (
        problem["errors"][0].items()  # type: ignore[index]
    )
    listed = await client.get("/api/v1/members", headers=tenant.headers(Role.owner))
    assert listed.json()["count"] == 0  # nobody enrolled as "Member"


@pytest.mark.parametrize(
    ("path", "body", "unknown"),
    [
        ("/api/v1/stores", {"name": "S", "latitude": 1, "longitude": 2, "lat": 1}, "lat"),
        ("/api/v1/programs", {"name": "P", "currency": "EUR", "rotate": True}, "rotate"),
        (
            "/api/v1/staff",
            {"email": "a@b.example", "password": "plum tart in the rain", "roles": []},
            "roles",
        ),
        ("/api/v1/api-keys", {"name": "K", "scope": "members:read"}, "scope"),
    ],
)
async def test_every_resource_refuses_unknown_fields(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    path: str,
    body: dict[str, Any],
    unknown: str,
) -> None:
    tenant = await make_tenant(session_factory, client)
    response = await client.post(path, json=body, headers=tenant.headers(Role.owner))
    problem = assert_problem(response, 422, "validation_error")
    assert unknown in str(problem["detail"])


async def test_unknown_fields_in_nested_objects_are_named_with_their_path(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    member = await _member(client, tenant)
    scanned = await _scan(
        client, tenant, member, amount={"value": "5", "currency": "EUR", "cents": 500}
    )
    problem = assert_problem(scanned, 422, "validation_error")
    assert "amount.cents" in str(problem["detail"])
    patched = await client.patch(
        "/api/v1/merchant", json={"name": "N", "slug": "new"}, headers=tenant.headers(Role.owner)
    )
    assert "slug" in str(assert_problem(patched, 422, "validation_error")["detail"])


# Apple's bodies stay tolerant on purpose: a key added by a future iOS must not break them.
APPLE_BODIES = {"RegistrationBody", "DeviceLogs"}


async def test_every_request_body_in_the_openapi_refuses_unknown_fields(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    components = schema["components"]["schemas"]

    def referenced(node: object) -> set[str]:
        if isinstance(node, dict):
            ref = node.get("$ref")
            found = {ref.rsplit("/", 1)[1]} if isinstance(ref, str) else set()
            return found.union(*(referenced(value) for value in node.values()))
        if isinstance(node, list):
            return set().union(*(referenced(item) for item in node))
        return set()

    bodies: set[str] = set()
    pending = referenced(
        [op.get("requestBody", {}) for ops in schema["paths"].values() for op in ops.values()]
    )
    while pending:
        name = pending.pop()
        bodies.add(name)
        pending |= referenced(components[name]) - bodies
    objects = {name for name in bodies if components[name].get("type") == "object"}
    assert {"MemberCreate", "ScanCreate", "Amount", "BasketLineIn"} <= objects
    tolerant = {
        name for name in objects if components[name].get("additionalProperties") is not False
    }
    # The OAuth2 token form follows RFC 6749, whose clients may send parameters we do not use.
    assert tolerant - {"Body_create_access_token_api_v1_auth_token_post"} == APPLE_BODIES
