"""Expiry: lots die N months after earning, redemptions and expiry consume oldest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wallet_service.loyalty import (
    EntryKind,
    ExpiryRules,
    MemberLedger,
    adjust_balances,
    expire_due_points,
    points_expiring_soon,
    record_purchase,
    redeem_reward,
    reverse_transaction,
)
from wallet_service.loyalty.errors import InsufficientPoints, LedgerIntegrityError, NotReversible
from wallet_service.loyalty.expiry import add_months

from .factories import T0, basket, coffee_shop, context, minimal_rules, new_ledger

RULES = minimal_rules(expiry=ExpiryRules(months=12))
JANUARY = datetime(2025, 1, 15, 12, tzinfo=UTC)
MARCH = datetime(2025, 3, 15, 12, tzinfo=UTC)
MAY = datetime(2025, 5, 15, 12, tzinfo=UTC)


def _earn(ledger: MemberLedger, amount: str, at: datetime) -> MemberLedger:
    return record_purchase(RULES, ledger, basket(amount), context(at)).posting.ledger


def _three_lots() -> MemberLedger:
    return _earn(_earn(_earn(new_ledger(), "100.00", JANUARY), "50.00", MARCH), "30.00", MAY)


def test_adding_months_clamps_to_the_end_of_shorter_months() -> None:
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2025, 1, 31, tzinfo=UTC), 1) == datetime(2025, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2025, 11, 30, tzinfo=UTC), 3) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2024, 2, 29, tzinfo=UTC), 12) == datetime(2025, 2, 28, tzinfo=UTC)


def test_points_expire_exactly_n_months_after_they_were_earned() -> None:
    ledger = _earn(new_ledger(), "100.00", JANUARY)
    expiry = datetime(2026, 1, 15, 12, tzinfo=UTC)

    assert expire_due_points(ledger, context(expiry - timedelta(microseconds=1))) is None
    posting = expire_due_points(ledger, context(expiry))

    assert posting is not None
    assert posting.balances.points == 0
    [entry] = posting.transaction.entries
    assert entry.kind is EntryKind.EXPIRE and entry.points == -100


def test_only_the_lots_that_are_due_expire() -> None:
    posting = expire_due_points(_three_lots(), context(datetime(2026, 4, 1, tzinfo=UTC)))

    assert posting is not None
    assert [e.points for e in posting.transaction.entries] == [-100, -50]
    assert posting.balances.points == 30


def test_redemptions_consume_the_oldest_lots_first_so_fresh_points_survive() -> None:
    ledger = adjust_balances(
        _three_lots(), context(MAY + timedelta(days=1), note="voucher"), points=-120
    ).ledger

    assert [(lot.earned_at, lot.remaining_points) for lot in ledger.lots()] == [
        (MARCH, 30),
        (MAY, 30),
    ]
    posting = expire_due_points(ledger, context(datetime(2026, 4, 1, tzinfo=UTC)))
    assert posting is not None
    assert [e.points for e in posting.transaction.entries] == [-30]
    assert posting.balances.points == 30


def test_points_past_expiry_cannot_be_spent_before_the_expiry_job_runs() -> None:
    ledger = _earn(new_ledger(), "100.00", JANUARY)
    after_expiry = datetime(2026, 2, 1, tzinfo=UTC)

    assert ledger.balances.points == 100
    assert ledger.available_points(after_expiry) == 0
    with pytest.raises(InsufficientPoints):
        adjust_balances(ledger, context(after_expiry, note="spend"), points=-1)


def test_the_reminder_figure_is_what_expires_in_the_next_thirty_days() -> None:
    ledger = _three_lots()
    now = datetime(2026, 1, 1, tzinfo=UTC)

    forecast = points_expiring_soon(ledger, now)

    assert forecast.points == 100
    assert forecast.next_expiry == datetime(2026, 1, 15, 12, tzinfo=UTC)
    assert points_expiring_soon(ledger, now, days=90).points == 150
    assert points_expiring_soon(ledger, datetime(2026, 1, 15, 12, tzinfo=UTC)).points == 0


def test_programs_without_expiry_keep_points_forever() -> None:
    ledger = record_purchase(
        minimal_rules(), new_ledger(), basket("10.00"), context(JANUARY)
    ).posting.ledger

    assert ledger.lots()[0].expires_at is None
    assert expire_due_points(ledger, context(datetime(2099, 1, 1, tzinfo=UTC))) is None


def test_reversing_an_earn_takes_back_its_own_lot_before_older_ones() -> None:
    ledger = _earn(new_ledger(), "100.00", JANUARY)
    purchase = record_purchase(RULES, ledger, basket("40.00"), context(MARCH))

    reversal = reverse_transaction(
        purchase.posting.ledger, purchase.posting.transaction.transaction_id, context(MAY)
    )

    assert [(lot.earned_at, lot.remaining_points) for lot in reversal.ledger.lots()] == [
        (JANUARY, 100)
    ]


def test_reversing_a_partly_spent_earn_takes_the_rest_from_the_oldest_lots() -> None:
    ledger = _earn(new_ledger(), "100.00", JANUARY)
    purchase = record_purchase(RULES, ledger, basket("40.00"), context(MARCH))
    # Oldest first: the January lot is emptied, then 20 of March's 40.
    spent = adjust_balances(purchase.posting.ledger, context(MARCH, note="gift"), points=-120)
    purchase_id = purchase.posting.transaction.transaction_id

    with pytest.raises(InsufficientPoints):
        reverse_transaction(spent.ledger, purchase_id, context(MAY))
    topped_up = _earn(spent.ledger, "30.00", MAY)
    reversal = reverse_transaction(topped_up, purchase_id, context(MAY + timedelta(hours=1)))

    assert reversal.balances.points == 10
    assert [(lot.earned_at, lot.remaining_points) for lot in reversal.ledger.lots()] == [(MAY, 10)]


def test_an_expiry_cannot_be_reversed_and_cannot_take_live_points() -> None:
    ledger = _earn(new_ledger(), "100.00", JANUARY)
    expiry = expire_due_points(ledger, context(datetime(2026, 2, 1, tzinfo=UTC)))
    assert expiry is not None

    with pytest.raises(NotReversible) as caught:
        reverse_transaction(
            expiry.ledger,
            expiry.transaction.transaction_id,
            context(datetime(2026, 2, 2, tzinfo=UTC)),
        )
    assert caught.value.code == "not_reversible"

    early = expiry.transaction.__class__(
        transaction_id="early-expiry",
        kind=expiry.transaction.kind,
        occurred_at=MARCH,
        entries=expiry.transaction.entries,
    )
    with pytest.raises(LedgerIntegrityError):
        ledger.append(early)


def test_redeeming_a_reward_draws_from_the_oldest_lot() -> None:
    rules = coffee_shop()
    first = adjust_balances(new_ledger(), context(T0, note="a"), points=100, expiry=rules.expiry)
    second = adjust_balances(
        first.ledger, context(T0 + timedelta(days=1), note="b"), points=100, expiry=rules.expiry
    )

    redemption = redeem_reward(
        rules, second.ledger, "free-espresso", context(T0 + timedelta(days=2))
    )

    [entry] = redemption.posting.transaction.entries
    assert [(d.lot_entry_id, d.points) for d in entry.draws] == [
        (first.transaction.entries[0].entry_id, 100),
        (second.transaction.entries[0].entry_id, 50),
    ]
