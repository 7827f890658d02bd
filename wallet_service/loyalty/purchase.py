"""A purchase at the till or online: points, cashback and stamps in one transaction.

``record_purchase`` is what a scan does: it evaluates the member's tier just
before the purchase (its multiplier applies), quotes points, cashback and
stamps for the basket, posts them as one purchase transaction (so one
reversal undoes all of it), and re-evaluates the tier with the purchase
counted, so the caller can tell the member about a promotion.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from wallet_service.loyalty.cashback import quote_cashback
from wallet_service.loyalty.earn import Basket, EarnQuote, quote_earn
from wallet_service.loyalty.entries import (
    EntryKind,
    LedgerEntry,
    LedgerTransaction,
    TransactionContext,
    TransactionKind,
)
from wallet_service.loyalty.errors import CurrencyMismatch
from wallet_service.loyalty.expiry import lot_expiry
from wallet_service.loyalty.ledger import MemberLedger, Posting
from wallet_service.loyalty.rules import ProgramRules
from wallet_service.loyalty.stamps import StampQuote, quote_stamps
from wallet_service.loyalty.tiers import TierMovement, TierStatus, evaluate_tier, tier_movement

__all__ = ["PurchaseOutcome", "record_purchase"]


@dataclass(frozen=True, slots=True)
class PurchaseOutcome:
    """The posted purchase, what it earned, and the tier before and after it."""

    posting: Posting
    earn: EarnQuote
    cashback: Decimal
    stamps: StampQuote | None
    tier_before: TierStatus
    tier_after: TierStatus
    tier_movement: TierMovement


def record_purchase(
    rules: ProgramRules, ledger: MemberLedger, basket: Basket, context: TransactionContext
) -> PurchaseOutcome:
    """Post a purchase of ``basket``; a basket below every minimum still counts as a visit."""
    if basket.currency != rules.currency or ledger.currency != rules.currency:
        raise CurrencyMismatch(
            f"the program runs in {rules.currency}, not {basket.currency}",
            expected=rules.currency,
            received=basket.currency,
        )
    at = context.occurred_at
    tier_before = evaluate_tier(rules.tiers, ledger, at)
    earn = quote_earn(rules.earn, basket, tier_before.tier.multiplier)
    cashback = quote_cashback(rules.cashback, basket)
    stamps = None
    if rules.stamps is not None:
        stamps = quote_stamps(rules.stamps, basket, ledger.balances.stamps)
    new_entry = context.entry_id
    entries: list[LedgerEntry] = []
    if earn.total_points > 0:
        entries.append(
            LedgerEntry(
                entry_id=new_entry(len(entries)),
                kind=EntryKind.EARN,
                points=earn.total_points,
                lot_expires_at=lot_expiry(rules.expiry, at),
            )
        )
    if cashback > 0:
        entries.append(LedgerEntry(new_entry(len(entries)), EntryKind.EARN, cashback=cashback))
    if stamps is not None and stamps.stamps_added > 0:
        entries.append(
            LedgerEntry(new_entry(len(entries)), EntryKind.EARN, stamps=stamps.stamps_added)
        )
    if stamps is not None and stamps.stamps_redeemed > 0:
        # The full card is exchanged for its reward during this same visit.
        entries.append(
            LedgerEntry(new_entry(len(entries)), EntryKind.REDEEM, stamps=-stamps.stamps_redeemed)
        )
    transaction = LedgerTransaction.from_context(
        TransactionKind.PURCHASE, context, tuple(entries), purchase_amount=basket.amount
    )
    posting = ledger.post(transaction)
    tier_after = evaluate_tier(rules.tiers, posting.ledger, at)
    return PurchaseOutcome(
        posting=posting,
        earn=earn,
        cashback=cashback,
        stamps=stamps,
        tier_before=tier_before,
        tier_after=tier_after,
        tier_movement=tier_movement(rules.tiers, tier_before.tier.code, tier_after.tier.code),
    )
