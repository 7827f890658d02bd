"""Manual corrections and reversals: the only ways to undo or amend the ledger.

Nothing is edited in place. ``adjust_balances`` posts a signed correction
with a mandatory reason (goodwill points, a fixed stamp card). A reversal
cancels one transaction exactly: every entry negated, the lots a debit
consumed given back, the points an earn credited taken back from its own lot
first. A transaction is reversed at most once; reversals and expiries are not
reversible (post an adjustment instead).
"""

from __future__ import annotations

from decimal import Decimal

from wallet_service.loyalty.amounts import require_money
from wallet_service.loyalty.entries import (
    EntryKind,
    LedgerEntry,
    LedgerTransaction,
    LotDraw,
    TransactionContext,
    TransactionKind,
)
from wallet_service.loyalty.errors import (
    AlreadyReversed,
    InvalidAmount,
    NotReversible,
    ReasonRequired,
)
from wallet_service.loyalty.expiry import ExpiryRules, lot_expiry
from wallet_service.loyalty.ledger import MemberLedger, Posting

__all__ = ["adjust_balances", "reverse_transaction"]


def adjust_balances(
    ledger: MemberLedger,
    context: TransactionContext,
    *,
    points: int = 0,
    cashback: Decimal = Decimal(0),
    stamps: int = 0,
    expiry: ExpiryRules | None = None,
) -> Posting:
    """Post a manual correction; ``context.note`` must say why.

    Added points open a lot expiring like earned points (``expiry``); removed
    points come out of the oldest live lots. Raises ``InsufficientPoints``,
    ``InsufficientCashback`` or ``InsufficientStamps`` rather than go negative.
    """
    if not context.note.strip():
        raise ReasonRequired("a correction needs a reason in the note")
    if points == 0 and cashback == 0 and stamps == 0:
        raise InvalidAmount("a correction must change a balance")
    if cashback != 0:
        require_money(abs(cashback), ledger.currency, what="cashback correction")
    entries: list[LedgerEntry] = []
    if points > 0:
        entries.append(
            LedgerEntry(
                entry_id=context.entry_id(len(entries)),
                kind=EntryKind.ADJUST,
                points=points,
                lot_expires_at=lot_expiry(expiry, context.occurred_at),
            )
        )
    elif points < 0:
        draws = ledger.draw_points(-points, context.occurred_at)
        entries.append(
            LedgerEntry(
                entry_id=context.entry_id(len(entries)),
                kind=EntryKind.ADJUST,
                points=points,
                draws=draws,
            )
        )
    if cashback != 0:
        entries.append(
            LedgerEntry(
                entry_id=context.entry_id(len(entries)), kind=EntryKind.ADJUST, cashback=cashback
            )
        )
    if stamps != 0:
        entries.append(
            LedgerEntry(
                entry_id=context.entry_id(len(entries)), kind=EntryKind.ADJUST, stamps=stamps
            )
        )
    transaction = LedgerTransaction.from_context(
        TransactionKind.ADJUSTMENT, context, tuple(entries)
    )
    return ledger.post(transaction)


def reverse_transaction(
    ledger: MemberLedger, transaction_id: str, context: TransactionContext
) -> Posting:
    """Cancel ``transaction_id`` exactly, once.

    Raises ``UnknownTransaction``, ``AlreadyReversed``, ``NotReversible``, or
    ``InsufficientPoints`` / ``InsufficientCashback`` when what it credited
    has already been spent.
    """
    target = ledger.transaction(transaction_id)
    if target.kind in (TransactionKind.REVERSAL, TransactionKind.EXPIRY):
        raise NotReversible(
            f"a {target.kind} cannot be reversed; post an adjustment instead",
            transaction_id=transaction_id,
            kind=target.kind.value,
        )
    if ledger.reversal_of(transaction_id) is not None:
        raise AlreadyReversed(
            f"transaction {transaction_id} is already reversed", transaction_id=transaction_id
        )
    drawn_so_far: dict[str, int] = {}
    entries: list[LedgerEntry] = []
    for index, original in enumerate(target.entries):
        draws: tuple[LotDraw, ...] = ()
        if original.points < 0:
            draws = tuple(
                LotDraw(lot_entry_id=d.lot_entry_id, points=-d.points) for d in original.draws
            )
        elif original.opens_lot:
            draws = ledger.draw_points(
                original.points,
                context.occurred_at,
                first_from=original.entry_id,
                already_drawn=drawn_so_far,
            )
            for draw in draws:
                drawn_so_far[draw.lot_entry_id] = (
                    drawn_so_far.get(draw.lot_entry_id, 0) + draw.points
                )
        entries.append(
            LedgerEntry(
                entry_id=context.entry_id(index),
                kind=EntryKind.REVERSAL,
                points=-original.points,
                cashback=-original.cashback,
                stamps=-original.stamps,
                draws=draws,
                reverses_entry_id=original.entry_id,
            )
        )
    transaction = LedgerTransaction.from_context(
        TransactionKind.REVERSAL,
        context,
        tuple(entries),
        reverses_transaction_id=transaction_id,
    )
    return ledger.post(transaction)
