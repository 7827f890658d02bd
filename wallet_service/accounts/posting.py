"""A member's loyalty account: the domain ledger, persisted append-only.

Every balance change goes through :func:`post`: it appends the domain's transaction and
entries, refreshes the member's cached balances and tier from the resulting ledger (so the
cache always equals the ledger sum), and bumps the pass version when the card changed.
Callers lock the member row first (:func:`~wallet_service.members.service.get_member`
with ``for_update=True``), so concurrent postings on one member are serialised.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from itertools import groupby
from operator import attrgetter
from typing import Any

from sqlalchemy import Row, bindparam, case, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.accounts.ledger_cache import ledger_cache_of, publish_after_commit
from wallet_service.db.base import Base, UTCDateTime
from wallet_service.db.models import LedgerEntry as EntryRow
from wallet_service.db.models import LedgerTransaction as TransactionRow
from wallet_service.db.models import Member, Program
from wallet_service.loyalty import (
    BonusKind,
    EntryKind,
    LedgerEntry,
    LedgerTransaction,
    LotDraw,
    LoyaltyProgram,
    MemberLedger,
    MemberState,
    Posting,
    TransactionContext,
    TransactionKind,
)
from wallet_service.loyalty.rules import ProgramRules
from wallet_service.push.changes import card_changed, cards_changed
from wallet_service.security.principal import MerchantScope, Principal
from wallet_service.webhooks.schemas import EventType
from wallet_service.webhooks.service import card_data, emit

__all__ = [
    "Account",
    "LedgerWrites",
    "PostingSource",
    "default_rules",
    "load_account",
    "load_accounts",
    "loyalty_program",
    "new_context",
    "post",
    "touch_pass",
    "touch_passes",
]


def default_rules(currency: str) -> dict[str, Any]:
    """Rules for a program created without any: one point per currency unit, one tier."""
    return ProgramRules.from_dict(
        {
            "version": 1,
            "currency": currency,
            "earn": {"points_per_currency_unit": "1"},
            "tiers": [{"code": "member", "name": "Member"}],
        }
    ).to_dict()


def touch_pass(
    session: AsyncSession,
    member: Member,
    now: datetime,
    *,
    notify: bool = False,
    final: bool = False,
) -> None:
    """Record that what the card shows changed: a new pass version for devices to fetch,
    and the push that tells them (see :func:`~wallet_service.push.changes.card_changed`).

    Each version's timestamp is at least one second after the previous one, because HTTP
    dates (``Last-Modified`` / ``If-Modified-Since``) have whole-second resolution and two
    versions in one second would look identical to a device.
    """
    member.pass_version += 1
    member.pass_updated_at = max(now, member.pass_updated_at + timedelta(seconds=1))
    card_changed(session, member, now, notify=notify, final=final)


async def touch_passes(
    session: AsyncSession,
    scope: MerchantScope,
    now: datetime,
    *,
    program_id: uuid.UUID | None = None,
) -> None:
    """A new pass version for every card of the merchant (or program) after a design,
    name, rules or store change, so devices fetch the new look."""
    at = literal(now, UTCDateTime())
    statement = (
        update(Member)
        .where(Member.merchant_id == scope.merchant_id)
        .values(
            pass_version=Member.pass_version + 1,
            # Never move a version back in time (it may run ahead of the clock for a moment).
            pass_updated_at=case((Member.pass_updated_at >= at, Member.pass_updated_at), else_=at),
            **cards_changed(session, scope, now, program_id),
        )
    )
    if program_id is not None:
        statement = statement.where(Member.program_id == program_id)
    await session.execute(statement)


@lru_cache(maxsize=256)
def _program_from_json(rules_json: str) -> LoyaltyProgram:
    return LoyaltyProgram(ProgramRules.from_dict(json.loads(rules_json)))


def loyalty_program(program: Program) -> LoyaltyProgram:
    """The program's rules as the domain runs them (parsed once per distinct rule set)."""
    return _program_from_json(json.dumps(program.rules, sort_keys=True))


@dataclass(frozen=True)
class Account:
    member: Member
    program: Program
    loyalty: LoyaltyProgram
    ledger: MemberLedger

    def state(self, at: datetime) -> MemberState:
        return self.loyalty.member_state(self.ledger, at)


@dataclass(frozen=True)
class PostingSource:
    """Who posted a transaction, from where, through which channel."""

    channel: str = "store"
    store_id: uuid.UUID | None = None
    staff_user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    external_reference: str | None = None

    @classmethod
    def from_principal(
        cls,
        principal: Principal,
        *,
        channel: str = "store",
        store_id: uuid.UUID | None = None,
        external_reference: str | None = None,
    ) -> PostingSource:
        return cls(
            channel=channel,
            store_id=store_id,
            staff_user_id=principal.staff_user_id,
            api_key_id=principal.api_key_id,
            external_reference=external_reference,
        )

    @property
    def actor(self) -> str | None:
        if self.staff_user_id:
            return f"staff:{self.staff_user_id}"
        if self.api_key_id:
            return f"api_key:{self.api_key_id}"
        return "system"


def new_context(source: PostingSource, at: datetime, note: str = "") -> TransactionContext:
    return TransactionContext(
        transaction_id=str(uuid.uuid4()),
        occurred_at=at,
        actor=source.actor,
        store_id=str(source.store_id) if source.store_id else None,
        note=note,
    )


_TRANSACTIONS = Base.metadata.tables[TransactionRow.__tablename__]
_ENTRIES = Base.metadata.tables[EntryRow.__tablename__]
HistoryRow = Row[*tuple[Any, ...]]
# Members' histories in one round trip: each transaction with its entries (if any).
_HISTORIES = (
    select(
        _TRANSACTIONS.c.member_id,
        _TRANSACTIONS.c.id,
        _TRANSACTIONS.c.kind,
        _TRANSACTIONS.c.occurred_at,
        _TRANSACTIONS.c.actor,
        _TRANSACTIONS.c.store_id,
        _TRANSACTIONS.c.note,
        _TRANSACTIONS.c.purchase_amount,
        _TRANSACTIONS.c.reverses_transaction_id,
        _TRANSACTIONS.c.bonus_kind,
        _TRANSACTIONS.c.bonus_reference,
        _TRANSACTIONS.c.related_member_id,
        _TRANSACTIONS.c.reward_code,
        _ENTRIES.c.entry_key,
        _ENTRIES.c.kind.label("entry_kind"),
        _ENTRIES.c.points,
        _ENTRIES.c.cashback,
        _ENTRIES.c.stamps,
        _ENTRIES.c.lot_expires_at,
        _ENTRIES.c.draws,
        _ENTRIES.c.reverses_entry_key,
    )
    .select_from(_TRANSACTIONS.outerjoin(_ENTRIES, _ENTRIES.c.transaction_id == _TRANSACTIONS.c.id))
    .where(_TRANSACTIONS.c.member_id.in_(bindparam("member_ids", expanding=True)))
    .order_by(_TRANSACTIONS.c.member_id, _TRANSACTIONS.c.position)
)
# Statements built once: building and cache-keying a statement on every call costs CPU
# comparable to the round trip itself.
_INSERT_TRANSACTION = insert(_TRANSACTIONS)
_INSERT_ENTRIES = insert(_ENTRIES)


def _entry_to_domain(row: HistoryRow) -> LedgerEntry:
    return LedgerEntry(
        entry_id=row.entry_key,
        kind=EntryKind(row.entry_kind),
        points=row.points,
        cashback=Decimal(row.cashback).normalize() if row.cashback else Decimal(0),
        stamps=row.stamps,
        lot_expires_at=row.lot_expires_at,
        draws=tuple(LotDraw(lot, int(points)) for lot, points in row.draws),
        reverses_entry_id=row.reverses_entry_key,
    )


def _entry_order(entry: LedgerEntry) -> int:
    return int(entry.entry_id.rsplit(":", 1)[1])  # "<transaction>:<n>", n from 0


def _transaction_to_domain(row: HistoryRow, entries: list[LedgerEntry]) -> LedgerTransaction:
    return LedgerTransaction(
        transaction_id=str(row.id),
        kind=TransactionKind(row.kind),
        occurred_at=row.occurred_at,
        entries=tuple(sorted(entries, key=_entry_order)),
        actor=row.actor,
        store_id=str(row.store_id) if row.store_id else None,
        note=row.note,
        purchase_amount=row.purchase_amount,
        reverses_transaction_id=str(row.reverses_transaction_id)
        if row.reverses_transaction_id
        else None,
        bonus_kind=BonusKind(row.bonus_kind) if row.bonus_kind else None,
        bonus_reference=row.bonus_reference,
        related_member_id=str(row.related_member_id) if row.related_member_id else None,
        reward_code=row.reward_code,
    )


def _history(rows: Sequence[HistoryRow]) -> Iterator[LedgerTransaction]:
    """Fold the joined rows (one per entry, ordered by position) back into transactions."""
    for _, group in groupby(rows, key=lambda row: row.id):
        first, *rest = group
        entries = [] if first.entry_key is None else [_entry_to_domain(first)]
        entries.extend(_entry_to_domain(row) for row in rest)
        yield _transaction_to_domain(first, entries)


async def load_account(
    session: AsyncSession, member: Member, program: Program | None = None
) -> Account:
    """The member's account rebuilt from its stored history (lock the member first).

    Pass the member's ``program`` when it was loaded along with the member, to save a query.
    """
    if program is None:
        program = await session.get(Program, member.program_id)
        assert program is not None  # a foreign key guarantees it
    return (await load_accounts(session, [(member, program)]))[member.id]


async def load_accounts(
    session: AsyncSession, cards: Iterable[tuple[Member, Program]]
) -> dict[uuid.UUID, Account]:
    """Several members' accounts (each locked first), by member id, in at most one query.

    A ledger the process already holds at the row's ``ledger_length`` is reused (see
    :mod:`~wallet_service.accounts.ledger_cache`). Otherwise rows are read as plain tuples,
    not ORM objects: a busy card has hundreds of entries, and the ledger never edits them.
    """
    cache = ledger_cache_of(session.info)
    accounts: dict[uuid.UUID, Account] = {}
    unread: dict[uuid.UUID, tuple[Member, Program, LoyaltyProgram]] = {}
    for member, program in cards:
        assert program.id == member.program_id
        if member.id in accounts or member.id in unread:
            continue
        loyalty = loyalty_program(program)
        currency = loyalty.rules.currency
        ledger = cache.get(member.id, member.ledger_length, currency) if cache else None
        if ledger is None:
            unread[member.id] = (member, program, loyalty)
        else:
            accounts[member.id] = Account(member, program, loyalty, ledger)
    if not unread:
        return accounts
    rows = (await session.execute(_HISTORIES, {"member_ids": list(unread)})).all()
    histories = {
        member_id: list(group) for member_id, group in groupby(rows, key=attrgetter("member_id"))
    }
    for member, program, loyalty in unread.values():
        # Stored history was checked when it was posted; re-checking it on every scan would
        # make each scan cost O(history) twice.
        history = _history(histories.get(member.id, []))
        ledger = MemberLedger(loyalty.rules.currency, history, verify=False)
        if cache is not None and len(ledger.transactions) == member.ledger_length:
            publish_after_commit(session.info, member.id, member.ledger_length, ledger)
        accounts[member.id] = Account(member, program, loyalty, ledger)
    return accounts


@dataclass
class LedgerWrites:
    """Ledger rows appended in memory, sent together: one statement per table for a whole
    batch of postings (see :func:`post`)."""

    transactions: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, session: AsyncSession) -> None:
        """Insert the rows, then flush the members' refreshed balances."""
        for statement, rows in (
            (_INSERT_TRANSACTION, self.transactions),
            (_INSERT_ENTRIES, self.entries),
        ):
            if rows:
                await session.execute(statement, rows if len(rows) > 1 else rows[0])
        self.transactions, self.entries = [], []
        await session.flush()


async def post(
    session: AsyncSession,
    account: Account,
    posting: Posting,
    source: PostingSource,
    *,
    writes: LedgerWrites | None = None,
) -> Account:
    """Append the posting's transaction, refresh the member's caches, bump the pass.

    The rows are written at once, or added to ``writes`` when the caller sends several
    postings together (then nothing here touches the database).
    """
    pending = LedgerWrites() if writes is None else writes
    member = account.member
    transaction = posting.transaction
    transaction_id = uuid.UUID(transaction.transaction_id)
    # Core inserts, not ORM objects: the rows are written once and never edited, so the
    # unit of work would only add cost (and a flush per table to order them).
    pending.transactions.append(
        dict(
            id=transaction_id,
            merchant_id=member.merchant_id,
            member_id=member.id,
            position=member.ledger_length,
            kind=transaction.kind.value,
            occurred_at=transaction.occurred_at,
            channel=source.channel,
            external_reference=source.external_reference,
            actor=transaction.actor,
            store_id=source.store_id,
            staff_user_id=source.staff_user_id,
            api_key_id=source.api_key_id,
            note=transaction.note,
            purchase_amount=transaction.purchase_amount,
            reverses_transaction_id=uuid.UUID(transaction.reverses_transaction_id)
            if transaction.reverses_transaction_id
            else None,
            bonus_kind=transaction.bonus_kind.value if transaction.bonus_kind else None,
            bonus_reference=transaction.bonus_reference,
            related_member_id=uuid.UUID(transaction.related_member_id)
            if transaction.related_member_id
            else None,
            reward_code=transaction.reward_code,
        )
    )
    pending.entries.extend(
        {
            "merchant_id": member.merchant_id,
            "member_id": member.id,
            "transaction_id": transaction_id,
            "entry_key": entry.entry_id,
            "kind": entry.kind.value,
            "points": entry.points,
            "cashback": entry.cashback,
            "stamps": entry.stamps,
            "lot_expires_at": entry.lot_expires_at,
            "draws": [[d.lot_entry_id, d.points] for d in entry.draws],
            "reverses_entry_key": entry.reverses_entry_id,
        }
        for entry in transaction.entries
    )
    member.ledger_length += 1
    publish_after_commit(session.info, member.id, member.ledger_length, posting.ledger)
    updated = Account(
        member=member, program=account.program, loyalty=account.loyalty, ledger=posting.ledger
    )
    balances = posting.balances
    tier = updated.state(transaction.occurred_at).tier.tier.code
    shown_before = (
        member.points_balance,
        member.cashback_balance,
        member.stamps_balance,
        member.tier,
    )
    member.points_balance = balances.points
    member.cashback_balance = balances.cashback
    member.stamps_balance = balances.stamps
    member.tier = tier
    if (balances.points, balances.cashback, balances.stamps, tier) != shown_before:
        touch_pass(session, member, transaction.occurred_at, notify=True)
        await _tell_webhooks(session, updated, transaction, shown_before)
    if writes is None:
        await pending.send(session)
    return updated


async def _tell_webhooks(
    session: AsyncSession,
    account: Account,
    transaction: LedgerTransaction,
    shown_before: tuple[int, Decimal, int, str | None],
) -> None:
    """``balance.changed`` and ``tier.changed``, as the card shows them. In a batch the
    merchant's endpoints were read already (no database hit here)."""
    member, now = account.member, transaction.occurred_at
    points, cashback, stamps, tier = shown_before
    common = {"transaction_id": transaction.transaction_id, "kind": transaction.kind.value}
    if (member.points_balance, member.cashback_balance, member.stamps_balance) != (
        points,
        cashback,
        stamps,
    ):
        balances = card_data(
            member,
            **common,
            currency=account.loyalty.rules.currency,
            points_balance=member.points_balance,
            cashback_balance=member.cashback_balance,
            stamps_balance=member.stamps_balance,
            previous_points_balance=points,
            previous_cashback_balance=cashback,
            previous_stamps_balance=stamps,
        )
        await emit(session, member.merchant_id, EventType.balance_changed, balances, now)
    # A new card has no tier stored yet: it was in the program's entry tier.
    tier = tier or account.loyalty.rules.tiers.entry.code
    if member.tier != tier:
        tiers = card_data(member, **common, tier=member.tier, previous_tier=tier)
        await emit(session, member.merchant_id, EventType.tier_changed, tiers, now)
