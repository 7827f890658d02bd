"""The till: look up a card, credit a purchase, redeem a reward, reverse a mistake.

Each mutating operation locks the member row, then checks its ``Idempotency-Key``, then
posts through the loyalty domain and stores its answer, all in the request's one
transaction: concurrent redemptions on one card queue on the lock (no overspending), and a
retried request finds the first answer instead of crediting twice. The stored answer is
checked before the card's state: a retry gets it even if the card was cancelled or erased
since.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, bindparam, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.accounts.posting import (
    Account,
    LedgerWrites,
    PostingSource,
    load_account,
    load_accounts,
    new_context,
    post,
)
from wallet_service.db.models import LedgerTransaction, Member, MemberStatus, Program, RewardStock
from wallet_service.db.repository import find_scoped, get_scoped
from wallet_service.errors import Conflict, NotFound, PermissionDenied, WalletError
from wallet_service.idempotency.records import IdempotentCall, KnownAnswers, StoredResponse
from wallet_service.loyalty import (
    Basket,
    BasketLine,
    BonusKind,
    DomainError,
    MemberLedger,
    Posting,
    PurchaseOutcome,
    TierMovement,
)
from wallet_service.scanning.rotating import is_rotating, verify_rotating
from wallet_service.scanning.schemas import (
    LookupRead,
    MemberSummary,
    RedemptionCreate,
    RedemptionRead,
    ReversalCreate,
    ReversalRead,
    RewardOption,
    RewardRead,
    ScanCreate,
    ScanRead,
    TierRead,
)
from wallet_service.scanning.short_code import serial_prefix_of
from wallet_service.scanning.token import InvalidBarcode, verify_token
from wallet_service.security.keys import KeyRing
from wallet_service.security.principal import MerchantScope, Principal
from wallet_service.stores.service import get_store
from wallet_service.webhooks.schemas import EventType
from wallet_service.webhooks.service import card_data, emit, load_endpoints

__all__ = [
    "ScanRequest",
    "ScanResult",
    "admit_scan",
    "basket_of",
    "lookup_card",
    "member_summary",
    "purchase_answer",
    "record_scans",
    "redeem",
    "reverse",
    "reward_choices",
    "stock_used",
]


# The card's member with its program, in one round trip (``load_account`` needs both). Built
# once: on the till's hot path, building a statement per call costs about as much as running it.
_MEMBER_AND_PROGRAM = select(Member, Program).join(Program, Program.id == Member.program_id)
_CARD_BY_SERIAL = _MEMBER_AND_PROGRAM.where(
    Member.merchant_id == bindparam("merchant_id"), Member.serial_number == bindparam("serial")
)
_CARD_BY_SERIAL_LOCKED = _CARD_BY_SERIAL.with_for_update(of=Member)
# A batch's cards, locked in one order (member id) by every batch, so batches never deadlock.
_CARDS_LOCKED = (
    _MEMBER_AND_PROGRAM.where(
        tuple_(Member.merchant_id, Member.serial_number).in_(bindparam("cards", expanding=True))
    )
    .order_by(Member.id)
    .with_for_update(of=Member)
)
_SERIALS_BY_PREFIX = (
    select(Member.serial_number)
    .where(
        Member.merchant_id == bindparam("merchant_id"),
        Member.serial_number.startswith(bindparam("prefix")),
    )
    .limit(2)
)
_USED_STOCK = select(RewardStock.reward_code, RewardStock.redeemed).where(
    RewardStock.program_id == bindparam("program_id")
)


def _no_member() -> NotFound:
    # Another merchant's card looks exactly like an unknown one.
    return NotFound("No member carries this card.", code="member_not_found")


def _check_active(member: Member) -> None:
    if member.status is not MemberStatus.active:
        raise Conflict(f"This card is {member.status.value}.", code="card_voided")


async def _serial_of(
    session: AsyncSession, scope: MerchantScope, barcode: str, keys: KeyRing, at: datetime
) -> str:
    """The serial number a scanned or typed card code names (a rotating code as of ``at``)."""
    if is_rotating(barcode):
        # A Google pass's rotating code: its 30-second step or the previous one, no DB hit.
        return verify_rotating(keys, barcode, at)
    try:
        # Forged or garbled: refused without a database hit.
        return verify_token(keys.active, barcode, previous_secrets=keys.retired)
    except InvalidBarcode:
        if barcode.strip().upper().startswith("LW"):
            raise
        # Typed from under the barcode: the short code (checked first, then looked up).
        prefix = serial_prefix_of(keys, barcode)
    parameters = {"merchant_id": scope.merchant_id, "prefix": prefix}
    found = (await session.execute(_SERIALS_BY_PREFIX, parameters)).scalars().all()
    if len(found) != 1:
        raise _no_member()
    return found[0]


async def _card(
    session: AsyncSession,
    scope: MerchantScope,
    barcode: str,
    keys: KeyRing,
    at: datetime,
    *,
    for_update: bool,
) -> tuple[Member, Program]:
    parameters = {
        "merchant_id": scope.merchant_id,
        "serial": await _serial_of(session, scope, barcode, keys, at),
    }
    statement = _CARD_BY_SERIAL_LOCKED if for_update else _CARD_BY_SERIAL
    found = (await session.execute(statement, parameters)).one_or_none()
    if found is None:
        raise _no_member()
    member, program = found
    return member, program


async def _store_for(
    session: AsyncSession, principal: Principal, requested: uuid.UUID | None
) -> uuid.UUID | None:
    if principal.store_id and requested and requested != principal.store_id:
        raise PermissionDenied(
            "You can only record scans at your own store.", code="store_not_allowed"
        )
    store_id = requested or principal.store_id
    if store_id is not None and store_id != principal.store_id:
        # A caller's own store was checked when the key or account was bound to it.
        await get_store(session, principal.scope, store_id)
    return store_id


async def stock_used(session: AsyncSession, account: Account) -> dict[str, int]:
    """Units of each limited reward already handed out."""
    if all(reward.stock is None for reward in account.loyalty.rules.rewards):
        return {}  # nothing is limited: no need to ask the database
    rows = await session.execute(_USED_STOCK, {"program_id": account.program.id})
    return {code: redeemed for code, redeemed in rows.all()}


def _stock_for_update(account: Account, reward_code: str) -> Select[RewardStock]:
    return (
        select(RewardStock)
        .where(RewardStock.program_id == account.program.id, RewardStock.reward_code == reward_code)
        .with_for_update()
    )


async def _locked_stock(session: AsyncSession, account: Account, reward_code: str) -> RewardStock:
    statement = _stock_for_update(account, reward_code)
    row = (await session.execute(statement)).scalar_one_or_none()
    if row is not None:
        return row
    try:
        async with session.begin_nested():
            session.add(
                RewardStock(
                    merchant_id=account.member.merchant_id,
                    program_id=account.program.id,
                    reward_code=reward_code,
                    redeemed=0,
                )
            )
    except IntegrityError:
        pass  # created by a concurrent redemption a moment ago: lock that row instead
    return (await session.execute(statement)).scalar_one()


def member_summary(account: Account, at: datetime) -> MemberSummary:
    """What the till shows about the member at ``at``."""
    state = account.state(at)
    member = account.member
    return MemberSummary(
        id=member.id,
        serial_number=member.serial_number,
        name=f"{member.given_name} {member.family_name}".strip() or "Member",
        status=member.status.value,
        points_balance=state.balances.points,
        cashback_balance=state.balances.cashback,
        currency=state.currency,
        stamps=state.balances.stamps,
        stamps_per_card=state.stamps_per_card,
        tier=TierRead(code=state.tier.tier.code, name=state.tier.tier.name),
        progress_text=state.progress_text(),
        points_expiring_soon=state.expiring_soon.points,
    )


def reward_choices(account: Account, at: datetime, used: dict[str, int]) -> list[RewardOption]:
    """The catalog as this member may use it now, given the units of stock ``used``."""
    options = account.loyalty.reward_options(account.ledger, at, stock_used=used)
    return [
        RewardOption(
            code=o.reward.code,
            name=o.reward.name,
            kind=o.reward.kind.value,
            cost_points=o.reward.cost_points,
            minimum_basket=o.reward.minimum_basket,
            usable=o.usable,
            reasons=list(o.codes),
        )
        for o in options
    ]


async def _options(session: AsyncSession, account: Account, at: datetime) -> list[RewardOption]:
    return reward_choices(account, at, await stock_used(session, account))


def basket_of(data: ScanCreate) -> Basket:
    return Basket(
        amount=data.amount.value,
        currency=data.amount.currency,
        lines=tuple(
            BasketLine(
                sku=line.sku,
                quantity=line.quantity,
                unit_price=line.unit_price,
                category=line.category,
            )
            for line in data.lines
        ),
    )


def purchase_answer(
    account: Account, outcome: PurchaseOutcome, at: datetime, rewards: list[RewardOption]
) -> ScanRead:
    """The scan's answer, from the account after the purchase (and any bonus it paid)."""
    return ScanRead(
        transaction_id=uuid.UUID(outcome.posting.transaction.transaction_id),
        member=member_summary(account, at),
        points_earned=outcome.earn.total_points,
        cashback_earned=outcome.cashback,
        stamps_earned=outcome.stamps.stamps_added if outcome.stamps else 0,
        tier_changed=outcome.tier_movement is not TierMovement.UNCHANGED,
        rewards=rewards,
    )


async def _expire_due(
    session: AsyncSession, account: Account, source: PostingSource, at: datetime
) -> Account:
    """Post expiries that fell due, so balances and redemptions see only live points."""
    posting = account.loyalty.expire_due_points(account.ledger, new_context(source, at, "expiry"))
    return account if posting is None else await post(session, account, posting, source)


def _owes_referral(member: Member, ledger: MemberLedger) -> bool:
    return member.referred_by_id is not None and not ledger.has_bonus(BonusKind.REFERRAL_REFEREE)


async def _pay_referral(
    session: AsyncSession,
    scope: MerchantScope,
    account: Account,
    source: PostingSource,
    at: datetime,
    writes: LedgerWrites,
) -> Account:
    """After a referee's purchase, pay both sides of the referral once it qualifies."""
    member = account.member
    if not _owes_referral(member, account.ledger):
        return account
    assert member.referred_by_id is not None
    # Lock order is referee then referrer; a referrer always enrolled before its referees,
    # so two referral payouts can never wait on each other.
    referrer_row = await find_scoped(session, scope, Member, member.referred_by_id, for_update=True)
    if referrer_row is None or referrer_row.status is not MemberStatus.active:
        return account
    referrer = await load_account(session, referrer_row)
    award = account.loyalty.award_referral_bonuses(
        referrer_id=str(referrer_row.id),
        referrer_ledger=referrer.ledger,
        referrer_context=new_context(source, at, "referral bonus"),
        referee_id=str(member.id),
        referee_ledger=account.ledger,
        referee_context=new_context(source, at, "referral bonus"),
    )
    if award.referrer is not None:
        await post(session, referrer, award.referrer, source, writes=writes)
    if award.referee is not None:
        account = await post(session, account, award.referee, source, writes=writes)
    return account


async def lookup_card(
    session: AsyncSession, principal: Principal, barcode: str, keys: KeyRing, at: datetime
) -> LookupRead:
    member, program = await _card(session, principal.scope, barcode, keys, at, for_update=False)
    _check_active(member)
    account = await load_account(session, member, program)
    return LookupRead(
        member=member_summary(account, at), rewards=await _options(session, account, at)
    )


@dataclass(frozen=True)
class ScanRequest:
    """A scan checked at the door (caller, store, card), waiting to be posted."""

    principal: Principal
    data: ScanCreate
    serial: str
    store_id: uuid.UUID | None
    call: IdempotentCall
    at: datetime


async def admit_scan(
    session: AsyncSession,
    principal: Principal,
    data: ScanCreate,
    call: IdempotentCall,
    keys: KeyRing,
    at: datetime,
) -> ScanRequest | StoredResponse:
    """Check the scan's store and card code, then end the caller's transaction: the scan
    is posted in its batch's transaction (:func:`record_scans`), and on SQLite this
    process's one connection must be free for it."""
    store_id = await _store_for(session, principal, data.store_id)
    try:
        serial = await _serial_of(session, principal.scope, data.barcode, keys, at)
    except InvalidBarcode as refused:
        return await _answer_to_retry(session, principal, call, refused)
    await session.commit()
    return ScanRequest(principal, data, serial, store_id, call, at)


async def _answer_to_retry(
    session: AsyncSession, principal: Principal, call: IdempotentCall, refused: InvalidBarcode
) -> StoredResponse:
    """A till retrying a request whose rotating code has expired since still gets the first
    answer; any other refused code stays refused."""
    stored = await call.replay(session, principal.scope)
    if stored is None:
        raise refused
    return stored


@dataclass(frozen=True)
class _Purchase:
    account: Account
    source: PostingSource
    expiry: Posting | None
    outcome: PurchaseOutcome


# What a batch gives each scan: its answer, the error it alone gets (nothing of it is
# written), or None: post it in a transaction of its own (see record_scans).
ScanResult = StoredResponse | Exception | None


async def record_scans(session: AsyncSession, scans: Sequence[ScanRequest]) -> list[ScanResult]:
    """Credit scans that arrived together, in the session's one transaction (group commit).

    One query locks every card (in member-id order), one reads the answers already given
    under their keys, one at most reads the histories not cached; then each scan runs
    through the rules in memory, in arrival order, and one statement per table writes them
    all. A scan the rules refuse gets its error and writes nothing, without disturbing the
    others. A database error fails the whole batch: the caller then posts each scan alone.
    A first purchase that pays a referral locks a second member, so in a batch of several
    it answers ``None`` and is posted alone.
    """
    keys = list({(scan.principal.scope.merchant_id, scan.serial) for scan in scans})
    rows = (await session.execute(_CARDS_LOCKED, {"cards": keys})).all()
    cards = {
        (member.merchant_id, member.serial_number): (member, program) for member, program in rows
    }
    answers = await KnownAnswers.load(
        session, [(scan.principal.scope, scan.call) for scan in scans]
    )
    accounts = await load_accounts(session, cards.values())
    # Every merchant's webhook endpoints in one query: the postings below then emit events
    # without touching the database (nothing at all when a merchant has no endpoint).
    await load_endpoints(session, {scan.principal.scope.merchant_id for scan in scans})
    writes = LedgerWrites()
    stock: dict[uuid.UUID, dict[str, int]] = {}
    results: list[ScanResult] = []
    for scan in scans:
        try:
            prepared = _prepare_purchase(scan, cards, answers, accounts)
        except (WalletError, DomainError, OverflowError) as refused:
            results.append(refused)
            continue
        if isinstance(prepared, _Purchase):
            member = prepared.account.member
            if len(scans) > 1 and _owes_referral(member, prepared.outcome.posting.ledger):
                results.append(None)
                continue
            # From here on an error fails the batch: part of this scan may be written.
            account = await _apply_purchase(session, scan, prepared, writes, stock)
            accounts[member.id] = account
            prepared = answers.remember(
                scan.principal.scope,
                scan.call,
                purchase_answer(
                    account,
                    prepared.outcome,
                    scan.at,
                    reward_choices(account, scan.at, stock[account.program.id]),
                ),
                member.id,
            )
        results.append(prepared)
    await writes.send(session)
    await answers.save(session)
    return results


def _prepare_purchase(
    scan: ScanRequest,
    cards: dict[tuple[uuid.UUID, str], tuple[Member, Program]],
    answers: KnownAnswers,
    accounts: dict[uuid.UUID, Account],
) -> StoredResponse | _Purchase:
    """The scan's replayed answer, or its purchase worked out in memory (nothing written)."""
    scope = scan.principal.scope
    card = cards.get((scope.merchant_id, scan.serial))
    if card is None:
        raise _no_member()
    # The answer first: a retry gets it even if the card was cancelled or erased since.
    if (stored := answers.replay(scope, scan.call)) is not None:
        return stored
    member, _ = card
    _check_active(member)
    account = accounts[member.id]
    data = scan.data
    source = PostingSource.from_principal(
        scan.principal,
        channel=data.channel,
        store_id=scan.store_id,
        external_reference=data.order_id,
    )
    # Expiries that fell due first, so balances and rewards see only live points.
    expiry = account.loyalty.expire_due_points(
        account.ledger, new_context(source, scan.at, "expiry")
    )
    ledger = account.ledger if expiry is None else expiry.ledger
    outcome = account.loyalty.record_purchase(ledger, basket_of(data), new_context(source, scan.at))
    return _Purchase(account, source, expiry, outcome)


async def _apply_purchase(
    session: AsyncSession,
    scan: ScanRequest,
    purchase: _Purchase,
    writes: LedgerWrites,
    stock: dict[uuid.UUID, dict[str, int]],
) -> Account:
    account, source = purchase.account, purchase.source
    if purchase.expiry is not None:
        account = await post(session, account, purchase.expiry, source, writes=writes)
    account = await post(session, account, purchase.outcome.posting, source, writes=writes)
    account = await _pay_referral(session, scan.principal.scope, account, source, scan.at, writes)
    await _scanned(session, scan, purchase)
    if account.program.id not in stock:
        stock[account.program.id] = await stock_used(session, account)
    return account


async def _scanned(session: AsyncSession, scan: ScanRequest, purchase: _Purchase) -> None:
    member, outcome = purchase.account.member, purchase.outcome
    data = card_data(
        member,
        transaction_id=outcome.posting.transaction.transaction_id,
        store_id=scan.store_id,
        channel=scan.data.channel,
        order_id=scan.data.order_id,
        amount={"value": scan.data.amount.value, "currency": scan.data.amount.currency},
        points_earned=outcome.earn.total_points,
        cashback_earned=outcome.cashback,
        stamps_earned=outcome.stamps.stamps_added if outcome.stamps else 0,
    )
    await emit(session, member.merchant_id, EventType.card_scanned, data, scan.at)


async def redeem(
    session: AsyncSession,
    principal: Principal,
    data: RedemptionCreate,
    call: IdempotentCall,
    keys: KeyRing,
    at: datetime,
) -> StoredResponse:
    store_id = await _store_for(session, principal, data.store_id)
    try:
        member, program = await _card(
            session, principal.scope, data.barcode, keys, at, for_update=True
        )
    except InvalidBarcode as refused:
        return await _answer_to_retry(session, principal, call, refused)
    # The answer first: a retry gets it even if the card was cancelled or erased since.
    if (stored := await call.replay(session, principal.scope)) is not None:
        return stored
    _check_active(member)
    source = PostingSource.from_principal(principal, store_id=store_id)
    account = await _expire_due(session, await load_account(session, member, program), source, at)
    reward = account.loyalty.rules.reward(data.reward_code)
    stock = await _locked_stock(session, account, reward.code) if reward.stock is not None else None
    redemption = account.loyalty.redeem_reward(
        account.ledger,
        reward.code,
        new_context(source, at, f"reward {reward.code}"),
        stock_used=stock.redeemed if stock else 0,
        basket_amount=data.basket_amount,
    )
    if stock is not None:
        stock.redeemed += 1
    account = await post(session, account, redemption.posting, source)
    redeemed = card_data(
        member,
        transaction_id=redemption.posting.transaction.transaction_id,
        store_id=store_id,
        reward_code=reward.code,
        reward_kind=reward.kind.value,
        cost_points=reward.cost_points,
    )
    await emit(session, member.merchant_id, EventType.reward_redeemed, redeemed, at)
    grant = redemption.grant
    body = RedemptionRead(
        transaction_id=uuid.UUID(redemption.posting.transaction.transaction_id),
        member=member_summary(account, at),
        reward=RewardRead(
            code=reward.code,
            name=reward.name,
            kind=reward.kind.value,
            discount_amount=grant.discount_amount,
            discount_percent=grant.discount_percent,
            product_sku=grant.product_sku,
            charity_name=grant.charity_name,
            donation_amount=grant.donation_amount,
        ),
        rewards=await _options(session, account, at),
    )
    return await call.remember(session, principal.scope, body, member.id)


async def reverse(
    session: AsyncSession,
    principal: Principal,
    transaction_id: uuid.UUID,
    data: ReversalCreate,
    call: IdempotentCall,
    at: datetime,
) -> StoredResponse:
    original = await get_scoped(
        session, principal.scope, LedgerTransaction, transaction_id, what="transaction"
    )
    if principal.store_id is not None and original.store_id != principal.store_id:
        raise PermissionDenied(
            "You can only reverse transactions of your own store.", code="store_not_allowed"
        )
    store_id = await _store_for(session, principal, None)
    member = await get_scoped(
        session, principal.scope, Member, original.member_id, what="member", for_update=True
    )
    if (stored := await call.replay(session, principal.scope)) is not None:
        return stored
    source = PostingSource.from_principal(principal, store_id=store_id)
    account = await load_account(session, member)
    posting = account.loyalty.reverse(
        account.ledger, str(original.id), new_context(source, at, data.reason)
    )
    if original.reward_code:
        stock = (
            await session.execute(_stock_for_update(account, original.reward_code))
        ).scalar_one_or_none()
        if stock is not None and stock.redeemed > 0:
            stock.redeemed -= 1  # the unit goes back on the shelf
    account = await post(session, account, posting, source)
    body = ReversalRead(
        transaction_id=uuid.UUID(posting.transaction.transaction_id),
        reversed_transaction_id=original.id,
        member=member_summary(account, at),
    )
    return await call.remember(session, principal.scope, body, member.id)
