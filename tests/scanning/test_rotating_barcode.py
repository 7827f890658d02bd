"""Rotating barcodes: the till accepts what Google's app shows now or a step ago, never older.

The phone's side is computed here from what the pass object carries (the Base16 secret and
the ``valuePattern``), with an RFC 6238 TOTP-SHA1 written independently of the service's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import struct
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Tenant, make_tenant
from tests.scanning.test_till import SIMPLE_RULES, _ledger_counts, _member, _scan
from wallet_service.clock import ManualClock
from wallet_service.db.session import session_scope
from wallet_service.http.deps import _principal_from_api_key
from wallet_service.idempotency.records import IdempotentCall, StoredResponse
from wallet_service.scanning.rotating import (
    DIGITS,
    PERIOD_MILLIS,
    is_rotating,
    totp_secret,
    value_pattern,
)
from wallet_service.scanning.schemas import ScanCreate
from wallet_service.scanning.service import admit_scan
from wallet_service.scanning.token import InvalidBarcode
from wallet_service.security.keys import KeyRing
from wallet_service.security.permissions import Role

SERIAL = "3f0c2c6e-8a51-4d7e-9a59-2f1f4b8f6b1e"
OTHER_SERIAL = "9b2e7c4a-1d3f-4e5a-8b6c-7d8e9f0a1b2c"
KEY = b"server-barcode-key-0123456789abcdef"
PERIOD = PERIOD_MILLIS // 1000
# Never start a phone-computed scan this close to a rollover: a code of the previous step
# must not become two steps old between the phone and the till.


def _phone_code(secret_hex: str, at: float) -> str:
    """RFC 6238 TOTP-SHA1, 30 s, 6 digits: what Google's app computes for ``{totp_value_0}``."""
    digest = hmac.new(
        bytes.fromhex(secret_hex), struct.pack(">Q", int(at // 30)), hashlib.sha1
    ).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 1_000_000).zfill(6)


def _pass_shows(tenant: Tenant, serial: str, at: float) -> str:
    """The barcode text the phone renders at ``at`` from what the pass object carries."""
    secret_hex = totp_secret(tenant.barcode_key, serial).hex()
    return value_pattern(serial).replace("{totp_value_0}", _phone_code(secret_hex, at))


def _now_mid_step(clock: ManualClock) -> float:
    """Move the clock to the middle of its 30 s step, clear of a rollover; that instant."""
    now = clock.now().timestamp()
    middle = now - now % PERIOD + PERIOD / 2
    clock.set(datetime.fromtimestamp(middle, UTC))
    return middle


def test_the_secret_is_stable_per_pass_and_differs_between_passes() -> None:
    secret = totp_secret(KEY, SERIAL)

    assert len(secret) == 20
    assert totp_secret(KEY, SERIAL.upper()) == secret
    assert totp_secret(KEY, OTHER_SERIAL) != secret
    assert totp_secret(b"another-server-key-0123456789abcdef", SERIAL) != secret


def test_the_pattern_is_a_versioned_serial_and_googles_code_placeholder() -> None:
    pattern = value_pattern(SERIAL)

    assert re.fullmatch(r"LWR1\.[A-Z2-7]{26}\.\{totp_value_0\}", pattern)
    assert pattern.split(".")[1] == value_pattern(SERIAL.upper()).split(".")[1]
    assert (DIGITS, PERIOD_MILLIS) == (6, 30_000)
    assert is_rotating("  " + pattern.replace("{totp_value_0}", "123456").lower())
    assert not is_rotating("LW1.AAAA.BBBB")
    with pytest.raises(ValueError, match="UUID"):
        value_pattern("not-a-serial")


async def test_the_code_shown_now_credits_the_member(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    shown = _pass_shows(tenant, member["serial_number"], _now_mid_step(clock))

    response = await _scan(client, tenant, shown, "5")

    assert response.status_code == 201, response.text
    assert response.json()["member"]["id"] == member["id"]
    assert response.json()["points_earned"] == 50
    assert await _ledger_counts(session_factory, member["id"]) == (1, 50, 50)


async def test_a_code_shown_just_before_the_rollover_still_scans(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    now = _now_mid_step(clock)
    shown = _pass_shows(tenant, member["serial_number"], now - PERIOD)

    response = await _scan(client, tenant, shown, "5")

    assert response.status_code == 201, response.text
    assert await _ledger_counts(session_factory, member["id"]) == (1, 50, 50)


async def test_a_phone_whose_clock_runs_fast_still_scans_one_step_ahead_not_two(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    now = _now_mid_step(clock)
    early = _pass_shows(tenant, member["serial_number"], now + PERIOD)
    too_early = _pass_shows(tenant, member["serial_number"], now + 2 * PERIOD)

    assert (await _scan(client, tenant, early, "5")).status_code == 201
    refused = await _scan(client, tenant, too_early, "5")

    assert refused.status_code == 422, refused.text
    assert refused.json()["reason"] == "expired_or_wrong_code"
    assert await _ledger_counts(session_factory, member["id"]) == (1, 50, 50)


async def test_a_code_two_steps_old_is_refused_like_a_forgery(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    screenshot = _pass_shows(tenant, member["serial_number"], clock.now().timestamp() - 2 * PERIOD)

    response = await _scan(client, tenant, screenshot, "5")

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_barcode"
    assert response.json()["reason"] == "expired_or_wrong_code"
    assert await _ledger_counts(session_factory, member["id"]) == (0, 0, 0)


async def test_a_wrong_code_is_refused(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    now = clock.now().timestamp()
    valid = {
        _pass_shows(tenant, member["serial_number"], now + shift).rsplit(".", 1)[1]
        for shift in (-PERIOD, 0, PERIOD)
    }
    wrong = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)
    prefix = value_pattern(member["serial_number"]).replace("{totp_value_0}", "")

    for barcode in (prefix + wrong, prefix + "12345", prefix + "abcdef", prefix):
        response = await _scan(client, tenant, barcode, "5")
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_barcode"
    assert await _ledger_counts(session_factory, member["id"]) == (0, 0, 0)


async def test_lookup_accepts_the_code_shown_now(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant, family_name="Martin")
    shown = _pass_shows(tenant, member["serial_number"], _now_mid_step(clock))

    response = await client.get(
        "/api/v1/scans/lookup",
        params={"barcode": f"  {shown.lower()}\n"},
        headers=tenant.headers(Role.cashier),
    )

    assert response.status_code == 200, response.text
    assert response.json()["member"]["name"] == "Camille Martin"
    assert await _ledger_counts(session_factory, member["id"]) == (0, 0, 0)


async def test_a_till_retrying_after_its_code_expired_gets_the_first_answer(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    shown = _pass_shows(tenant, member["serial_number"], _now_mid_step(clock))
    key = str(uuid.uuid4())
    first = await _scan(client, tenant, shown, "5", key=key)
    assert first.status_code == 201, first.text
    data = ScanCreate.model_validate(
        {"barcode": shown, "amount": {"value": "5", "currency": "EUR"}}
    )
    a_minute_and_a_half_later = clock.now() + timedelta(seconds=90)

    async with session_scope(session_factory) as session:
        till = await _principal_from_api_key(session, tenant.pos_api_key, clock.now())

        async def admit(idempotency_key: str) -> object:
            call = IdempotentCall.for_caller(
                till.id, idempotency_key, "/api/v1/scans", data.model_dump(mode="json")
            )
            keys = KeyRing(tenant.barcode_key)
            return await admit_scan(session, till, data, call, keys, a_minute_and_a_half_later)

        retried = await admit(key)
        with pytest.raises(InvalidBarcode):
            await admit(str(uuid.uuid4()))  # a new scan with that old code

    assert isinstance(retried, StoredResponse)
    assert retried.body == first.json()
    assert await _ledger_counts(session_factory, member["id"]) == (1, 50, 50)
