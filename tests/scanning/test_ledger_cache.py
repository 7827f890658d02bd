"""A regular's card is scanned without re-reading its history, and never from a stale copy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import SUITE_NOW
from tests.factories import Tenant, make_tenant
from tests.scanning.test_till import SIMPLE_RULES, _ledger_counts, _member, _scan
from tests.statements import statements_sent
from wallet_service.accounts.ledger_cache import LedgerCache
from wallet_service.accounts.posting import PostingSource, load_account, new_context, post
from wallet_service.db.models import LedgerTransaction, Member
from wallet_service.db.session import create_session_factory, session_scope
from wallet_service.loyalty import MemberLedger, TransactionContext, adjust_balances

CORRECTION = PostingSource(channel="back-office")


def _reads_history(statement: str) -> bool:
    return statement.upper().startswith("SELECT") and "FROM ledger_transaction" in statement


async def _post_adjustment(session: AsyncSession, member_id: str, points: int) -> None:
    """A manual correction, posted the way the worker or another API process would."""
    member = await session.get(Member, uuid.UUID(member_id), with_for_update=True)
    assert member is not None
    account = await load_account(session, member)
    context = new_context(CORRECTION, SUITE_NOW, "goodwill")
    await post(
        session,
        account,
        account.loyalty.adjust(account.ledger, context, points=points),
        CORRECTION,
    )


async def _adjust(factory: async_sessionmaker[AsyncSession], member_id: str, points: int) -> None:
    async with session_scope(factory) as session:
        await _post_adjustment(session, member_id, points)


async def _regular(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> tuple[Tenant, dict[str, Any], str]:
    """A member who has scanned once (30 points incl. the welcome bonus), and their barcode."""
    tenant = await make_tenant(session_factory, client, rules=SIMPLE_RULES)
    member = await _member(client, tenant)
    barcode = tenant.barcode(member["serial_number"])
    assert (await _scan(client, tenant, barcode, "3.00")).status_code == 201
    return tenant, member, barcode


async def _card(client: httpx.AsyncClient, tenant: Tenant, member: dict[str, Any]) -> int:
    response = await client.get(
        "/api/v1/scans/lookup",
        params={"barcode": tenant.barcode(member["serial_number"])},
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    balance: int = response.json()["member"]["points_balance"]
    return balance


async def test_a_regular_card_is_scanned_without_rereading_its_history(
    app: FastAPI, client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant, member, barcode = await _regular(client, session_factory)
    with statements_sent(app, _reads_history) as reads:
        second = await _scan(client, tenant, barcode, "4.00")
    assert second.status_code == 201, second.text
    assert second.json()["member"]["points_balance"] == 70
    assert reads == []
    assert await _ledger_counts(session_factory, member["id"]) == (2, 70, 70)


async def test_a_change_written_by_another_process_is_seen_at_the_next_scan(
    app: FastAPI, client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant, member, barcode = await _regular(client, session_factory)
    # The worker and other API processes have their own memory: nothing here is told.
    elsewhere = create_session_factory(app.state.engine, app.state.clock)
    await _adjust(elsewhere, member["id"], 500)
    response = await _scan(client, tenant, barcode, "1.00")
    assert response.json()["member"]["points_balance"] == 30 + 500 + 10
    assert await _ledger_counts(session_factory, member["id"]) == (3, 540, 540)


async def test_a_rolled_back_posting_is_never_served_from_the_cache(
    app: FastAPI, client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant, member, barcode = await _regular(client, session_factory)

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned):
        async with session_scope(session_factory) as session:
            await _post_adjustment(session, member["id"], 1000)
            raise Abandoned
    # Another process then writes a different transaction at the same ledger position.
    await _adjust(create_session_factory(app.state.engine, app.state.clock), member["id"], 1)
    assert await _card(client, tenant, member) == 31
    response = await _scan(client, tenant, barcode, "1.00")
    assert response.json()["member"]["points_balance"] == 41
    async with session_scope(session_factory) as session:
        stored = await session.scalar(
            select(func.count()).where(LedgerTransaction.member_id == uuid.UUID(member["id"]))
        )
    assert stored == 3
    assert await _ledger_counts(session_factory, member["id"]) == (3, 41, 41)


def _ledger_of(transactions: int) -> MemberLedger:
    ledger = MemberLedger("EUR")
    for index in range(transactions):
        context = TransactionContext(
            transaction_id=str(uuid.uuid4()),
            occurred_at=datetime(2026, 1, 1 + index, tzinfo=UTC),
            note="test",
        )
        ledger = adjust_balances(ledger, context, points=10).ledger
    return ledger


def test_the_cache_keeps_at_most_its_budget_of_transactions_dropping_the_oldest_read() -> None:
    cache = LedgerCache(max_transactions=5)
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cache.put(first, 2, _ledger_of(2))
    cache.put(second, 2, _ledger_of(2))
    assert cache.get(first, 2, "EUR") is not None  # first is now the most recently used
    cache.put(third, 2, _ledger_of(2))
    assert cache.get(second, 2, "EUR") is None
    assert cache.get(first, 2, "EUR") is not None
    assert cache.get(third, 2, "EUR") is not None
    cache.put(uuid.uuid4(), 6, _ledger_of(6))  # bigger than the whole budget: not kept
    assert len(cache) == 2


def test_a_cached_ledger_is_only_served_at_the_length_the_database_says() -> None:
    cache = LedgerCache(max_transactions=100)
    member = uuid.uuid4()
    cache.put(member, 3, _ledger_of(3))
    assert cache.get(member, 3, "EUR") is not None
    assert cache.get(member, 4, "EUR") is None
    assert cache.get(member, 3, "USD") is None
