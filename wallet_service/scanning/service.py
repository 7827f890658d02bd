"""The till: look up a card, credit a purchase, redeem a reward, reverse a mistake.

Each mutating operation locks the member row, then checks its ``Idempotency-Key``, then
posts through the loyalty domain and stores its answer, all in the request's one
transaction: concurrent redemptions on one card queue on the lock (no overspending), and a
retried request finds the first answer instead of crediting twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.api.idempotency import IdempotentCall, StoredResponse
from wallet_service.api.members.accounts import (
    Account,
    PostingSource,
    load_account,
    new_context,
    post,
)
from wallet_service.api.stores.service import get_store
from wallet_service.db.models import LedgerTransaction, Member, MemberStatus, Program, RewardStock
from wallet_service.db.repository import get_scoped
from wallet_service.errors import Conflict, NotFound, PermissionDenied
from wallet_service.loyalty import Basket, BasketLine, BonusKind, PurchaseOutcome, TierMovement
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

__all__ = [
    "basket_of",
    "lookup_card",
    "member_summary",
    "purchase_answer",
    "record_scan",
    "redeem",
    "reverse",
    "reward_choices",
    "stock_used",
]


# The card's member with its program, in one round trip (``load_account`` needs both). Built
# once: on the till's hot path, building a statement per call costs about as much as running it.
_CARD = (
    select(Member, Program)
    .join(Program, Program.id == Member.program_id)
    .where(Member.merchant_id == bindparam("merchant_id"))
)
_CARD_BY_SERIAL = _CARD.where(Member.serial_number == bindparam("serial"))
_CARD_BY_SERIAL_LOCKED = _CARD_BY_SERIAL.with_for_update(of=Member)
_USED_STOCK = select(RewardStock.reward_code, RewardStock.redeemed).where(
    RewardStock.program_id == bindparam("program_id")
)


async def _card(
    session: AsyncSession, scope: MerchantScope, barcode: str, keys: KeyRing, *, for_update: bool
) -> tuple[Member, Program]:
    parameters: dict[str, object] = {"merchant_id": scope.merchant_id}
    try:
        # Forged or garbled: refused without a database hit.
        parameters["serial"] = verify_token(keys.active, barcode, previous_secrets=keys.retired)
        statement = _CARD_BY_SERIAL_LOCKED if for_update else _CARD_BY_SERIAL
    except InvalidBarcode:
        if barcode.strip().upper().startswith("LW"):
            raise
        # Typed from under the barcode: the short code (checked first, then looked up).
        prefix = serial_prefix_of(keys, barcode)
        statement = _CARD.where(Member.serial_number.startswith(prefix)).limit(2)
        if for_update:
            statement = statement.with_for_update(of=Member)
    found = (await session.execute(statement, parameters)).all()
    if len(found) != 1:
        # Another merchant's card looks exactly like an unknown one.
        raise NotFound("No member carries this card.", code="member_not_found")
    member, program = found[0]
    if member.status is not MemberStatus.active:
        raise Conflict(f"This card is {member.status.value}.", code="card_voided")
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


async def _pay_referral(
    session: AsyncSession, account: Account, source: PostingSource, at: datetime
) -> Account:
    """After a referee's purchase, pay both sides of the referral once it qualifies."""
    member = account.member
    if member.referred_by_id is None or account.ledger.has_bonus(BonusKind.REFERRAL_REFEREE):
        return account
    # Lock order is referee then referrer; a referrer always enrolled before its referees,
    # so two referral payouts can never wait on each other.
    referrer_row = await session.get(Member, member.referred_by_id, with_for_update=True)
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
        await post(session, referrer, award.referrer, source)
    if award.referee is not None:
        account = await post(session, account, award.referee, source)
    return account


async def lookup_card(
    session: AsyncSession, principal: Principal, barcode: str, keys: KeyRing, at: datetime
) -> LookupRead:
    member, program = await _card(session, principal.scope, barcode, keys, for_update=False)
    account = await load_account(session, member, program)
    return LookupRead(
        member=member_summary(account, at), rewards=await _options(session, account, at)
    )


async def record_scan(
    session: AsyncSession,
    principal: Principal,
    data: ScanCreate,
    call: IdempotentCall,
    keys: KeyRing,
    at: datetime,
) -> StoredResponse:
    store_id = await _store_for(session, principal, data.store_id)
    member, program = await _card(session, principal.scope, data.barcode, keys, for_update=True)
    if (stored := await call.replay(session, principal.scope)) is not None:
        return stored
    source = PostingSource.from_principal(
        principal, channel=data.channel, store_id=store_id, external_reference=data.order_id
    )
    account = await _expire_due(session, await load_account(session, member, program), source, at)
    outcome = account.loyalty.record_purchase(
        account.ledger, basket_of(data), new_context(source, at)
    )
    account = await post(session, account, outcome.posting, source)
    account = await _pay_referral(session, account, source, at)
    body = purchase_answer(account, outcome, at, await _options(session, account, at))
    return await call.remember(session, principal.scope, body)


async def redeem(
    session: AsyncSession,
    principal: Principal,
    data: RedemptionCreate,
    call: IdempotentCall,
    keys: KeyRing,
    at: datetime,
) -> StoredResponse:
    store_id = await _store_for(session, principal, data.store_id)
    member, program = await _card(session, principal.scope, data.barcode, keys, for_update=True)
    if (stored := await call.replay(session, principal.scope)) is not None:
        return stored
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
    return await call.remember(session, principal.scope, body)


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
    return await call.remember(session, principal.scope, body)
