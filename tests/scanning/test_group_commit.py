"""Scans that arrive together share one transaction, and still each get exactly their own
answer: a refused or failing scan never costs another one its credit, nor doubles it."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import SUITE_NOW
from tests.factories import Tenant, make_tenant
from tests.scanning.test_bonuses_and_expiry import RULES as REFERRAL_RULES
from tests.scanning.test_bonuses_and_expiry import _balance, _enrol
from tests.scanning.test_till import SIMPLE_RULES, _ledger_counts, _member, _scan
from tests.statements import statements_sent
from wallet_service.db.models import ApiKey, LedgerTransaction
from wallet_service.db.session import session_scope
from wallet_service.errors import NotFound
from wallet_service.idempotency.records import IdempotentCall, StoredResponse
from wallet_service.loyalty import DomainError
from wallet_service.scanning.batcher import ScanBatcher
from wallet_service.scanning.schemas import Amount, ScanCreate
from wallet_service.scanning.service import ScanRequest
from wallet_service.security.permissions import Permission
from wallet_service.security.principal import MerchantScope, Principal, PrincipalKind

# Earns more points than a 64-bit column holds: the database, not the rules, refuses it.
OVERFLOWING_RULES: dict[str, Any] = {
    **SIMPLE_RULES,
    "earn": {"points_per_currency_unit": "1000000000000"},
    "rewards": [],
}


def _inserts_purchases(statement: str) -> bool:
    return statement.upper().startswith("INSERT INTO LEDGER_TRANSACTION")


async def _principal(factory: async_sessionmaker[AsyncSession], tenant: Tenant) -> Principal:
    async with session_scope(factory) as session:
        key = (
            await session.execute(select(ApiKey).filter_by(merchant_id=tenant.merchant_id))
        ).scalar_one()
        return Principal(
            kind=PrincipalKind.api_key,
            id=key.id,
            scope=MerchantScope.of_credential(tenant.merchant_id),
            permissions=frozenset({Permission.scans_write}),
        )


def _request(
    principal: Principal, serial: str, amount: str = "5", currency: str = "EUR"
) -> ScanRequest:
    data = ScanCreate(barcode="scanned", amount=Amount(value=Decimal(amount), currency=currency))
    call = IdempotentCall.for_caller(
        principal.id, str(uuid.uuid4()), "/api/v1/scans", data.model_dump(mode="json")
    )
    return ScanRequest(principal, data, serial, None, call, SUITE_NOW)


async def _all_at_once(batcher: ScanBatcher, scans: list[ScanRequest]) -> list[Any]:
    """Submit every scan before the writer runs: they form one batch."""
    return await asyncio.gather(*(batcher.record(scan) for scan in scans), return_exceptions=True)


async def test_concurrent_scans_are_written_together_and_each_is_credited_once(
    app: FastAPI, client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    members = [await _member(client, tenant) for _ in range(3)]
    barcodes = [tenant.barcode(m["serial_number"]) for m in members for _ in range(8)]
    with statements_sent(app, _inserts_purchases) as inserts:
        responses = await asyncio.gather(*(_scan(client, tenant, b, "5") for b in barcodes))
    assert [r.status_code for r in responses] == [201] * len(barcodes)
    assert len({r.json()["transaction_id"] for r in responses}) == len(barcodes)
    rows = [insert.rows for insert in inserts]
    assert sum(rows) == len(barcodes) and len(rows) < len(barcodes)  # shared statements
    for member in members:
        assert await _ledger_counts(session_factory, member["id"]) == (8, 400, 400)
    # Each answer shows the balance right after its own purchase, once each.
    balances = sorted(r.json()["member"]["points_balance"] for r in responses[:8])
    assert balances == [50 * n for n in range(1, 9)]


async def test_a_refused_scan_gets_its_own_error_and_the_rest_of_its_batch_is_credited(
    app: FastAPI, client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    principal = await _principal(session_factory, tenant)
    regular = await _member(client, tenant)
    scans = [
        _request(principal, regular["serial_number"]),
        _request(principal, regular["serial_number"], currency="USD"),
        _request(principal, str(uuid.uuid4())),
        _request(principal, regular["serial_number"]),
    ]
    with statements_sent(app, _inserts_purchases) as inserts:
        results = await _all_at_once(ScanBatcher(session_factory), scans)
    assert [insert.rows for insert in inserts] == [2]  # one batch, one statement
    assert isinstance(results[0], StoredResponse) and isinstance(results[3], StoredResponse)
    assert isinstance(results[1], DomainError) and results[1].code == "currency_mismatch"
    assert isinstance(results[2], NotFound) and results[2].code == "member_not_found"
    assert await _ledger_counts(session_factory, regular["id"]) == (2, 100, 100)


async def test_a_batch_the_database_refuses_is_posted_again_scan_by_scan(
    app: FastAPI, client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    shop = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    reckless = await make_tenant(session_factory, client, "Reckless", rules=OVERFLOWING_RULES)
    shop_key, reckless_key = (
        await _principal(session_factory, shop),
        await _principal(session_factory, reckless),
    )
    regular, spender = await _member(client, shop), await _member(client, reckless)
    scans = [
        _request(shop_key, regular["serial_number"]),
        _request(reckless_key, spender["serial_number"], amount="100000000"),
        _request(shop_key, regular["serial_number"]),
    ]
    with statements_sent(app, _inserts_purchases) as inserts:
        results = await _all_at_once(ScanBatcher(session_factory), scans)
    assert inserts[0].rows == 3  # tried together first
    assert isinstance(results[0], StoredResponse) and isinstance(results[2], StoredResponse)
    assert isinstance(results[1], DBAPIError | OverflowError)
    assert await _ledger_counts(session_factory, regular["id"]) == (2, 100, 100)
    assert await _ledger_counts(session_factory, spender["id"]) == (0, 0, 0)
    # Over HTTP the same scan is a clear 422, never a 500.
    response = await _scan(client, reckless, reckless.barcode(spender["serial_number"]), "1e8")
    assert response.status_code == 422, response.text


async def test_a_retry_racing_its_original_in_one_batch_is_credited_once(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    principal = await _principal(session_factory, tenant)
    member = await _member(client, tenant)
    scan = _request(principal, member["serial_number"])
    first, retry = await _all_at_once(ScanBatcher(session_factory), [scan, scan])
    assert first == retry and first.body["transaction_id"] == retry.body["transaction_id"]
    assert await _ledger_counts(session_factory, member["id"]) == (1, 50, 50)


@pytest.mark.parametrize("others", [0, 3])
async def test_a_referees_first_purchase_pays_the_referral_once_even_in_a_batch(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession], others: int
) -> None:
    tenant = await make_tenant(session_factory, client, rules=REFERRAL_RULES)
    principal = await _principal(session_factory, tenant)
    referrer = await _enrol(client, tenant, given_name="Ana")
    referee = await _enrol(client, tenant, given_name="Ben", referred_by=referrer["id"])
    scans = [_request(principal, referee["serial_number"], amount="10")]
    scans += [_request(principal, referrer["serial_number"], amount="1") for _ in range(others)]
    results = await _all_at_once(ScanBatcher(session_factory), scans)
    assert all(isinstance(result, StoredResponse) for result in results)
    assert await _balance(session_factory, referee["id"]) == 100 + 150
    assert await _balance(session_factory, referrer["id"]) == 300 + 10 * others
    async with session_scope(session_factory) as session:
        kinds = (
            await session.execute(
                select(LedgerTransaction.kind).where(
                    LedgerTransaction.member_id == uuid.UUID(referee["id"])
                )
            )
        ).scalars()
        assert sorted(kinds) == ["bonus", "purchase"]
