"""Staff sign-in, access tokens and POS keys."""

from __future__ import annotations

import asyncio
import hashlib
import json
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import PASSWORD, AppWith, client_at, make_tenant
from tests.statements import statements_sent
from wallet_service.clock import ManualClock
from wallet_service.config import Settings
from wallet_service.security.api_keys import RecentKeys, hash_secret
from wallet_service.security.keys import derive_key
from wallet_service.security.permissions import Role
from wallet_service.security.principal import MerchantScope, Principal, PrincipalKind
from wallet_service.security.tokens import (
    KEY_ID,
    InvalidToken,
    TokenKeys,
    issue_access_token,
    read_access_token,
)

MINUTE = timedelta(minutes=1)


async def test_staff_signs_in_with_email_and_password(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    response = await client.post(
        "/api/v1/auth/token",
        data={"username": tenant.emails[Role.owner].upper(), "password": PASSWORD},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert 0 < body["expires_in"] <= 3600
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "HS256" and header["kid"]

    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["merchant_id"] == str(tenant.merchant_id)
    assert me.json()["role"] == "owner"


async def test_wrong_password_and_unknown_email_get_the_same_401(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    wrong = await client.post(
        "/api/v1/auth/token", data={"username": tenant.emails[Role.owner], "password": "nope" * 4}
    )
    unknown = await client.post(
        "/api/v1/auth/token", data={"username": "ghost@example.com", "password": PASSWORD}
    )
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "invalid_credentials"
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_deactivated_staff_can_neither_sign_in_nor_use_old_tokens(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    staff = await client.get("/api/v1/staff", headers=tenant.headers(Role.owner))
    marketer = next(s for s in staff.json()["data"] if s["role"] == "marketer")
    await client.patch(
        f"/api/v1/staff/{marketer['id']}",
        json={"is_active": False},
        headers=tenant.headers(Role.owner),
    )
    old_token = await client.get("/api/v1/programs", headers=tenant.headers(Role.marketer))
    assert old_token.status_code == 401
    login = await client.post(
        "/api/v1/auth/token", data={"username": tenant.emails[Role.marketer], "password": PASSWORD}
    )
    assert login.status_code == 401


async def test_a_token_is_rejected_once_its_lifetime_has_passed(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: ManualClock,
) -> None:
    tenant = await make_tenant(session_factory, client)
    me = await client.get("/api/v1/auth/me", headers=tenant.headers(Role.owner))
    keys = TokenKeys(settings.signing_key())
    token, _ = issue_access_token(
        keys,
        staff_id=uuid.UUID(me.json()["id"]),
        merchant_id=tenant.merchant_id,
        token_version=0,
        lifetime=timedelta(minutes=15),
        now=clock.now(),
    )
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/auth/me", headers=bearer)).status_code == 200
    clock.advance(timedelta(minutes=15))
    response = await client.get("/api/v1/auth/me", headers=bearer)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_tampered_token_is_rejected(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    token = tenant.tokens[Role.cashier]
    header, payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["sub"] = str(uuid.uuid4())
    forged_payload = jwt.utils.base64url_encode(json.dumps(claims, default=str).encode()).decode()
    for forged in (
        f"{header}.{forged_payload}.{signature}",
        f"{header}.{payload}.{signature[:-4]}AAAA",
        jwt.encode(claims, "guessed-key" * 4, algorithm="HS256", headers={"kid": "x"}),
        jwt.encode(claims, key="", algorithm="none"),
    ):
        response = await client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}
        )
        assert response.status_code == 401, forged
        assert response.json()["code"] == "invalid_token"


async def test_tokens_signed_with_a_retired_key_still_work_after_rotation(
    settings: Settings,
) -> None:
    now = datetime(2028, 2, 29, 23, 58, tzinfo=UTC)
    old = TokenKeys(b"old-key-" * 4)
    token, _ = issue_access_token(
        old,
        staff_id=uuid.uuid4(),
        merchant_id=uuid.uuid4(),
        token_version=0,
        lifetime=timedelta(minutes=5),
        now=now,
    )
    rotated = TokenKeys(b"new-key-" * 4, [b"old-key-" * 4])

    claims = read_access_token(rotated, token, now + timedelta(minutes=4))
    assert claims.expires_at == now + timedelta(minutes=5)
    fresh, _ = issue_access_token(
        rotated,
        staff_id=uuid.uuid4(),
        merchant_id=uuid.uuid4(),
        token_version=0,
        lifetime=MINUTE,
        now=now,
    )
    assert read_access_token(rotated, fresh, now).expires_at == now + MINUTE
    # The retired key dropped from the list: its tokens are refused, the new ones still pass.
    dropped = TokenKeys(b"new-key-" * 4)
    with pytest.raises(InvalidToken):
        read_access_token(dropped, token, now)
    assert read_access_token(dropped, fresh, now).expires_at == now + MINUTE
    with pytest.raises(InvalidToken):
        read_access_token(old, fresh, now)


async def test_the_token_key_id_gives_no_way_to_test_guesses_of_the_secret_key() -> None:
    """Anyone can read a token's header: a ``kid`` computed from the secret key, keyed or not,
    lets them check guesses of the key offline. It is one opaque label for every key."""
    now = datetime(2026, 11, 10, tzinfo=UTC)
    kids = set()
    for secret in (b"first-secret-" * 3, b"second-secret-" * 3):
        token, _ = issue_access_token(
            TokenKeys(secret, [b"retired-" * 4]),
            staff_id=uuid.uuid4(),
            merchant_id=uuid.uuid4(),
            token_version=0,
            lifetime=MINUTE,
            now=now,
        )
        kid = jwt.get_unverified_header(token)["kid"]
        derived = derive_key(secret, "access-token")
        assert kid not in {hashlib.sha256(key).hexdigest()[:16] for key in (secret, derived)}
        kids.add(kid)
    assert kids == {KEY_ID}


async def test_missing_credentials_get_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/stores")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "authentication_required"


async def test_pos_api_key_authenticates_and_revocation_is_immediate(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    assert (await client.get("/api/v1/stores", headers=tenant.headers())).status_code == 200
    keys = await client.get("/api/v1/api-keys", headers=tenant.headers(Role.owner))
    key_id = keys.json()["data"][0]["id"]
    assert "key" not in keys.json()["data"][0] and "secret_hash" not in keys.json()["data"][0]
    revoked = await client.delete(f"/api/v1/api-keys/{key_id}", headers=tenant.headers(Role.owner))
    assert revoked.status_code == 204
    response = await client.get("/api/v1/stores", headers=tenant.headers())
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


async def test_a_wrong_secret_with_a_real_key_prefix_is_rejected(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    prefix = tenant.pos_api_key.split("_")[1]
    response = await client.get(
        "/api/v1/stores", headers={"Authorization": f"Bearer wsk_{prefix}_{'x' * 43}"}
    )
    assert response.status_code == 401


async def test_new_api_key_is_shown_once_and_works(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "Till 2", "scopes": ["scans:write", "members:read"]},
        headers=tenant.headers(Role.owner),
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("wsk_")
    fetched = await client.get(
        f"/api/v1/api-keys/{created.json()['id']}", headers=tenant.headers(Role.owner)
    )
    assert "key" not in fetched.json()
    # members:read was asked for, so it lists members; stores:read was not.
    assert (
        await client.get("/api/v1/members", headers={"Authorization": f"Bearer {key}"})
    ).status_code == 200
    assert (
        await client.get("/api/v1/stores", headers={"Authorization": f"Bearer {key}"})
    ).status_code == 403


async def test_api_keys_cannot_be_granted_administration(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    response = await client.post(
        "/api/v1/api-keys",
        json={"name": "evil", "scopes": ["staff:manage"]},
        headers=tenant.headers(Role.owner),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_a_tills_key_is_read_from_the_database_once_for_a_burst_of_requests(
    app: FastAPI, client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)

    with statements_sent(app, lambda statement: "FROM api_key" in statement) as key_reads:
        for _ in range(3):
            answer = await client.get("/api/v1/stores", headers=tenant.headers())
            assert answer.status_code == 200

    assert len(key_reads) == 1


async def test_a_wrong_secret_is_refused_right_after_the_real_key_was_used(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    assert (await client.get("/api/v1/stores", headers=tenant.headers())).status_code == 200
    prefix = tenant.pos_api_key.split("_")[1]

    forged = await client.get(
        "/api/v1/stores", headers={"Authorization": f"Bearer wsk_{prefix}_{'x' * 43}"}
    )

    assert forged.status_code == 401
    assert forged.json()["code"] == "invalid_credentials"


def test_a_remembered_key_is_checked_against_the_database_again_after_a_few_seconds() -> None:
    clock = ManualClock(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))
    recent = RecentKeys(clock, ttl_seconds=5)
    till = Principal(
        PrincipalKind.api_key, uuid.uuid4(), MerchantScope.of_credential(uuid.uuid4()), frozenset()
    )
    recent.remember("0123456789ab", hash_secret("the-secret"), till)

    assert recent.principal("0123456789ab", "the-secret") == till
    assert recent.principal("0123456789ab", "another-secret") is None
    clock.advance(timedelta(seconds=6))
    assert recent.principal("0123456789ab", "the-secret") is None


def test_a_revoked_key_is_never_remembered_again_by_the_process_that_revoked_it() -> None:
    recent = RecentKeys(ManualClock(datetime(2026, 6, 30, tzinfo=UTC)))
    till = Principal(
        PrincipalKind.api_key, uuid.uuid4(), MerchantScope.of_credential(uuid.uuid4()), frozenset()
    )
    recent.remember("0123456789ab", hash_secret("the-secret"), till)

    recent.forget("0123456789ab")
    # A request that read the row before the revocation committed comes back late.
    recent.remember("0123456789ab", hash_secret("the-secret"), till)

    assert recent.principal("0123456789ab", "the-secret") is None


async def test_a_flood_of_wrong_passwords_does_not_hold_up_the_till(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client)
    enrolled = await client.post(
        f"/api/v1/programs/{tenant.program_id}/members", json={}, headers=tenant.headers()
    )
    barcode = tenant.barcode(enrolled.json()["serial_number"])

    async def scan() -> httpx.Response:
        return await client.post(
            "/api/v1/scans",
            json={"barcode": barcode, "amount": {"value": "5", "currency": "EUR"}},
            headers={**tenant.headers(), "Idempotency-Key": str(uuid.uuid4())},
        )

    assert (await scan()).status_code == 201
    finished: list[int] = []

    async def wrong_login() -> None:
        response = await client.post(
            "/api/v1/auth/token",
            data={"username": tenant.emails[Role.owner], "password": "not the password at all"},
        )
        assert response.status_code == 401
        finished.append(response.status_code)

    flood = [asyncio.create_task(wrong_login()) for _ in range(16)]
    await asyncio.sleep(0)  # let every login start before the till scans
    answered = await scan()
    checked_before_the_scan = len(finished)
    await asyncio.gather(*flood)

    assert answered.status_code == 201
    # Argon2 runs in worker threads, without a database connection held: the till's scan
    # is answered while most wrong passwords are still queued for checking.
    assert checked_before_the_scan <= len(flood) // 2, checked_before_the_scan


FLOOD_LOGINS = 32
FLOOD_SCANS = 20


async def test_scans_keep_their_pace_under_32_concurrent_wrong_passwords(
    app_with: AppWith, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    # Limits off: the worst case, a flood spread over more addresses and accounts than any
    # limiter stops. Each flooder signs in from its own address, back to back.
    async with app_with(rate_limits_enabled=False) as app, client_at(app, "198.51.100.1") as till:
        tenant = await make_tenant(session_factory, till)
        enrolled = await till.post(
            f"/api/v1/programs/{tenant.program_id}/members", json={}, headers=tenant.headers()
        )
        barcode = tenant.barcode(enrolled.json()["serial_number"])

        async def scan_seconds() -> float:
            started = time.perf_counter()  # a latency, not business time
            response = await till.post(
                "/api/v1/scans",
                json={"barcode": barcode, "amount": {"value": "5", "currency": "EUR"}},
                headers={**tenant.headers(), "Idempotency-Key": str(uuid.uuid4())},
            )
            assert response.status_code == 201, response.text
            return time.perf_counter() - started

        await scan_seconds()  # warm
        quiet = statistics.median([await scan_seconds() for _ in range(FLOOD_SCANS)])

        stop, flooding = asyncio.Event(), asyncio.Event()
        answers: list[int] = []

        async def wrong_logins(number: int) -> None:
            async with client_at(app, f"203.0.113.{number}") as attacker:
                while not stop.is_set():
                    response = await attacker.post(
                        "/api/v1/auth/token",
                        data={"username": tenant.emails[Role.owner], "password": "a wrong guess"},
                    )
                    answers.append(response.status_code)
                    if len(answers) == 2:  # every flooder is queued or hashing by now
                        flooding.set()

        flood = [asyncio.create_task(wrong_logins(n)) for n in range(FLOOD_LOGINS)]
        try:
            await asyncio.wait_for(flooding.wait(), timeout=60)
            loud = statistics.median([await scan_seconds() for _ in range(FLOOD_SCANS)])
        finally:  # even when a scan fails: no flooder may outlive the test
            stop.set()
            await asyncio.gather(*flood)

    assert set(answers) == {401}  # no 503 database_busy, no 500
    # Loose, for a shared machine: the target (2x) is measured in docs/benchmarks.md. With
    # Argon2 on the event loop the scans waited for the queued hashes (seconds).
    assert loud < 5 * quiet + 0.05, (
        f"quiet p50 {quiet * 1000:.1f} ms, flood p50 {loud * 1000:.1f} ms"
    )
