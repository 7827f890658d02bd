"""Ledger maths: balances are entry sums, reversals are exact and single, nothing goes negative."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from wallet_service.loyalty import (
    Balances,
    CashbackRules,
    EntryKind,
    LedgerEntry,
    LedgerTransaction,
    LotDraw,
    MemberLedger,
    StampRules,
    TransactionKind,
    adjust_balances,
    record_purchase,
    reverse_transaction,
)
from wallet_service.loyalty.errors import (
    AlreadyReversed,
    DuplicateTransaction,
    InsufficientCashback,
    InsufficientPoints,
    InsufficientStamps,
    InvalidAmount,
    LedgerIntegrityError,
    NotReversible,
    ReasonRequired,
    UnknownTransaction,
)

from .factories import T0, basket, context, minimal_rules, new_ledger

RULES = minimal_rules(
    cashback=CashbackRules(percent=Decimal(10)),
    stamps=StampRules(stamps_per_card=5, reward_label="Free tea"),
)


def _purchase(ledger: MemberLedger, amount: str = "20.00") -> tuple[MemberLedger, str]:
    outcome = record_purchase(RULES, ledger, basket(amount), context())
    return outcome.posting.ledger, outcome.posting.transaction.transaction_id


def test_a_reversal_negates_exactly_every_entry_of_its_transaction() -> None:
    ledger, purchase_id = _purchase(new_ledger())
    original = ledger.transaction(purchase_id)

    reversal = reverse_transaction(ledger, purchase_id, context(note="wrong customer"))

    assert reversal.balances == Balances(points=0, cashback=Decimal("0.00"), stamps=0)
    assert reversal.transaction.reverses_transaction_id == purchase_id
    assert [e.reverses_entry_id for e in reversal.transaction.entries] == [
        e.entry_id for e in original.entries
    ]
    assert reversal.transaction.delta + original.delta == Balances()
    assert reversal.ledger.is_reversed(purchase_id)


def test_a_transaction_cannot_be_reversed_twice() -> None:
    ledger, purchase_id = _purchase(new_ledger())
    once = reverse_transaction(ledger, purchase_id, context()).ledger

    with pytest.raises(AlreadyReversed) as caught:
        reverse_transaction(once, purchase_id, context())

    assert caught.value.code == "already_reversed"
    assert caught.value.details == {"transaction_id": purchase_id}


def test_a_reversal_cannot_itself_be_reversed() -> None:
    ledger, purchase_id = _purchase(new_ledger())
    reversal = reverse_transaction(ledger, purchase_id, context())

    with pytest.raises(NotReversible):
        reverse_transaction(reversal.ledger, reversal.transaction.transaction_id, context())


def test_reversing_an_unknown_transaction_says_so() -> None:
    with pytest.raises(UnknownTransaction) as caught:
        reverse_transaction(new_ledger(), "nope", context())
    assert caught.value.code == "unknown_transaction"


def test_a_replayed_transaction_id_is_refused() -> None:
    ledger, purchase_id = _purchase(new_ledger())

    with pytest.raises(DuplicateTransaction) as caught:
        record_purchase(RULES, ledger, basket("5.00"), context(transaction_id=purchase_id))
    assert caught.value.code == "duplicate_transaction"


def test_no_balance_can_go_below_zero() -> None:
    ledger, _ = _purchase(new_ledger(), "20.00")

    with pytest.raises(InsufficientPoints):
        adjust_balances(ledger, context(note="typo"), points=-21)
    with pytest.raises(InsufficientCashback):
        adjust_balances(ledger, context(note="typo"), cashback=Decimal("-2.01"))
    with pytest.raises(InsufficientStamps):
        adjust_balances(ledger, context(note="typo"), stamps=-2)


def test_a_reversal_that_would_overdraw_a_spent_cashback_credit_is_refused() -> None:
    ledger, purchase_id = _purchase(new_ledger(), "20.00")
    spent = adjust_balances(ledger, context(note="paid coffee"), cashback=Decimal("-1.50")).ledger

    with pytest.raises(InsufficientCashback):
        reverse_transaction(spent, purchase_id, context())


def test_a_correction_needs_a_reason_and_a_change() -> None:
    with pytest.raises(ReasonRequired) as caught:
        adjust_balances(new_ledger(), context(), points=10)
    assert caught.value.code == "reason_required"
    with pytest.raises(InvalidAmount):
        adjust_balances(new_ledger(), context(note="nothing"))


def test_a_correction_can_move_every_balance_at_once() -> None:
    posting = adjust_balances(
        new_ledger(),
        context(note="migrated from paper card"),
        points=120,
        cashback=Decimal("3.20"),
        stamps=4,
    )

    assert posting.balances == Balances(points=120, cashback=Decimal("3.20"), stamps=4)
    assert [e.kind for e in posting.transaction.entries] == [EntryKind.ADJUST] * 3


def test_replaying_stored_history_rebuilds_the_same_balances_and_lots() -> None:
    ledger, purchase_id = _purchase(new_ledger(), "33.30")
    ledger = adjust_balances(ledger, context(timedelta(hours=1), note="gift"), points=10).ledger
    ledger = adjust_balances(ledger, context(timedelta(hours=2), note="spent"), points=-5).ledger
    ledger = reverse_transaction(ledger, purchase_id, context(timedelta(hours=3))).ledger

    replayed = MemberLedger("EUR", ledger.transactions)

    assert replayed.balances == ledger.balances
    assert replayed.balances.points == 5
    assert replayed.lots(include_spent=True) == ledger.lots(include_spent=True)


def _earn_transaction(transaction_id: str, points: int) -> LedgerTransaction:
    return LedgerTransaction(
        transaction_id=transaction_id,
        kind=TransactionKind.ADJUSTMENT,
        occurred_at=T0,
        entries=(LedgerEntry(f"{transaction_id}:0", EntryKind.ADJUST, points=points),),
    )


def test_the_ledger_refuses_draws_that_overdraw_or_name_unknown_lots() -> None:
    ledger = new_ledger().append(_earn_transaction("credit", 10))
    overdraw = LedgerTransaction(
        transaction_id="debit",
        kind=TransactionKind.REDEMPTION,
        occurred_at=T0,
        entries=(
            LedgerEntry("debit:0", EntryKind.REDEEM, points=-11, draws=(LotDraw("credit:0", 11),)),
        ),
    )
    unknown_lot = replace(
        overdraw,
        entries=(
            LedgerEntry("debit:0", EntryKind.REDEEM, points=-1, draws=(LotDraw("ghost:0", 1),)),
        ),
    )

    with pytest.raises(LedgerIntegrityError):
        ledger.append(overdraw)
    with pytest.raises(LedgerIntegrityError):
        ledger.append(unknown_lot)


@pytest.mark.parametrize(
    "build",
    [
        lambda: LedgerEntry("e:0", EntryKind.EARN, points=0),
        lambda: LedgerEntry("e:0", EntryKind.EARN, points=1, stamps=1),
        lambda: LedgerEntry("e:0", EntryKind.EARN, points=-1),
        lambda: LedgerEntry("e:0", EntryKind.REDEEM, points=5),
        lambda: LedgerEntry("e:0", EntryKind.EXPIRE, cashback=Decimal(-1)),
        lambda: LedgerEntry("e:0", EntryKind.REDEEM, points=-5),
        lambda: LedgerEntry("e:0", EntryKind.REDEEM, points=-5, draws=(LotDraw("l", 4),)),
        lambda: LedgerEntry("e:0", EntryKind.REVERSAL, points=5),
        lambda: LedgerEntry("e:0", EntryKind.EARN, points=5, draws=(LotDraw("l", 5),)),
        lambda: LedgerEntry(
            "e:0", EntryKind.EARN, points=5, lot_expires_at=T0.replace(tzinfo=None)
        ),
        lambda: LedgerTransaction("t", TransactionKind.PURCHASE, T0),
        lambda: LedgerTransaction(
            "t", TransactionKind.BONUS, T0, (LedgerEntry("e:0", EntryKind.EARN, points=1),)
        ),
        lambda: LedgerTransaction("t", TransactionKind.REVERSAL, T0),
    ],
)
def test_malformed_entries_and_transactions_are_refused_at_construction(build: object) -> None:
    with pytest.raises(LedgerIntegrityError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.code == "ledger_integrity_violation"


def test_a_hand_made_reversal_must_mirror_its_target_exactly() -> None:
    ledger = new_ledger().append(_earn_transaction("credit", 10))
    sloppy = LedgerTransaction(
        transaction_id="undo",
        kind=TransactionKind.REVERSAL,
        occurred_at=T0,
        reverses_transaction_id="credit",
        entries=(
            LedgerEntry(
                "undo:0",
                EntryKind.REVERSAL,
                points=-9,
                draws=(LotDraw("credit:0", 9),),
                reverses_entry_id="credit:0",
            ),
        ),
    )

    with pytest.raises(LedgerIntegrityError):
        ledger.append(sloppy)
