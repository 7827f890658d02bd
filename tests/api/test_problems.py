"""Bad input gets an RFC 9457 problem with a stable code, never a 500."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import make_tenant
from wallet_service.db.session import create_engine_for
from wallet_service.http.problems import install_problem_handlers
from wallet_service.security.permissions import Role


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["status"] == status and body["code"] == code
    assert {"type", "title", "detail"} <= body.keys()
    return body


async def test_malformed_json_is_a_400_problem(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    response = await client.post(
        "/api/v1/stores",
        content=b'{"name": "broken",',
        headers={**tenant.headers(Role.owner), "Content-Type": "application/json"},
    )
    assert_problem(response, 400, "malformed_json")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "S", "latitude": "north", "longitude": 2.3},
        {"name": "S", "latitude": 91, "longitude": 2.3},
        {"name": "S", "latitude": 48.8, "longitude": 2.3, "timezone": "Mars/Olympus"},
        {"latitude": 48.8, "longitude": 2.3},
        [1, 2, 3],
    ],
)
async def test_wrong_types_are_a_422_problem_listing_the_fields(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    body: object,
) -> None:
    tenant = await make_tenant(session_factory, client)
    response = await client.post("/api/v1/stores", json=body, headers=tenant.headers(Role.owner))
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"]


async def test_passwords_are_not_echoed_in_validation_errors(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    response = await client.post(
        "/api/v1/staff",
        json={"email": "not-an-email", "password": "s3cret-but-short", "role": "cashier"},
        headers=tenant.headers(Role.owner),
    )
    assert_problem(response, 422, "validation_error")
    assert "s3cret" not in response.text


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/v1/stores/{id}", "store_not_found"),
        ("/api/v1/programs/{id}", "program_not_found"),
        ("/api/v1/members/{id}", "member_not_found"),
        ("/api/v1/staff/{id}", "staff_not_found"),
        ("/api/v1/api-keys/{id}", "api_key_not_found"),
    ],
)
async def test_unknown_ids_are_a_404_problem(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    path: str,
    code: str,
) -> None:
    tenant = await make_tenant(session_factory, client)
    response = await client.get(path.format(id=uuid.uuid4()), headers=tenant.headers(Role.owner))
    assert_problem(response, 404, code)


async def test_malformed_ids_are_a_422_problem(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    response = await client.get("/api/v1/stores/not-a-uuid", headers=tenant.headers(Role.owner))
    assert_problem(response, 422, "validation_error")


async def test_unknown_route_and_wrong_method_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_problem(await client.put("/healthz"), 405, "method_not_allowed")


async def test_duplicate_staff_email_is_a_409_problem(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    response = await client.post(
        "/api/v1/staff",
        json={
            "email": tenant.emails[Role.cashier],
            "password": "plum tart in the rain",
            "role": "cashier",
        },
        headers=tenant.headers(Role.owner),
    )
    assert_problem(response, 409, "staff_email_taken")


async def test_staff_bound_to_another_merchants_store_is_refused(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, "A")
    other = await make_tenant(session_factory, client, "B")
    response = await client.post(
        "/api/v1/staff",
        json={
            "email": "c@a.example",
            "password": "plum tart in the rain",
            "role": "cashier",
            "store_id": str(other.store_ids[0]),
        },
        headers=tenant.headers(Role.owner),
    )
    assert_problem(response, 404, "store_not_found")


async def test_an_exhausted_database_pool_is_a_retryable_503_not_a_500(tmp_path: Path) -> None:
    # One SQLite connection, as the app has, held by a long transaction elsewhere.
    engine = create_engine_for(f"sqlite:///{tmp_path / 'busy.db'}", pool_timeout=0.1)
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/read")
    async def read() -> int:
        async with engine.connect() as connection:
            return int((await connection.execute(text("SELECT 1"))).scalar_one())

    @app.get("/broken")
    async def broken() -> int:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT * FROM no_such_table"))
        return 0

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.get("/read")).json() == 1
        async with engine.connect() as held:
            await held.execute(text("SELECT 1"))
            busy = await http.get("/read")
        assert_problem(busy, 503, "database_busy")
        assert busy.headers["retry-after"] == "1"
        # Other operational errors are faults, not load: a plain 500 problem.
        assert_problem(await http.get("/broken"), 500, "internal_error")
    await engine.dispose()


async def test_a_database_that_cannot_be_reached_is_a_retryable_503_not_a_500() -> None:
    # Nothing listens on port 1 of the loopback: the connection is refused at once.
    engine = create_engine_for("postgresql://postgres@127.0.0.1:1/wallet", pool_timeout=1)
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/read")
    async def read() -> int:
        async with engine.connect() as connection:
            return int((await connection.execute(text("SELECT 1"))).scalar_one())

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        down = await http.get("/read")
    assert_problem(down, 503, "database_unavailable")
    assert down.headers["retry-after"] == "5"
    await engine.dispose()
